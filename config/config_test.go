package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const sample = `apiVersion: switchyard.io/v1
kind: Config
currentContext: prod
contexts:
- name: prod
  marathon:
    url: https://dcos.example/service/marathon
    caFile: /etc/ssl/dcos-ca.pem
    auth: {type: dcos-token, tokenFile: /etc/switchyard/dcos.token}
  mesos: {url: "http://leader.mesos:5050"}
  kubernetes: {kubeconfig: ~/.kube/config, context: prod-admin, namespace: apps}
  loadBalancer:
    instances:
    - {name: lb-1, adminURL: "https://10.0.0.5:8443", tokenFile: /etc/switchyard/lb.token, caFile: /etc/ssl/lb-ca.pem}
    - {name: lb-2, adminURL: "https://10.0.0.6:8443", tokenFile: /etc/switchyard/lb.token}
  journal: {path: /var/lib/switchyard/journal.db}
- name: staging
  marathon: {url: "http://marathon.staging:8080"}
`

func TestConfigParse(t *testing.T) {
	tests := []struct {
		name, in string
		want     string // substring of the error; "" = valid
	}{
		{"sample", sample, ""},
		{"empty", "", ""},
		{"unknown field", "apiVersion: switchyard.io/v1\nkind: Config\ncontexts:\n- name: a\n  marathon: {url: http://m:8080, tokn: x}\n", `unknown field "tokn"`},
		{"unknown top field", "apiVersion: switchyard.io/v1\nkind: Config\ncurrent-context: a\n", `unknown field "current-context"`},
		{"duplicate key", "kind: Config\nkind: Config\n", `key "kind" already set`},
		{"wrong apiVersion", "apiVersion: v1\nkind: Config\n", "apiVersion: \"v1\": want switchyard.io/v1"},
		{"wrong kind", "apiVersion: switchyard.io/v1\nkind: Pod\n", "kind: \"Pod\""},
		{"current unknown", "currentContext: x\ncontexts: [{name: a}]\n", `currentContext: "x" names no context (known: a)`},
		{"duplicate name", "contexts: [{name: a}, {name: a}]\n", `contexts[1].name: "a" is used twice`},
		{"bad name", "contexts: [{name: 'a b'}]\n", `context "a b": name:`},
		{"bad lb url", "contexts:\n- name: prod\n  loadBalancer: {instances: [{name: a, adminURL: 'http://x:1'}, {name: b, adminURL: '10.0.0.5:8443'}]}\n",
			"context prod: loadBalancer.instances[1].adminURL: "},
		{"lb no url", "contexts:\n- name: prod\n  loadBalancer: {instances: [{name: a}]}\n", "context prod: loadBalancer.instances[0].adminURL: must not be empty"},
		{"lb dup name", "contexts:\n- name: prod\n  loadBalancer: {instances: [{name: a, adminURL: 'http://x:1'}, {name: a, adminURL: 'http://y:1'}]}\n",
			`context prod: loadBalancer.instances[1].name: "a" is used twice`},
		{"bad marathon url", "contexts: [{name: p, marathon: {url: 'ftp://x'}}]\n", "context p: marathon.url: "},
		{"bad auth type", "contexts: [{name: p, marathon: {url: 'http://x:1', auth: {type: oauth}}}]\n", `context p: marathon.auth.type: "oauth"`},
		{"token without file", "contexts: [{name: p, marathon: {url: 'http://x:1', auth: {type: dcos-token}}}]\n", "context p: marathon.auth.tokenFile: required"},
		{"basic without password", "contexts: [{name: p, marathon: {url: 'http://x:1', auth: {type: basic, username: u}}}]\n", "context p: marathon.auth.passwordFile: required"},
		{"fields of another type", "contexts: [{name: p, marathon: {url: 'http://x:1', auth: {tokenFile: /t}}}]\n", "context p: marathon.auth: tokenFile: not used with type none"},
		{"login no url derivable", "contexts: [{name: p, marathon: {url: 'http://x:1', auth: {type: dcos-login, uid: u, privateKeyFile: /k}}}]\n", "context p: marathon.auth.loginURL: required"},
		{"login ok", "contexts: [{name: p, marathon: {url: 'https://d/service/marathon', auth: {type: dcos-login, uid: u, privateKeyFile: /k}}}]\n", ""},
		{"bad namespace", "contexts: [{name: p, kubernetes: {namespace: Apps}}]\n", "context p: kubernetes.namespace:"},
		{"relative lab dir", "contexts: [{name: p, lab: {dir: .lab}}]\n", "context p: lab.dir:"},
		{"etcd journal", "contexts: [{name: p, journal: {type: etcd, endpoints: ['https://10.0.0.7:2379', 'https://10.0.0.8:2379'], prefix: /switchyard/p, caFile: /ca, certFile: /c, keyFile: /k}}]\n", ""},
		{"etcd journal over http", "contexts: [{name: p, journal: {type: etcd, endpoints: ['http://127.0.0.1:2379']}}]\n", ""},
		{"bad journal type", "contexts: [{name: p, journal: {type: raft}}]\n", `context p: journal.type: "raft": use bbolt`},
		{"etcd fields on bbolt", "contexts: [{name: p, journal: {path: /j.db, endpoints: ['https://e:2379'], prefix: /x}}]\n", "context p: journal: endpoints, prefix: only used with type etcd"},
		{"etcd without endpoints", "contexts: [{name: p, journal: {type: etcd}}]\n", "context p: journal.endpoints: required with type etcd"},
		{"etcd bad endpoint", "contexts: [{name: p, journal: {type: etcd, endpoints: ['https://e:2379', '10.0.0.7:2379']}}]\n", "context p: journal.endpoints[1]: "},
		{"etcd mixed schemes", "contexts: [{name: p, journal: {type: etcd, endpoints: ['https://e:2379', 'http://f:2379']}}]\n", "context p: journal.endpoints: mix http and https"},
		{"etcd with path", "contexts: [{name: p, journal: {type: etcd, endpoints: ['https://e:2379'], path: /j.db}}]\n", "context p: journal.path: not used with type etcd"},
		{"etcd bad prefix", "contexts: [{name: p, journal: {type: etcd, endpoints: ['https://e:2379'], prefix: switchyard/}}]\n", `context p: journal.prefix: "switchyard/"`},
		{"etcd cert without key", "contexts: [{name: p, journal: {type: etcd, endpoints: ['https://e:2379'], certFile: /c}}]\n", "context p: journal: certFile and keyFile go together"},
		{"server", "contexts: [{name: p, server: {url: 'https://sy.example:8443', tokenFile: /t, caFile: /ca}}]\n", ""},
		{"server over loopback http", "contexts: [{name: p, server: {url: 'http://127.0.0.1:8443', tokenFile: /t}}]\n", ""},
		{"server over http", "contexts: [{name: p, server: {url: 'http://sy.example:8443', tokenFile: /t}}]\n", "context p: server.url: \"http://sy.example:8443\": http would send the token in the clear"},
		{"server without token", "contexts: [{name: p, server: {url: 'https://sy.example:8443'}}]\n", "context p: server.tokenFile: required"},
		{"server with path", "contexts: [{name: p, server: {url: 'https://sy.example/api/v1', tokenFile: /t}}]\n", "context p: server.url: \"https://sy.example/api/v1\": give the base URL only"},
		{"server token without url", "contexts: [{name: p, server: {tokenFile: /t}}]\n", "context p: server.url: required"},
		{"etcd TLS files over http", "contexts: [{name: p, journal: {type: etcd, endpoints: ['http://e:2379'], caFile: /ca}}]\n", "context p: journal: caFile, certFile and keyFile need https"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestConfigLoadNamesFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(p, []byte("contexts: [{name: a, bogus: 1}]\n"), 0o600)
	_, err := Load(p)
	if err == nil || !strings.Contains(err.Error(), "config "+p+":") || !strings.Contains(err.Error(), `"bogus"`) {
		t.Fatalf("Load error = %v, want it to name the file and the field", err)
	}
	f, err := Load(filepath.Join(t.TempDir(), "missing.yaml"))
	if err != nil || len(f.Contexts) != 0 {
		t.Fatalf("Load(missing) = %+v, %v; want an empty config", f, err)
	}
}

func TestConfigSaveRoundTripAndModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "switchyard")
	p := filepath.Join(dir, "config.yaml")
	f, err := Parse([]byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Save(p); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("file mode = %v, %v; want 0600", st.Mode().Perm(), err)
	}
	dst, err := os.Stat(dir)
	if err != nil || dst.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode = %v, %v; want 0700", dst.Mode().Perm(), err)
	}
	g, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f, g) {
		t.Fatalf("round trip changed the file:\n%+v\n%+v", f, g)
	}
	b, _ := os.ReadFile(p)
	for _, k := range []string{"apiVersion: switchyard.io/v1", "currentContext: prod", "adminURL: https://10.0.0.5:8443", "tokenFile: /etc/switchyard/dcos.token"} {
		if !strings.Contains(string(b), k) {
			t.Errorf("saved file lacks %q:\n%s", k, b)
		}
	}
	if strings.Contains(string(b), "mesos: {}") || strings.Contains(string(b), "lab:") {
		t.Errorf("saved file shows empty sections:\n%s", b)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("Save left files behind: %v", ents)
	}
	// An invalid file is not saved.
	f.CurrentContext = "nope"
	if err := f.Save(p); err == nil {
		t.Fatal("Save of an invalid config succeeded")
	}
}

