package production

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/testenv"
	"github.com/switchyard/switchyard/lab/labtest"
	"github.com/switchyard/switchyard/marathon"
)

// TestBadInputNamesContextInstanceAndFix: an unknown context, a missing
// token file, an unreachable instance and a push one instance refuses each
// fail with a message naming the context, the instance and the fix, and
// leave nothing half-applied (no Marathon app, no journal entry, no route
// on the instance that accepted).
func TestBadInputNamesContextInstanceAndFix(t *testing.T) {
	s := newSite(t, "bad-apps")
	l := labtest.Need(t, theLab)
	a := s.lbs[0]
	app := strings.ReplaceAll(shopfrontApp, "shopfront", "badapp")
	s.writeApp("badapp", app)
	appYAML := filepath.Join(s.appsDir, "badapp", "app.yaml")
	mc, err := marathon.NewClient(marathon.Config{URL: l.MarathonURL, Token: l.MarathonToken})
	if err != nil {
		t.Fatal(err)
	}
	noApp := func(t *testing.T) {
		t.Helper()
		if _, err := mc.App(context.Background(), "/prod/badapp"); err == nil {
			t.Fatal("the Marathon app was created: half-applied")
		}
	}
	// A context whose instances are given by name: set-context replaces
	// the list.
	setLBs := func(name string, specs ...string) {
		args := []string{"config", "set-context", name}
		for _, sp := range specs {
			args = append(args, "--lb-instance", sp)
		}
		s.run(args...)
	}
	unused := testenv.FreeAddr(t, "127.0.0.1")

	t.Run("unknown context", func(t *testing.T) {
		out, err := s.try(30*time.Second, "--context", "nope", "status")
		if err == nil || !strings.Contains(out, `"nope"`) && !strings.Contains(out, "nope") || !strings.Contains(out, "prod") || !strings.Contains(out, "set-context") {
			t.Fatalf("want an error naming the context, the known ones and set-context; got %v:\n%s", err, out)
		}
	})

	t.Run("missing token file", func(t *testing.T) {
		s.run("config", "set-context", "notoken", "--marathon-url", l.MarathonURL, "--marathon-auth", "dcos-token",
			"--marathon-token-file", l.Config.MarathonTokenPath(), "--kubeconfig", l.Kubeconfig, "--mesos-url", l.MesosURL, "--journal", filepath.Join(s.dir, "notoken.db"))
		setLBs("notoken", fmt.Sprintf("lb-a=%s,tokenFile=%s", a.AdminURL(), filepath.Join(s.dir, "missing.token")))
		out, err := s.try(time.Minute, "--context", "notoken", "deploy", appYAML)
		for _, want := range []string{"context notoken", "lb-a", "missing.token", "nothing"} {
			if err == nil || !strings.Contains(out, want) {
				t.Fatalf("want an error naming %q; got %v:\n%s", want, err, out)
			}
		}
		noApp(t)
		out, err = s.try(time.Minute, "--context", "notoken", "migrate", "badapp", "--apps", s.appsDir)
		if err == nil || !strings.Contains(out, "lb-a") || !strings.Contains(out, "token file") {
			t.Fatalf("migrate without the token: %v:\n%s", err, out)
		}
		if _, err := os.Stat(filepath.Join(s.dir, "notoken.db")); err == nil {
			if out, _ := s.try(30*time.Second, "--context", "notoken", "status"); strings.Contains(out, "badapp") {
				t.Fatalf("a migration was journaled without a load balancer: %s", out)
			}
		}
	})

	t.Run("unreachable instance", func(t *testing.T) {
		s.run("config", "set-context", "down", "--marathon-url", l.MarathonURL, "--marathon-auth", "dcos-token",
			"--marathon-token-file", l.Config.MarathonTokenPath(), "--kubeconfig", l.Kubeconfig, "--mesos-url", l.MesosURL, "--journal", filepath.Join(s.dir, "down.db"))
		setLBs("down", fmt.Sprintf("lb-a=%s,tokenFile=%s", a.AdminURL(), s.lbToken), fmt.Sprintf("lb-gone=http://%s,tokenFile=%s", unused, s.lbToken))
		out, err := s.try(time.Minute, "--context", "down", "deploy", appYAML)
		for _, want := range []string{"lb-gone", unused, "is nginx running there", "nothing was applied"} {
			if err == nil || !strings.Contains(out, want) {
				t.Fatalf("want an error naming %q; got %v:\n%s", want, err, out)
			}
		}
		noApp(t)
	})

	t.Run("refused push", func(t *testing.T) {
		// lb-strict only lets backends be in a network no Marathon task
		// is in: it refuses the route lb-a accepts.
		strict := &nginxInstance{Name: "lb-strict", Dir: filepath.Join(s.dir, "lb-strict"), Listen: testenv.FreeAddr(t, "127.0.0.1"), Admin: testenv.FreeAddr(t, "127.0.0.1"), TokenFile: s.lbToken}
		strict.ModuleDir, strict.StateDir = filepath.Join(strict.Dir, "switchyard"), filepath.Join(strict.Dir, "state")
		if err := os.MkdirAll(strict.StateDir, 0o755); err != nil {
			t.Fatal(err)
		}
		s.run("lb", "render", "--out", strict.ModuleDir, "--admin-listen", strict.Admin, "--admin-token-file", s.lbToken,
			"--state-dir", strict.StateDir, "--backends-cidr", "192.0.2.0/24")
		strict.writeConf(t)
		strict.start(t)
		t.Cleanup(strict.stop)
		s.run("config", "set-context", "strict", "--marathon-url", l.MarathonURL, "--marathon-auth", "dcos-token",
			"--marathon-token-file", l.Config.MarathonTokenPath(), "--kubeconfig", l.Kubeconfig, "--mesos-url", l.MesosURL,
			"--journal", filepath.Join(s.dir, "strict.db"))
		setLBs("strict", fmt.Sprintf("lb-a=%s,tokenFile=%s", a.AdminURL(), s.lbToken), fmt.Sprintf("lb-strict=%s,tokenFile=%s", strict.AdminURL(), s.lbToken))
		before := s.routes(a)
		out, err := s.try(2*time.Minute, "--context", "strict", "deploy", appYAML)
		t.Logf("deploy through a fleet with a refusing instance:\n%s", out)
		for _, want := range []string{"lb-strict", "400", "192.0.2.0/24"} {
			if err == nil || !strings.Contains(out, want) {
				t.Fatalf("want an error naming %q; got %v", want, err)
			}
		}
		after := s.routes(a)
		for _, r := range after.Routes {
			if r.Name == "badapp" && len(r.Backends) > 0 {
				t.Fatalf("lb-a kept the route lb-strict refused (half-applied): before v%d, after v%d %+v", before.Version, after.Version, r)
			}
		}
		_, _ = mc.DeleteApp(context.Background(), "/prod/badapp", true)
	})
}
