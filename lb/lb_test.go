package lb_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/internal/wanterr"
	"github.com/switchyard/switchyard/lb"
)

func validOptions() lb.Options {
	return lb.Options{
		AdminListen:    "127.0.0.1:8001",
		AdminTokenFile: "/etc/nginx/switchyard/admin.token",
		StateDir:       "/var/lib/switchyard",
		BackendsCIDRs:  []string{"10.244.0.0/16"},
		ModuleDir:      "/etc/nginx/switchyard",
	}
}

func TestRenderRefusesBadOptions(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*lb.Options)
		want   []string // every one in the error
	}{
		{"no admin listen", func(o *lb.Options) { o.AdminListen = "" }, []string{"--admin-listen: required"}},
		{"admin listen without port", func(o *lb.Options) { o.AdminListen = "127.0.0.1" }, []string{"--admin-listen", "IP:port"}},
		{"admin listen a name", func(o *lb.Options) { o.AdminListen = "localhost:8001" }, []string{"--admin-listen"}},
		{"admin listen port 0", func(o *lb.Options) { o.AdminListen = "127.0.0.1:0" }, []string{"--admin-listen"}},
		{"admin listen injection", func(o *lb.Options) { o.AdminListen = "127.0.0.1:80; include /etc/passwd" }, []string{"--admin-listen"}},
		{"admin listen relative unix", func(o *lb.Options) { o.AdminListen = "unix:admin.sock" }, []string{"--admin-listen"}},
		{"relative token file", func(o *lb.Options) { o.AdminTokenFile = "admin.token" }, []string{"--admin-token-file", "absolute"}},
		{"no token file", func(o *lb.Options) { o.AdminTokenFile = "" }, []string{"--admin-token-file: required"}},
		{"quote in state dir", func(o *lb.Options) { o.StateDir = `/var/lib/x"; error_log /tmp/x` }, []string{"--state-dir", "not allowed"}},
		{"variable in state dir", func(o *lb.Options) { o.StateDir = "/var/$host" }, []string{"--state-dir", "'$'"}},
		{"newline in module dir", func(o *lb.Options) { o.ModuleDir = "/etc/x\n}" }, []string{"--module-dir", "printable"}},
		{"no module dir", func(o *lb.Options) { o.ModuleDir = "" }, []string{"--module-dir: required"}},
		{"no cidr", func(o *lb.Options) { o.BackendsCIDRs = nil }, []string{"--backends-cidr", "at least one"}},
		{"ipv6 cidr", func(o *lb.Options) { o.BackendsCIDRs = []string{"fd00::/64"} }, []string{"--backends-cidr", "IPv4 CIDR"}},
		{"not a cidr", func(o *lb.Options) { o.BackendsCIDRs = []string{"10.0.0.1"} }, []string{"--backends-cidr"}},
		{"cert without key", func(o *lb.Options) { o.AdminTLSCert = "/etc/ssl/a.pem" }, []string{"--admin-tls-key", "both or none"}},
		{"key without cert", func(o *lb.Options) { o.AdminTLSKey = "/etc/ssl/a.key" }, []string{"--admin-tls-cert", "both or none"}},
		{"relative cert", func(o *lb.Options) { o.AdminTLSCert, o.AdminTLSKey = "a.pem", "/a.key" }, []string{"--admin-tls-cert", "absolute"}},
		{"location without slash", func(o *lb.Options) { o.Location = "apps" }, []string{"--location"}},
		{"location with brace", func(o *lb.Options) { o.Location = "/a{" }, []string{"--location"}},
		{"regex location", func(o *lb.Options) { o.Location = "~ ^/x" }, []string{"--location"}},
		{"relative access log", func(o *lb.Options) { o.AccessLog = "access.log" }, []string{"--access-log"}},
		{"tiny dict", func(o *lb.Options) { o.SharedDictSize = "64k" }, []string{"--shared-dict-size", "1m"}},
		{"dict not a size", func(o *lb.Options) { o.SharedDictSize = "lots" }, []string{"--shared-dict-size"}},
		{"too many tries", func(o *lb.Options) { o.NextUpstreamTries = 11 }, []string{"--next-upstream-tries"}},
		{"every problem at once", func(o *lb.Options) { o.AdminListen, o.StateDir, o.BackendsCIDRs = "x", "y", nil },
			[]string{"--admin-listen", "--state-dir", "--backends-cidr"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := validOptions()
			tt.modify(&o)
			_, err := lb.Render(o)
			wanterr.Check(t, err, tt.want...)
		})
	}
}