func TestConfigSetUseDelete(t *testing.T) {
	f := New()
	f.Set(Context{Name: "a"})
	f.Set(Context{Name: "b"})
	f.Set(Context{Name: "a", Mesos: Mesos{URL: "http://m:5050"}})
	if got := f.Names(); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Fatalf("Names = %v", got)
	}
	if c, _ := f.Get("a"); c.Mesos.URL != "http://m:5050" {
		t.Fatalf("Set did not replace a: %+v", c)
	}
	if err := f.Use("b"); err != nil || f.CurrentContext != "b" {
		t.Fatalf("Use(b) = %v, current %q", err, f.CurrentContext)
	}
	err := f.Use("c")
	var uc *UnknownContextError
	if !errors.As(err, &uc) || !strings.Contains(err.Error(), "known contexts: a, b") || !strings.Contains(err.Error(), "switchyard config set-context c") {
		t.Fatalf("Use(c) = %v", err)
	}
	if err := f.Delete("b"); err != nil || f.CurrentContext != "" || len(f.Contexts) != 1 {
		t.Fatalf("Delete(b) = %v; current %q, %d contexts", err, f.CurrentContext, len(f.Contexts))
	}
	if err := f.Delete("b"); err == nil {
		t.Fatal("Delete of a missing context succeeded")
	}
}

