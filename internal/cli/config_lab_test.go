package cli

import (
	"context"
	"net/http"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/lab"
	"github.com/switchyard/switchyard/lab/labtest"
	"github.com/switchyard/switchyard/marathon"
)

// TestContextLabUp starts a Marathon-only lab whose Marathon requires its
// token: `lab up` writes the lab's context into the test's own switchyard
// config (never the developer's) and makes it current, and both the
// switchyard binary and the marathon client get through with it.
func TestContextLabUp(t *testing.T) {
	l := labtest.StartT(t, labtest.Options{Nodes: 1, MarathonToken: true})
	if want := "wrote context " + l.Config.ID + " to " + l.SwitchyardConfig + " and made it current"; !strings.Contains(l.UpOutput, want) {
		t.Errorf("lab up output lacks %q:\n%s", want, l.UpOutput)
	}
	f, err := config.Load(l.SwitchyardConfig)
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.Get(l.Config.ID)
	if err != nil || f.CurrentContext != l.Config.ID {
		t.Fatalf("context %s: %v (current %q)", l.Config.ID, err, f.CurrentContext)
	}
	if want := lab.ContextFor(l.Config); !reflect.DeepEqual(c, want) {
		t.Errorf("context = %+v\nwant %+v", c, want)
	}
	if c.Marathon.Auth.Type != config.AuthDCOSToken || c.Marathon.Auth.TokenFile != l.Config.MarathonTokenPath() || l.MarathonToken == "" {
		t.Errorf("context marathon auth = %+v (token %q)", c.Marathon.Auth, l.MarathonToken)
	}

	// Raw HTTP: 401 without the token, 200 with it.
	for _, tc := range []struct {
		auth string
		want int
	}{{"", 401}, {"token=" + l.MarathonToken, 200}, {"Bearer " + l.MarathonToken, 200}} {
		req, _ := http.NewRequest(http.MethodGet, l.MarathonURL+"/v2/apps", nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("GET /v2/apps with %q = %d, want %d", tc.auth, resp.StatusCode, tc.want)
		}
	}

	// The marathon client with the resolved context (no environment).
	rc, err := config.Resolve(l.SwitchyardConfig, "", func(k string) string {
		if k == "HOME" {
			return t.TempDir()
		}
		return ""
	}, config.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	mcfg, err := rc.MarathonConfig()
	if err != nil {
		t.Fatal(err)
	}
	mc, err := marathon.NewClient(mcfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := mc.Apps(ctx, marathon.AppsOptions{}); err != nil {
		t.Fatalf("marathon client with the lab context: %v", err)
	}

	// The binary: `switchyard marathon apps` through the current context
	// (MARATHON_URL and DCOS_ACS_TOKEN removed), and through `lab env`.
	var ctxOnly []string
	for _, kv := range l.Env() {
		if !strings.HasPrefix(kv, "MARATHON_URL=") && !strings.HasPrefix(kv, "DCOS_ACS_TOKEN=") {
			ctxOnly = append(ctxOnly, kv)
		}
	}
	for name, env := range map[string][]string{"context": ctxOnly, "lab env": l.Env()} {
		cmd := exec.Command(l.Bin, "marathon", "apps")
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("switchyard marathon apps (%s): %v\n%s", name, err, out)
		}
	}
	if out, err := l.Run("lab", "status"); err != nil {
		t.Errorf("lab status: %v\n%s", err, out)
	}
}