func TestRenderQuotesEveryValue(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*lb.Options)
		http   []string
		loc    []string
	}{
		{"defaults", func(*lb.Options) {}, []string{
			`lua_shared_dict switchyard 32m;`,
			`listen "127.0.0.1:8001";`,
			`loadfile("/etc/nginx/switchyard/switchyard.lua")`,
			`token_file = "/etc/nginx/switchyard/admin.token"`,
			`state_dir = "/var/lib/switchyard"`,
			`backends = {"10.244.0.0/16"}`,
			"balancer_by_lua_block",
			"init_worker_by_lua_block",
			"log_format switchyard escape=json",
		}, []string{`location "/" {`, "proxy_next_upstream_tries 3;", "log_by_lua_block", "error_page 500 = @switchyard_reject;"}},
		{"tls, location, cidrs masked and deduplicated, paths cleaned", func(o *lb.Options) {
			o.AdminTLSCert, o.AdminTLSKey = "/etc/ssl/lb.pem", "/etc/ssl/lb.key"
			o.AdminListen = "[::1]:8443"
			o.Location = "/apps/"
			o.BackendsCIDRs = []string{"10.244.7.1/16", "10.244.0.0/16", "127.0.0.0/8"}
			o.StateDir = "/var/lib//switchyard/"
			o.SharedDictSize = "64m"
			o.NextUpstreamTries = 2
			o.AccessLog = "/var/log/nginx/switchyard.log"
		}, []string{
			`listen "[::1]:8443" ssl;`,
			`ssl_certificate "/etc/ssl/lb.pem";`,
			`ssl_certificate_key "/etc/ssl/lb.key";`,
			`backends = {"10.244.0.0/16", "127.0.0.0/8"}`,
			`state_dir = "/var/lib/switchyard"`,
			`lua_shared_dict switchyard 64m;`,
		}, []string{`location "/apps/" {`, "proxy_next_upstream_tries 2;", `access_log "/var/log/nginx/switchyard.log" switchyard`}},
		{"unix admin socket", func(o *lb.Options) { o.AdminListen = "unix:/run/switchyard-admin.sock" },
			[]string{`listen "unix:/run/switchyard-admin.sock";`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := validOptions()
			tt.modify(&o)
			f, err := lb.Render(o)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.http {
				if !strings.Contains(string(f.HTTPConf), w) {
					t.Errorf("%s lacks %q:\n%s", lb.HTTPConfName, w, f.HTTPConf)
				}
			}
			for _, w := range tt.loc {
				if !strings.Contains(string(f.LocationsConf), w) {
					t.Errorf("%s lacks %q:\n%s", lb.LocationsConfName, w, f.LocationsConf)
				}
			}
			all := string(f.HTTPConf) + string(f.LocationsConf)
			for _, forbidden := range []string{"lua_package_path", "allow ", "deny "} {
				if strings.Contains(all, forbidden) {
					t.Errorf("rendered files contain %q", forbidden)
				}
			}
			// keepalive must follow the balancer in the upstream block, or
			// nginx would not cache connections to the peers it picks.
			if strings.Index(all, "keepalive 64;") < strings.Index(all, "balancer_by_lua_block") {
				t.Error("keepalive comes before balancer_by_lua_block")
			}
			if string(f.Module) != string(lb.Module()) {
				t.Error("Files.Module is not the embedded module")
			}
		})
	}
}

func TestWriteFilesAndToken(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	f, err := lb.Render(validOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := f.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]byte{lb.HTTPConfName: f.HTTPConf, lb.LocationsConfName: f.LocationsConf, lb.ModuleName: f.Module} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o644 {
			t.Errorf("%s has mode %v, want 0644", name, st.Mode().Perm())
		}
		got, _ := os.ReadFile(filepath.Join(dir, name))
		if string(got) != string(want) {
			t.Errorf("%s differs from the rendered file", name)
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 3 {
		t.Errorf("%d files in %s, want 3 (no temp files left)", len(ents), dir)
	}
	if err := (lb.Files{}).WriteFiles(dir); err == nil {
		t.Error("WriteFiles wrote empty files")
	}

	tok := filepath.Join(t.TempDir(), "admin.token")
	created, err := lb.EnsureTokenFile(tok)
	if err != nil || !created {
		t.Fatalf("EnsureTokenFile = %v, %v", created, err)
	}
	st, _ := os.Stat(tok)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %v, want 0600", st.Mode().Perm())
	}
	first, err := lb.ReadToken(tok)
	if err != nil || len(first) != 64 {
		t.Fatalf("token %q, %v: want 64 hex characters", first, err)
	}
	if created, err := lb.EnsureTokenFile(tok); err != nil || created {
		t.Fatalf("second EnsureTokenFile = %v, %v: want the file kept", created, err)
	}
	if again, _ := lb.ReadToken(tok); again != first {
		t.Error("the token changed")
	}
	if err := os.WriteFile(tok, []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := lb.ReadToken(tok); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty token file: %v", err)
	}
}