func TestConfigUpdate(t *testing.T) {
	p := filepath.Join(t.TempDir(), "config.yaml")
	for _, n := range []string{"x", "y"} {
		if err := Update(p, func(f *File) error { f.Set(Context{Name: n}); return f.Use(n) }); err != nil {
			t.Fatal(err)
		}
	}
	f, err := Load(p)
	if err != nil || f.CurrentContext != "y" || len(f.Contexts) != 2 {
		t.Fatalf("after two updates: %+v, %v", f, err)
	}
}

func TestConfigPath(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"HOME": "/home/u"}, "/home/u/.config/switchyard/config.yaml"},
		{map[string]string{"HOME": "/home/u", "XDG_CONFIG_HOME": "/x"}, "/x/switchyard/config.yaml"},
		{map[string]string{"HOME": "/home/u", "SWITCHYARD_CONFIG": "/tmp/c.yaml"}, "/tmp/c.yaml"},
	}
	for _, tt := range tests {
		got, err := Path(func(k string) string { return tt.env[k] })
		if err != nil || got != tt.want {
			t.Errorf("Path(%v) = %q, %v; want %q", tt.env, got, err, tt.want)
		}
	}
	if _, err := Path(func(string) string { return "" }); err == nil {
		t.Error("Path with no HOME succeeded")
	}
}

func TestConfigSaveFollowsSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "dotfiles", "switchyard.yaml")
	os.MkdirAll(filepath.Dir(target), 0o700)
	os.WriteFile(target, []byte("contexts: []\n"), 0o600)
	link := filepath.Join(dir, "config.yaml")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := Update(link, func(f *File) error { f.Set(Context{Name: "a"}); return nil }); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link was replaced: %v %v", fi.Mode(), err)
	}
	if f, err := Load(target); err != nil || len(f.Contexts) != 1 {
		t.Fatalf("target: %+v, %v", f, err)
	}
}

func TestConfigMarshalQuotesAmbiguousStrings(t *testing.T) {
	f := New()
	for _, n := range []string{"y", "n", "on", "off", "yes", "true", "null", "1", "0x1f", "1e3", "~", "a#b", "a: b"} {
		f.Set(Context{Name: "ctx", Kubernetes: Kubernetes{Context: n, Kubeconfig: "/k/" + n}})
		b, err := f.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		g, err := Parse(b)
		if err != nil {
			t.Fatalf("%q: %v\n%s", n, err, b)
		}
		if c, _ := g.Get("ctx"); c.Kubernetes.Context != n {
			t.Errorf("%q read back as %q:\n%s", n, c.Kubernetes.Context, b)
		}
	}
	b, _ := New().Marshal()
	if want := "apiVersion: switchyard.io/v1\nkind: Config\ncontexts: []\n"; string(b) != want {
		t.Errorf("empty file = %q, want %q", b, want)
	}
}
