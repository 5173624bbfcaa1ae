package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/switchyard/switchyard/appspec"
	"github.com/switchyard/switchyard/lab/labtest"
	"github.com/switchyard/switchyard/migrate"
	"github.com/switchyard/switchyard/migrate/edge"
	"github.com/switchyard/switchyard/traffic"
	"github.com/switchyard/switchyard/traffic/follow"
)

const crashAfterEnv = "SWITCHYARD_MIGRATE_CRASH_AFTER" // cli.CrashAfterEnv (build tag testhooks)

var (
	hookedOnce sync.Once
	hookedBin  string
	hookedErr  error
)

// hookedBinary builds switchyard with the test hooks (go build -tags
// testhooks) once per test process: the product binary has no crash hook.
func hookedBinary() (string, error) {
	hookedOnce.Do(func() {
		dir, err := os.MkdirTemp("", "switchyard-testhooks-")
		if err != nil {
			hookedErr = err
			return
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			hookedErr = err
			return
		}
		hookedBin = filepath.Join(dir, "switchyard")
		cmd := exec.Command("go", "build", "-tags", "testhooks", "-o", hookedBin, "./cmd/switchyard")
		cmd.Dir = filepath.Join("..", "..") // the module root, from migrate/e2e
		if out, err := cmd.CombinedOutput(); err != nil {
			hookedErr = fmt.Errorf("build switchyard with -tags testhooks: %v\n%s", err, out)
		}
	})
	return hookedBin, hookedErr
}

// appYAML is an app.yaml whose Marathon definition is inline.
func appYAML(name, id string) string {
	return fmt.Sprintf(`name: %[1]s
type: marathon
marathon:
  id: %[2]s
  instances: 2
  cpus: 0.05
  mem: 32
  container:
    type: DOCKER
    docker: {image: "switchyard/demo-app:1"}
  portDefinitions:
    - {port: 0, protocol: tcp, name: http}
  env: {DEMO_VERSION: marathon}
  healthChecks:
    - {protocol: HTTP, path: /health, portIndex: 0, gracePeriodSeconds: 10, intervalSeconds: 1, timeoutSeconds: 2, maxConsecutiveFailures: 3}
route:
  path: /%[1]s
migration:
  maxErrorRate: 0.01
  steps: [50, 100]
  pausePerStep: 1s
  soak: 1s
`, name, id)
}

// cliApp writes the app.yaml, creates the Marathon app and routes it
// through nginx (Marathon backends only), as `switchyard deploy` would.
func cliApp(t *testing.T, e *env, dir, name string) edge.Target {
	t.Helper()
	id := "/crash/" + name
	if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name, "app.yaml"), []byte(appYAML(name, id)), 0o644); err != nil {
		t.Fatal(err)
	}
	spec, err := appspec.Load(filepath.Join(dir, name, "app.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := e.lab.Marathon.CreateApp(ctx, spec.Marathon.App); err != nil {
		t.Fatal(err)
	}
	tgt := edge.Target{App: migrate.App{Name: name, MarathonID: id, Route: name}, PathPrefix: "/" + name}
	if err := (edge.Marathon{Client: e.lab.Marathon}).Scale(ctx, tgt.App, 2); err != nil {
		t.Fatal(err)
	}
	bs, err := follow.MarathonTasks{Client: e.lab.Marathon, AppID: id}.Ready(ctx)
	if err != nil || len(bs) != 2 {
		t.Fatalf("marathon backends %v %v", bs, err)
	}
	if _, err := e.lab.LB.SetRoute(ctx, traffic.Route{Name: name, PathPrefix: "/" + name, Backends: bs}); err != nil {
		t.Fatal(err)
	}
	return tgt
}

// runCLI runs `switchyard ARGS --lab-dir DIR` with extra environment; with
// crashAfterEnv in it, a test build of switchyard that has the crash hook.
func runCLI(l *labtest.Lab, extraEnv []string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	bin := l.Bin
	for _, kv := range extraEnv {
		if strings.HasPrefix(kv, crashAfterEnv+"=") {
			var err error
			if bin, err = hookedBinary(); err != nil {
				return "", err
			}
		}
	}
	cmd := exec.CommandContext(ctx, bin, append(args, "--lab-dir", l.Dir)...)
	cmd.Env = append(l.Env(), extraEnv...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestSIGKILLAtEveryTransition runs `switchyard migrate` as a subprocess
// that kills itself with SIGKILL right after its Nth journal append, for
// every N of a whole migration, then runs it again: it must resume from the
// journal and end consistent (Finalized: Kubernetes alone serves the
// route, the Marathon app is gone) with no failed request at the client
// during the crash and the restart.
func TestSIGKILLAtEveryTransition(t *testing.T) {
	l := labtest.Need(t, theLab)
	e := setup(t, time.Second)
	dir := t.TempDir()
	journalPath := filepath.Join(t.TempDir(), "journal.db")
	const transitions = 10 // Pending→Installing ... →Finalized with steps [50, 100]
	for n := 1; n <= transitions; n++ {
		name := fmt.Sprintf("c%d", n)
		tgt := cliApp(t, e, dir, name)
		res := load(l.Config.Nginx.Listen, "/"+name+"/")
		time.Sleep(500 * time.Millisecond)
		args := []string{"migrate", name, "--apps", dir, "--journal", journalPath, "--namespace", "mig"}
		out, err := runCLI(l, []string{fmt.Sprintf("%s=%d", crashAfterEnv, n)}, args...)
		if ee, ok := err.(*exec.ExitError); !ok || ee.String() != "signal: killed" {
			t.Fatalf("crash after append %d: want the process killed, got %v\n%s", n, err, out)
		}
		out2, err := runCLI(l, nil, args...)
		time.Sleep(500 * time.Millisecond)
		lg := res.Stop()
		if err != nil {
			t.Fatalf("restart after a crash at append %d: %v\nfirst run:\n%s\nrestart:\n%s", n, err, out, out2)
		}
		t.Logf("killed after journal append %d; restart resumed: %s; load: %s", n, firstLine(out2), lg)
		if lg.Failed != 0 {
			t.Fatalf("crash at append %d: %d of %d requests failed: %v\n%s\n%s", n, lg.Failed, lg.Sent, lg.Errors, out, out2)
		}
		checkFinalized(t, e, tgt, journalPath, l)
		checkHelmRelease(t, e, "mig", name, map[string]string{"cpu": "50m", "memory": "32Mi"})
	}
}

func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		for _, w := range []string{"resuming", "already"} {
			if i := strings.Index(l, w); i >= 0 {
				return strings.TrimSpace(l[i:])
			}
		}
	}
	return "(fresh start)"
}

