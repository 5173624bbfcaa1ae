package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/internal/wanterr"
)

func writeSample(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(sample), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestResolveContextPrecedence(t *testing.T) {
	file := writeSample(t)
	type want struct {
		name, marathonURL, token, tokenFile, caFile string
		insecure                                    bool
		mesos, kubeconfig, kubeContext, namespace   string
		lbs                                         []LBInstance
		journal                                     string
	}
	prodLBs := []LBInstance{
		{Name: "lb-1", AdminURL: "https://10.0.0.5:8443", TokenFile: "/etc/switchyard/lb.token", CAFile: "/etc/ssl/lb-ca.pem"},
		{Name: "lb-2", AdminURL: "https://10.0.0.6:8443", TokenFile: "/etc/switchyard/lb.token"},
	}
	prod := want{name: "prod", marathonURL: "https://dcos.example/service/marathon", tokenFile: "/etc/switchyard/dcos.token",
		caFile: "/etc/ssl/dcos-ca.pem", mesos: "http://leader.mesos:5050", kubeconfig: "/home/u/.kube/config",
		kubeContext: "prod-admin", namespace: "apps", lbs: prodLBs, journal: "/var/lib/switchyard/journal.db"}
	tests := []struct {
		name    string
		file    string
		context string
		env     map[string]string
		o       Overrides
		want    func(w want) want
	}{
		{name: "current context", file: file, want: func(w want) want { return w }},
		{name: "--context", file: file, context: "staging", want: func(want) want {
			return want{name: "staging", marathonURL: "http://marathon.staging:8080", namespace: "default",
				journal: "/home/u/.local/state/switchyard/staging/journal.db"}
		}},
		{name: "env overrides context", file: file,
			env: map[string]string{"MARATHON_URL": "http://m.env:8080", "DCOS_ACS_TOKEN": "envtok", "MESOS_MASTER_URL": "http://mesos.env:5050",
				"KUBECONFIG": "/env/kubeconfig", "SWITCHYARD_LB_ADMIN": "http://lb.env:8001, http://lb2.env:8001", "SWITCHYARD_LB_TOKEN_FILE": "/env/lb.token",
				"SWITCHYARD_JOURNAL": "/env/j.db"},
			want: func(w want) want {
				// The context's Marathon credentials and CA do not follow an env URL; the env token does.
				w.marathonURL, w.token, w.tokenFile, w.caFile = "http://m.env:8080", "envtok", "", ""
				w.mesos, w.kubeconfig, w.kubeContext = "http://mesos.env:5050", "/env/kubeconfig", ""
				w.lbs = []LBInstance{{Name: "lb-1", AdminURL: "http://lb.env:8001", TokenFile: "/env/lb.token"}, {Name: "lb-2", AdminURL: "http://lb2.env:8001", TokenFile: "/env/lb.token"}}
				w.journal = "/env/j.db"
				return w
			}},
		{name: "env token is not sent to the context's URL", file: file,
			env:  map[string]string{"DCOS_ACS_TOKEN": "envtok", "SWITCHYARD_LB_TOKEN_FILE": "/env/lb.token"},
			want: func(w want) want { return w }},
		{name: "DCOS_URL", file: file, env: map[string]string{"DCOS_URL": "https://other.dcos/", "DCOS_SSL_VERIFY": "false"},
			want: func(w want) want {
				w.marathonURL, w.tokenFile, w.caFile, w.insecure = "https://other.dcos/service/marathon", "", "", true
				return w
			}},
		{name: "flags override env and context", file: file,
			env: map[string]string{"MARATHON_URL": "http://m.env:8080", "MESOS_MASTER_URL": "http://mesos.env:5050", "KUBECONFIG": "/env/kc",
				"SWITCHYARD_LB_ADMIN": "http://lb.env:8001", "SWITCHYARD_JOURNAL": "/env/j.db"},
			o: Overrides{MarathonURL: "http://m.flag:8080", MarathonToken: "flagtok", MarathonCAFile: "/flag/ca.pem", MesosURL: "http://mesos.flag:5050",
				Kubeconfig: "~/flag.kubeconfig", KubeContext: "kc", Namespace: "ns", LBAdmin: []string{"http://lb.flag:1"}, LBTokenFile: "/flag/lb.token", Journal: "/flag/j.db"},
			want: func(w want) want {
				w.marathonURL, w.token, w.tokenFile, w.caFile = "http://m.flag:8080", "flagtok", "", "/flag/ca.pem"
				w.mesos, w.kubeconfig, w.kubeContext, w.namespace = "http://mesos.flag:5050", "/home/u/flag.kubeconfig", "kc", "ns"
				w.lbs = []LBInstance{{Name: "lb-1", AdminURL: "http://lb.flag:1", TokenFile: "/flag/lb.token"}}
				w.journal = "/flag/j.db"
				return w
			}},
		{name: "flag token file applies to the context's URL", file: file, o: Overrides{MarathonTokenFile: "/other.token", MarathonInsecure: true},
			want: func(w want) want {
				w.tokenFile, w.insecure = "/other.token", true
				return w
			}},
		{name: "no file: env alone", file: filepath.Join(t.TempDir(), "none.yaml"),
			env: map[string]string{"MARATHON_URL": "http://m.env:8080", "DCOS_ACS_TOKEN": "t"},
			want: func(want) want {
				return want{marathonURL: "http://m.env:8080", token: "t", namespace: "default", journal: "/home/u/.local/state/switchyard/default/journal.db"}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"HOME": "/home/u"}
			for k, v := range tt.env {
				env[k] = v
			}
			c, err := Resolve(tt.file, tt.context, func(k string) string { return env[k] }, tt.o)
			if err != nil {
				t.Fatal(err)
			}
			w := tt.want(prod)
			got := want{name: c.Name, marathonURL: c.Marathon.URL, token: c.Marathon.Auth.Token, tokenFile: c.Marathon.Auth.TokenFile,
				caFile: c.Marathon.CAFile, insecure: c.Marathon.InsecureSkipVerify, mesos: c.MesosURL(), kubeconfig: c.KubeconfigPath(),
				kubeContext: c.KubeContext(), namespace: c.Namespace(), lbs: c.LBInstances(), journal: c.JournalPath()}
			if !reflect.DeepEqual(got, w) {
				t.Errorf("Resolve =\n%+v\nwant\n%+v", got, w)
			}
		})
	}
}

