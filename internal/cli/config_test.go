package cli

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/switchyard/switchyard/config"
)

// runRoot runs the switchyard command tree in-process with the config file
// in a temporary directory (never the developer's) and a clean environment.
func runRoot(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return runCmd(t, NewRoot(), args...)
}

// runCmd runs root with args, its output and errors in one buffer.
func runCmd(t *testing.T, root *cobra.Command, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

// isolateConfig points SWITCHYARD_CONFIG at a new temporary file and clears
// the environment variables that override contexts.
func isolateConfig(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "switchyard", "config.yaml")
	t.Setenv(config.EnvConfig, p)
	for _, k := range []string{"MARATHON_URL", "DCOS_URL", "DCOS_ACS_TOKEN", "DCOS_SSL_VERIFY", "MESOS_MASTER_URL", "KUBECONFIG",
		"SWITCHYARD_LB_ADMIN", "SWITCHYARD_LB_TOKEN_FILE", "SWITCHYARD_JOURNAL"} {
		t.Setenv(k, "")
	}
	return p
}

func TestConfigCmds(t *testing.T) {
	path := isolateConfig(t)
	tokenFile := filepath.Join(t.TempDir(), "dcos.token")
	steps := []struct {
		args    []string
		want    []string // substrings of the output
		wantErr string
	}{
		{args: []string{"config", "get-contexts"}, want: []string{"no contexts in " + path}},
		{args: []string{"config", "current-context"}, wantErr: "no current context in " + path},
		{args: []string{"config", "set-context", "prod", "--marathon-url", "https://dcos.example/service/marathon", "--marathon-token-file", tokenFile,
			"--marathon-ca-file", "/etc/ssl/dcos-ca.pem", "--mesos-url", "http://leader.mesos:5050", "--kubeconfig", "/k/config", "--kube-context", "prod-admin",
			"--namespace", "apps", "--lb-instance", "lb-1=https://10.0.0.5:8443,tokenFile=/etc/switchyard/lb.token,caFile=/etc/ssl/lb-ca.pem",
			"--lb-instance", "lb-2=https://10.0.0.6:8443", "--journal", "/var/lib/switchyard/journal.db"},
			want: []string{`created context "prod" in ` + path}},
		{args: []string{"config", "set-context", "staging", "--marathon-url", "http://m.staging:8080"}, want: []string{`created context "staging"`}},
		{args: []string{"config", "set-context", "bad", "--lb-instance", "x=notaurl"}, wantErr: "context bad: loadBalancer.instances[0].adminURL"},
		{args: []string{"config", "set-context", "bad", "--lb-instance", "nourl"}, wantErr: "want NAME=ADMIN_URL"},
		{args: []string{"config", "set-context", "bad", "--marathon-auth", "kerberos"}, wantErr: `--marathon-auth "kerberos"`},
		{args: []string{"config", "use-context", "nope"}, wantErr: `context "nope" not found (known contexts: prod, staging)`},
		{args: []string{"config", "use-context", "prod"}, want: []string{`switched to context "prod"`}},
		{args: []string{"config", "current-context"}, want: []string{"prod\n"}},
		{args: []string{"config", "get-contexts"}, want: []string{"CURRENT", "*        prod ", "https://dcos.example/service/marathon", "dcos-token", "prod-admin", "staging"}},
		{args: []string{"config", "get-contexts", "-o", "name"}, want: []string{"prod\nstaging\n"}},
		{args: []string{"config", "view"}, want: []string{"apiVersion: switchyard.io/v1", "kind: Config", "currentContext: prod", "tokenFile: " + tokenFile,
			"adminURL: https://10.0.0.5:8443", "context: prod-admin", "name: staging"}},
		{args: []string{"config", "view", "--minify", "-o", "json"}, want: []string{`"currentContext": "prod"`, `"loadBalancer"`}},
		{args: []string{"--context", "staging", "config", "view", "--minify"}, want: []string{"currentContext: staging", "url: http://m.staging:8080"}},
		// Changing the auth type clears the previous type's fields.
		{args: []string{"config", "set-context", "prod", "--marathon-auth", "basic", "--marathon-username", "ops", "--marathon-password-file", "/pw"},
			want: []string{`modified context "prod"`}},
		{args: []string{"config", "delete-context", "prod"}, want: []string{`deleted context "prod"`, "no context is current now"}},
		{args: []string{"config", "delete-context", "prod"}, wantErr: `context "prod" not found (known contexts: staging)`},
	}
	for _, s := range steps {
		out, err := runRoot(t, s.args...)
		if s.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), s.wantErr) {
				t.Fatalf("%v: error %v, want %q\n%s", s.args, err, s.wantErr, out)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%v: %v\n%s", s.args, err, out)
		}
		for _, w := range s.want {
			if !strings.Contains(out, w) {
				t.Errorf("%v: output lacks %q:\n%s", s.args, w, out)
			}
		}
		if strings.Contains(out, "s3cret") {
			t.Errorf("%v: output shows a secret", s.args)
		}
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("config file mode %v, %v; want 0600", st.Mode().Perm(), err)
	}
	if dst, _ := os.Stat(filepath.Dir(path)); dst.Mode().Perm() != 0o700 {
		t.Fatalf("config dir mode %v; want 0700", dst.Mode().Perm())
	}
}

