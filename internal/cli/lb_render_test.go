package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/wanterr"
	"github.com/switchyard/switchyard/lb"
)

func TestLBRender(t *testing.T) {
	out := filepath.Join(t.TempDir(), "lb")
	tests := []struct {
		name    string
		args    []string
		wantErr []string
	}{
		{"no out", []string{"--admin-listen", "127.0.0.1:8001"}, []string{"--out: required"}},
		{"every problem named", []string{"--out", out, "--admin-listen", "localhost", "--state-dir", "rel"},
			[]string{"--admin-listen", "--admin-token-file", "--state-dir", "--backends-cidr"}},
		{"valid", []string{"--out", out, "--admin-listen", "127.0.0.1:8001", "--admin-token-file", "/etc/switchyard/admin.token",
			"--state-dir", "/var/lib/switchyard", "--backends-cidr", "10.244.0.0/16", "--backends-cidr", "127.0.0.0/8"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := NewRoot()
			var stdout, stderr bytes.Buffer
			cmd.SetOut(&stdout)
			cmd.SetErr(&stderr)
			cmd.SetArgs(append([]string{"lb", "render"}, tt.args...))
			err := cmd.Execute()
			if wanterr.Check(t, err, tt.wantErr...) {
				if _, serr := os.Stat(out); serr == nil {
					t.Error("files written although the flags were refused")
				}
				return
			}
			for _, w := range []string{"include " + filepath.Join(out, "switchyard-http.conf"), "include " + filepath.Join(out, "switchyard-locations.conf"), filepath.Join(out, "switchyard.lua")} {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, stdout.String())
				}
			}
			conf, err := os.ReadFile(filepath.Join(out, "switchyard-http.conf"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(conf), `loadfile("`+filepath.Join(out, "switchyard.lua")+`")`) ||
				!strings.Contains(string(conf), `backends = {"10.244.0.0/16", "127.0.0.0/8"}`) {
				t.Errorf("switchyard-http.conf:\n%s", conf)
			}
		})
	}
}

func TestLBValidate(t *testing.T) {
	valid := lb.Options{AdminListen: "127.0.0.1:8001", AdminTokenFile: "/etc/switchyard/admin.token", StateDir: "/var/lib/switchyard",
		BackendsCIDRs: []string{"10.244.0.0/16"}, ModuleDir: "/etc/nginx/switchyard", Location: lb.DefaultLocation,
		SharedDictSize: lb.DefaultSharedDictSize, NextUpstreamTries: lb.DefaultNextUpstreamTries}
	with := func(f func(*lb.Options)) lb.Options {
		o := valid
		f(&o)
		return o
	}
	tests := []struct {
		name string
		o    commandOptions
		want string // "" when valid
	}{
		{"render", &LBRenderOptions{Out: "/etc/nginx/switchyard", Opts: valid}, ""},
		{"render without --out", &LBRenderOptions{Opts: valid}, "--out: required"},
		{"render relative --state-dir", &LBRenderOptions{Out: "/x", Opts: with(func(o *lb.Options) { o.StateDir = "rel" })}, "--state-dir"},
		{"render no --backends-cidr", &LBRenderOptions{Out: "/x", Opts: with(func(o *lb.Options) { o.BackendsCIDRs = nil })}, "--backends-cidr"},
		{"render bad --admin-listen", &LBRenderOptions{Out: "/x", Opts: with(func(o *lb.Options) { o.AdminListen = "localhost" })}, "--admin-listen"},
		{"sync", &lbSyncOptions{resync: time.Second}, ""},
		{"sync zero --resync", &lbSyncOptions{}, "lb sync: --resync: 0s must be positive"},
		{"sync negative --resync", &lbSyncOptions{resync: -time.Second}, "--resync: -1s must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkValidate(t, tt.o.Validate(), tt.want)
		})
	}
}