// checkFinalized: exactly one platform serves the route (Kubernetes, all
// ready), the Marathon app is gone, the journal says Finalized.
func checkFinalized(t *testing.T, e *env, tgt edge.Target, journalPath string, l *labtest.Lab) {
	t.Helper()
	ctx := context.Background()
	st, err := e.lab.LB.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r, ok := st.Route(tgt.App.Route)
	if !ok {
		t.Fatalf("route %s gone", tgt.App.Route)
	}
	for _, b := range r.Backends {
		if b.Platform != traffic.Kubernetes || b.Weight == 0 {
			t.Fatalf("route %s after finalize: %+v", r.Name, r.Backends)
		}
	}
	if len(r.Backends) != 2 {
		t.Fatalf("route %s has %d Kubernetes backends, want 2", r.Name, len(r.Backends))
	}
	if _, err := e.lab.Marathon.App(ctx, tgt.App.MarathonID); err == nil {
		t.Fatalf("Marathon app %s still exists", tgt.App.MarathonID)
	}
	out, err := runCLI(l, nil, "status", "--journal", journalPath, "-o", "json")
	if err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	var rows []struct{ App, Phase string }
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("status output: %v\n%s", err, out)
	}
	for _, row := range rows {
		if row.App == tgt.App.Name && row.Phase != "Finalized" {
			t.Fatalf("journal: %s is %s", row.App, row.Phase)
		}
	}
	// Kubernetes side: the converted Deployment is fully available.
	ds, err := e.lab.Clientset.AppsV1().Deployments("mig").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, d := range ds.Items {
		if strings.Contains(d.Name, tgt.App.Name) && d.Status.ReadyReplicas == 2 {
			found = true
		}
	}
	if !found {
		t.Fatalf("no ready Deployment for %s in namespace mig", tgt.App.Name)
	}
}

// TestCLIRollback: `switchyard migrate` dies mid-shift (SIGKILL after the
// 4th journal append: 50% applied); `switchyard rollback` then moves the
// app back: Marathon alone serves the route, the Kubernetes objects are
// gone, status says RolledBack, and no request failed.
func TestCLIRollback(t *testing.T) {
	l := labtest.Need(t, theLab)
	e := setup(t, time.Second)
	dir := t.TempDir()
	journalPath := filepath.Join(t.TempDir(), "journal.db")
	tgt := cliApp(t, e, dir, "rb")
	res := load(l.Config.Nginx.Listen, "/rb/")
	common := []string{"--apps", dir, "--journal", journalPath, "--namespace", "mig"}
	out, err := runCLI(l, []string{crashAfterEnv + "=4"}, append([]string{"migrate", "rb"}, common...)...)
	if err == nil {
		t.Fatalf("migrate was not killed:\n%s", out)
	}
	out2, err := runCLI(l, nil, append([]string{"rollback", "rb"}, common...)...)
	time.Sleep(time.Second)
	lg := res.Stop()
	t.Logf("rollback:\n%s\nload: %s", out2, lg)
	if err != nil || !strings.Contains(out2, "RolledBack") || !strings.Contains(out2, "operator: switchyard rollback") {
		t.Fatalf("rollback: %v\n%s", err, out2)
	}
	if lg.Failed != 0 {
		t.Fatalf("%d of %d requests failed: %v", lg.Failed, lg.Sent, lg.Errors)
	}
	st, err := e.lab.LB.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r, _ := st.Route("rb")
	if sh := traffic.Percents(r.Backends); sh[traffic.Marathon] != 100 {
		t.Fatalf("route after rollback: %+v", r.Backends)
	}
	a, err := e.lab.Marathon.App(context.Background(), tgt.App.MarathonID)
	if err != nil || a.TasksHealthy == nil || *a.TasksHealthy != 2 {
		t.Fatalf("Marathon after rollback: %v", err)
	}
	ds, _ := e.lab.Clientset.AppsV1().Deployments("mig").List(context.Background(), metav1.ListOptions{})
	for _, d := range ds.Items {
		if strings.Contains(d.Name, "rb") {
			t.Fatalf("Deployment %s still there", d.Name)
		}
	}
	checkNoHelmRelease(t, e, "mig", "rb")
	out3, err := runCLI(l, nil, "status", "--journal", journalPath)
	if err != nil || !strings.Contains(out3, "RolledBack") {
		t.Fatalf("status: %v\n%s", err, out3)
	}
	t.Logf("status:\n%s", out3)
}
