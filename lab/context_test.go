package lab

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/lab/labconfig"
)

func TestContextFor(t *testing.T) {
	cfg := labconfig.Default()
	cfg.ID, cfg.Dir = "lab-87ab4278", "/work/main/.lab"
	tests := []struct {
		name   string
		adjust func(*labconfig.Config)
		want   config.Context
	}{
		{"default lab", func(*labconfig.Config) {}, config.Context{
			Name:       "lab-87ab4278",
			Marathon:   config.Marathon{URL: "http://127.0.0.1:8080"},
			Mesos:      config.Mesos{URL: "http://127.0.0.1:5050"},
			Kubernetes: config.Kubernetes{Kubeconfig: "/work/main/.lab/kube/admin.kubeconfig", Namespace: "default"},
			LoadBalancer: config.LoadBalancer{Instances: []config.LBInstance{{Name: "nginx", AdminURL: "http://127.0.0.1:8001", TokenFile: "/work/main/.lab/nginx/admin.token"}},
				BackendsCIDRs: []string{"127.0.0.0/8", "10.244.0.0/16"}},
			Journal: config.Journal{Path: "/work/main/.lab/migrate/journal.db"},
			Lab:     config.Lab{Dir: "/work/main/.lab"},
		}},
		{"marathon only, with a token", func(c *labconfig.Config) {
			c.Kubernetes.Enabled, c.Nginx.Enabled, c.Marathon.Auth = false, false, labconfig.MarathonAuthToken
		}, config.Context{
			Name: "lab-87ab4278",
			Marathon: config.Marathon{URL: "http://127.0.0.1:8080",
				Auth: config.MarathonAuth{Type: config.AuthDCOSToken, TokenFile: "/work/main/.lab/marathon/token"}},
			Mesos:   config.Mesos{URL: "http://127.0.0.1:5050"},
			Journal: config.Journal{Path: "/work/main/.lab/migrate/journal.db"},
			Lab:     config.Lab{Dir: "/work/main/.lab"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cfg
			tt.adjust(&c)
			got := ContextFor(c)
			if err := got.Validate(); err != nil {
				t.Fatal(err)
			}
			if gb, wb := must(config.File{Contexts: []config.Context{got}}), must(config.File{Contexts: []config.Context{tt.want}}); gb != wb {
				t.Fatalf("ContextFor =\n%s\nwant\n%s", gb, wb)
			}
		})
	}
}

func must(f config.File) string {
	b, err := f.Marshal()
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestSaveContextMakesItCurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sw", "config.yaml")
	other := config.New()
	other.Set(config.Context{Name: "prod", Marathon: config.Marathon{URL: "https://dcos/service/marathon"}})
	other.CurrentContext = "prod"
	if err := other.Save(path); err != nil {
		t.Fatal(err)
	}
	cfg := labconfig.Default()
	cfg.ID, cfg.Dir = "lab-1", t.TempDir()
	for range 2 { // idempotent
		if _, err := SaveContext(path, cfg); err != nil {
			t.Fatal(err)
		}
	}
	f, err := config.Load(path)
	if err != nil || f.CurrentContext != "lab-1" || len(f.Contexts) != 2 {
		t.Fatalf("after SaveContext: %+v, %v", f, err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode().Perm())
	}
}