func TestResolveUnknownContext(t *testing.T) {
	file := writeSample(t)
	_, err := Resolve(file, "dev", func(k string) string { return "" }, Overrides{})
	var uc *UnknownContextError
	if !errors.As(err, &uc) {
		t.Fatalf("Resolve(dev) = %v, want an UnknownContextError", err)
	}
	wanterr.Check(t, err, file, `context "dev" not found`, "known contexts: prod, staging", "switchyard config set-context dev")
	_, err = Resolve(filepath.Join(t.TempDir(), "none.yaml"), "dev", func(string) string { return "" }, Overrides{})
	if err == nil || !strings.Contains(err.Error(), "the file has no contexts") {
		t.Errorf("Resolve(dev) without a file = %v", err)
	}
}

func TestResolveWarnsAboutIgnoredEnv(t *testing.T) {
	env := map[string]string{"DCOS_ACS_TOKEN": "t", "SWITCHYARD_LB_TOKEN_FILE": "/lb.token"}
	c, err := Resolve(writeSample(t), "", func(k string) string { return env[k] }, Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 2 || !strings.Contains(c.Warnings[0], "$DCOS_ACS_TOKEN is not sent to context prod's Marathon") ||
		!strings.Contains(c.Warnings[1], "$SWITCHYARD_LB_TOKEN_FILE is not applied to context prod's load-balancer instances") {
		t.Fatalf("warnings = %q", c.Warnings)
	}
	env["MARATHON_URL"], env["SWITCHYARD_LB_ADMIN"] = "http://m:8080", "http://lb:8001"
	if c, _ := Resolve(writeSample(t), "", func(k string) string { return env[k] }, Overrides{}); len(c.Warnings) != 0 {
		t.Fatalf("warnings with MARATHON_URL and SWITCHYARD_LB_ADMIN = %q", c.Warnings)
	}
}

func TestResolveDefaultFile(t *testing.T) {
	file := writeSample(t)
	c, err := Resolve("", "", func(k string) string {
		if k == EnvConfig {
			return file
		}
		return ""
	}, Overrides{})
	if err != nil || c.Name != "prod" {
		t.Fatalf("Resolve via $SWITCHYARD_CONFIG = %q, %v", c.Name, err)
	}
}

func TestResolveInvalidOverride(t *testing.T) {
	_, err := Resolve(writeSample(t), "", func(string) string { return "" }, Overrides{LBAdmin: []string{"not a url"}})
	if err == nil || !strings.Contains(err.Error(), "loadBalancer.instances[0].adminURL") {
		t.Fatalf("Resolve with a bad --lb-admin = %v", err)
	}
}

// TestResolveEnvTokenNotSentToFlagURL: $DCOS_ACS_TOKEN belongs to the
// environment's Marathon ($MARATHON_URL, $DCOS_URL); a URL named by a flag
// may be any host and must not get it (a token flag still applies).
func TestResolveEnvTokenNotSentToFlagURL(t *testing.T) {
	file := writeSample(t)
	tests := []struct {
		name      string
		env       map[string]string
		o         Overrides
		wantToken string
		warning   string
	}{
		{name: "flag URL, env URL and token", env: map[string]string{"MARATHON_URL": "http://m.env:8080", "DCOS_ACS_TOKEN": "envtok"},
			o: Overrides{MarathonURL: "http://evil.example:8080"}, warning: "$DCOS_ACS_TOKEN is not sent to the Marathon URL given on the command line (http://evil.example:8080)"},
		{name: "flag URL, DCOS_URL and token", env: map[string]string{"DCOS_URL": "https://dcos.env", "DCOS_ACS_TOKEN": "envtok"},
			o: Overrides{MarathonURL: "http://evil.example:8080"}, warning: "is not sent to the Marathon URL given on the command line"},
		{name: "flag URL with userinfo, token only in env", env: map[string]string{"DCOS_ACS_TOKEN": "envtok"},
			o: Overrides{MarathonURL: "http://u:hunter2@evil.example:8080"}, warning: "(http://u:xxxxx@evil.example:8080)"},
		{name: "flag URL and flag token", env: map[string]string{"DCOS_ACS_TOKEN": "envtok"},
			o: Overrides{MarathonURL: "http://m.flag:8080", MarathonToken: "flagtok"}, wantToken: "flagtok"},
		{name: "env URL keeps the env token", env: map[string]string{"MARATHON_URL": "http://m.env:8080", "DCOS_ACS_TOKEN": "envtok"}, wantToken: "envtok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"HOME": "/home/u"}
			for k, v := range tt.env {
				env[k] = v
			}
			c, err := Resolve(file, "", func(k string) string { return env[k] }, tt.o)
			if err != nil {
				t.Fatal(err)
			}
			if c.Marathon.Auth.Token != tt.wantToken || c.Marathon.Auth.TokenFile != "" {
				t.Errorf("Marathon %s gets token %q (file %q), want %q", c.Marathon.URL, c.Marathon.Auth.Token, c.Marathon.Auth.TokenFile, tt.wantToken)
			}
			ws := strings.Join(c.Warnings, "\n")
			if tt.warning == "" && ws != "" || !strings.Contains(ws, tt.warning) {
				t.Errorf("warnings = %q, want one containing %q", c.Warnings, tt.warning)
			}
			if strings.Contains(ws, "hunter2") || strings.Contains(ws, "envtok") {
				t.Errorf("a warning shows a secret: %q", c.Warnings)
			}
		})
	}
}