func TestConfigSetContextUpdatesOnlyGivenFields(t *testing.T) {
	path := isolateConfig(t)
	mustRun := func(args ...string) {
		t.Helper()
		if out, err := runRoot(t, args...); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	mustRun("config", "set-context", "p", "--marathon-url", "https://d/service/marathon", "--marathon-uid", "sa", "--marathon-private-key-file", "key.pem",
		"--namespace", "apps", "--current")
	mustRun("config", "set-context", "p", "--mesos-url", "http://m:5050", "--namespace", "")
	f, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := f.Get("p")
	wd, _ := os.Getwd()
	want := config.Context{Name: "p",
		Marathon: config.Marathon{URL: "https://d/service/marathon", Auth: config.MarathonAuth{Type: config.AuthDCOSLogin, UID: "sa", PrivateKeyFile: filepath.Join(wd, "key.pem")}},
		Mesos:    config.Mesos{URL: "http://m:5050"}}
	if got, _ := json.Marshal(c); string(got) != string(must(json.Marshal(want))) || f.CurrentContext != "p" {
		t.Fatalf("context = %s (current %q)\nwant %s", got, f.CurrentContext, must(json.Marshal(want)))
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func TestConfigFlagNamesAnotherFile(t *testing.T) {
	isolateConfig(t)
	other := filepath.Join(t.TempDir(), "other.yaml")
	if out, err := runRoot(t, "--config", other, "config", "set-context", "x", "--mesos-url", "http://m:5050", "--current"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	out, err := runRoot(t, "config", "current-context", "--config", other)
	if err != nil || out != "x\n" {
		t.Fatalf("current-context --config = %q, %v", out, err)
	}
	if _, err := os.Stat(os.Getenv(config.EnvConfig)); err == nil {
		t.Fatal("--config wrote $SWITCHYARD_CONFIG too")
	}
}

// TestResolveContextCmd checks the helper other commands use: --context,
// the current context, and the command's own flags over the environment.
func TestResolveContextCmd(t *testing.T) {
	isolateConfig(t)
	for _, args := range [][]string{
		{"config", "set-context", "a", "--marathon-url", "http://a:8080", "--mesos-url", "http://a:5050", "--current"},
		{"config", "set-context", "b", "--marathon-url", "http://b:8080"},
	} {
		if out, err := runRoot(t, args...); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	var got config.Context
	run := func(args ...string) error {
		probe := &cobra.Command{Use: "probe", RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			got, err = resolveContext(cmd)
			return err
		}}
		probe.Flags().String("mesos-url", "", "")
		probe.Flags().String("journal", "", "")
		root := NewRoot()
		root.AddCommand(probe)
		root.SetArgs(args)
		root.SetOut(&bytes.Buffer{})
		return root.Execute()
	}
	if err := run("probe"); err != nil || got.Name != "a" || got.Marathon.URL != "http://a:8080" {
		t.Fatalf("current context: %+v, %v", got, err)
	}
	t.Setenv("MESOS_MASTER_URL", "http://env:5050")
	if err := run("probe", "--context", "b"); err != nil || got.Name != "b" || got.MesosURL() != "http://env:5050" {
		t.Fatalf("--context b with env: %+v, %v", got, err)
	}
	if err := run("probe", "--mesos-url", "http://flag:5050", "--journal", "/j.db"); err != nil || got.MesosURL() != "http://flag:5050" || got.JournalPath() != "/j.db" {
		t.Fatalf("flags: %+v, %v", got, err)
	}
	if err := run("probe", "--context", "zz"); err == nil || !strings.Contains(err.Error(), "known contexts: a, b") {
		t.Fatalf("unknown context: %v", err)
	}
}

// TestMarathonCmdUsesContext runs `switchyard marathon ping` against a
// Marathon that wants a token: the context's token file is sent, and
// $DCOS_ACS_TOKEN is not sent to the context's URL.
func TestMarathonCmdUsesContext(t *testing.T) {
	isolateConfig(t)
	var lastAuth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lastAuth = r.Header.Get("Authorization")
		if lastAuth != "token=ctx-token" {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"message":"Unauthorized"}`))
			return
		}
		w.Write([]byte("pong"))
	}))
	defer srv.Close()
	tok := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tok, []byte("ctx-token\n"), 0o600)
	if out, err := runRoot(t, "config", "set-context", "m", "--marathon-url", srv.URL, "--marathon-token-file", tok, "--current"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Setenv("DCOS_ACS_TOKEN", "env-token")
	out, err := runRoot(t, "marathon", "ping", "--timeout", "5s")
	if err != nil || !strings.Contains(out, "pong from "+srv.URL) {
		t.Fatalf("marathon ping with the context: %v\n%s", err, out)
	}
	if !strings.Contains(out, "warning: $DCOS_ACS_TOKEN is not sent to context m's Marathon") {
		t.Errorf("no warning about the ignored $DCOS_ACS_TOKEN:\n%s", out)
	}
	// With MARATHON_URL from the environment, the env token goes to the env URL.
	t.Setenv("MARATHON_URL", srv.URL)
	if _, err := runRoot(t, "marathon", "ping", "--timeout", "5s"); err == nil || lastAuth != "token=env-token" {
		t.Fatalf("marathon ping with MARATHON_URL: err %v, sent %q; want the env token refused", err, lastAuth)
	}
}

// TestRootFlagsDoNotBreakSubcommands checks that the global --context and
// --config flags coexist with sub-commands that define flags of those names.
func TestRootFlagsDoNotBreakSubcommands(t *testing.T) {
	isolateConfig(t)
	for _, args := range [][]string{{"deploy", "--help"}, {"lab", "up", "--help"}, {"marathon", "apps", "--help"}} {
		if out, err := runRoot(t, args...); err != nil {
			t.Errorf("%v: %v\n%s", args, err, out)
		}
	}
}

// TestMarathonCmdDoesNotSendEnvTokenToURLFlag runs `switchyard marathon ping
// --url` against a server that records the Authorization header:
// $DCOS_ACS_TOKEN belongs to $MARATHON_URL (or $DCOS_URL) and must never
// reach a host named by --url, whether or not $MARATHON_URL is set.
func TestMarathonCmdDoesNotSendEnvTokenToURLFlag(t *testing.T) {
	record := func(got *[]string) *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			*got = append(*got, r.Header.Get("Authorization"))
			w.Write([]byte("pong"))
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	var envAuth, flagAuth []string
	envSrv, flagSrv := record(&envAuth), record(&flagAuth)
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string // Authorization the --url server must see
	}{
		{"MARATHON_URL set", map[string]string{"MARATHON_URL": envSrv.URL}, nil, ""},
		{"DCOS_URL set", map[string]string{"DCOS_URL": envSrv.URL}, nil, ""},
		{"no env URL", nil, nil, ""},
		{"--token", map[string]string{"MARATHON_URL": envSrv.URL}, []string{"--token", "flag-token"}, "token=flag-token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolateConfig(t)
			t.Setenv("DCOS_ACS_TOKEN", "env-token")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			envAuth, flagAuth = nil, nil
			out, err := runRoot(t, append([]string{"marathon", "ping", "--timeout", "5s", "--url", flagSrv.URL}, tt.args...)...)
			if err != nil || !strings.Contains(out, "pong from "+flagSrv.URL) {
				t.Fatalf("marathon ping --url: %v\n%s", err, out)
			}
			if len(flagAuth) == 0 || len(envAuth) != 0 {
				t.Fatalf("requests: --url server %d, env server %d; want them all at --url", len(flagAuth), len(envAuth))
			}
			for _, a := range flagAuth {
				if a != tt.want {
					t.Errorf("the --url server got Authorization %q, want %q", a, tt.want)
				}
			}
			if strings.Contains(out, "env-token") {
				t.Errorf("the output shows the env token:\n%s", out)
			}
			if tt.want == "" && !strings.Contains(out, "warning: $DCOS_ACS_TOKEN is not sent to the Marathon URL given on the command line") {
				t.Errorf("no warning about the withheld $DCOS_ACS_TOKEN:\n%s", out)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		o    commandOptions
		want string // "" when valid
	}{
		{"view yaml", &configViewOptions{output: "yaml"}, ""},
		{"view json", &configViewOptions{output: "json", minify: true}, ""},
		{"view table", &configViewOptions{output: "table"}, "-o table: use yaml or json"},
		{"set-context", &setContextOptions{marathonAuth: config.AuthDCOSToken,
			lbInstances: []string{"lb-1=https://10.0.0.5:8443,tokenFile=/t,caFile=/c", "lb-2=http://127.0.0.1:8001"}}, ""},
		{"set-context auth none", &setContextOptions{marathonAuth: config.AuthNone}, ""},
		{"set-context bad auth", &setContextOptions{marathonAuth: "oauth"}, `--marathon-auth "oauth": use dcos-token`},
		{"set-context lb without URL", &setContextOptions{lbInstances: []string{"lb-1"}}, `--lb-instance "lb-1": want NAME=ADMIN_URL`},
		{"set-context lb unknown key", &setContextOptions{lbInstances: []string{"lb-1=http://x,token=/t"}}, `unknown key "token"`},
		{"set-context bad auth first", &setContextOptions{marathonAuth: "oauth", lbInstances: []string{"lb-1"}}, "--marathon-auth"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkValidate(t, tt.o.Validate(), tt.want)
		})
	}
}