// TestResolveEtcdJournal: an etcd journal keeps its section (files
// expanded, prefix defaulted) and has no path; a journal file from a flag
// or the environment replaces it, with a warning.
func TestResolveEtcdJournal(t *testing.T) {
	p := filepath.Join(t.TempDir(), "config.yaml")
	data := "contexts:\n- name: ha\n  journal: {type: etcd, endpoints: ['https://10.0.0.7:2379'], caFile: ~/etcd/ca.pem, certFile: ~/etcd/c.pem, keyFile: ~/etcd/k.pem}\n" +
		"- name: named\n  journal: {type: etcd, endpoints: ['https://10.0.0.7:2379'], prefix: /switchyard/prod}\n"
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	etcd := Journal{Type: JournalEtcd, Endpoints: []string{"https://10.0.0.7:2379"}, Prefix: "/switchyard/ha",
		CAFile: "/home/u/etcd/ca.pem", CertFile: "/home/u/etcd/c.pem", KeyFile: "/home/u/etcd/k.pem"}
	tests := []struct {
		name, context string
		env           map[string]string
		o             Overrides
		want          Journal
		warning       string
	}{
		{name: "etcd, default prefix", context: "ha", want: etcd},
		{name: "etcd, its prefix", context: "named", want: Journal{Type: JournalEtcd, Endpoints: []string{"https://10.0.0.7:2379"}, Prefix: "/switchyard/prod"}},
		{name: "--journal replaces it", context: "ha", o: Overrides{Journal: "~/j.db"}, want: Journal{Path: "/home/u/j.db"},
			warning: "replaces context ha's etcd journal: this process is not fenced by the election of the replicas sharing /switchyard/ha"},
		{name: "$SWITCHYARD_JOURNAL replaces it", context: "named", env: map[string]string{EnvJournal: "/env/j.db"}, want: Journal{Path: "/env/j.db"},
			warning: "sharing /switchyard/prod"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := func(k string) string {
				if k == "HOME" {
					return "/home/u"
				}
				return tt.env[k]
			}
			c, err := Resolve(p, tt.context, env, tt.o)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.Journal, tt.want) {
				t.Fatalf("journal %+v, want %+v", c.Journal, tt.want)
			}
			if (tt.want.Type == JournalEtcd) != (c.JournalType() == JournalEtcd) || (c.JournalPath() == "") != (tt.want.Type == JournalEtcd) {
				t.Fatalf("JournalType %q, JournalPath %q", c.JournalType(), c.JournalPath())
			}
			if got := strings.Join(c.Warnings, "\n"); !strings.Contains(got, tt.warning) || (tt.warning == "") != (got == "") {
				t.Fatalf("warnings %q, want %q", got, tt.warning)
			}
		})
	}
}
