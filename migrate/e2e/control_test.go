package e2e

import (
	"bytes"
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

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/switchyard/switchyard/lab/labtest"
	"github.com/switchyard/switchyard/migrate/edge"
	"github.com/switchyard/switchyard/traffic"
)

// statusRow is what `switchyard status -o json` prints per app.
type statusRow struct {
	App, Phase, Reason string
	Seq                uint64
	Kubernetes         int  `json:"kubernetesPercent"`
	Live               bool `json:"live"`
}

func cliStatus(t *testing.T, l *labtest.Lab, journalPath, app string) statusRow {
	t.Helper()
	out, err := runCLI(l, nil, "status", "--journal", journalPath, "-o", "json")
	if err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	var rows []statusRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("status output: %v\n%s", err, out)
	}
	for _, r := range rows {
		if r.App == app {
			return r
		}
	}
	return statusRow{}
}

// lockedBuffer is a bytes.Buffer safe for a subprocess's output and the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// startMigrate starts `switchyard migrate APP` in the background; the
// returned channel yields its exit error.
func startMigrate(t *testing.T, l *labtest.Lab, out *lockedBuffer, args ...string) <-chan error {
	t.Helper()
	cmd := exec.Command(l.Bin, append(append([]string{"migrate"}, args...), "--lab-dir", l.Dir)...)
	cmd.Env = l.Env()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case <-done:
		default:
			_ = cmd.Process.Kill()
		}
	})
	return done
}

// waitPhase polls `switchyard status` (live, from the running executor)
// until the app's phase starts with prefix.
func waitPhase(t *testing.T, l *labtest.Lab, journalPath, app, prefix string, out *lockedBuffer) statusRow {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		if r := cliStatus(t, l, journalPath, app); strings.HasPrefix(r.Phase, prefix) {
			return r
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s never reached %s\nmigrate output:\n%s", app, prefix, out)
	return statusRow{}
}

func shares(t *testing.T, e *env, route string) map[string]float64 {
	t.Helper()
	st, err := e.lab.LB.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r, ok := st.Route(route)
	if !ok {
		t.Fatalf("route %s gone", route)
	}
	return traffic.Percents(r.Backends)
}

// TestCLIPauseResumeAbort drives a running `switchyard migrate` (a real
// subprocess holding the journal) from other `switchyard` processes over
// its control socket: `status` reads the live state from it; `migrate
// pause` holds the weights at the current step (the journal, nginx's
// weights and the executor stay put for several step pauses while requests
// keep being served); `migrate resume` continues to Finalized; `migrate
// abort` on a second migration rolls it back. No request fails.
func TestCLIPauseResumeAbort(t *testing.T) {
	l := labtest.Need(t, theLab)
	e := setup(t, time.Second)
	dir := t.TempDir()
	journalPath := filepath.Join(t.TempDir(), "journal.db")
	const pause = 2 * time.Second
	tgts := map[string]edge.Target{}
	for _, name := range []string{"pr", "abrt"} {
		tgt := cliApp(t, e, dir, name)
		tgts[name] = tgt
		// Longer step pauses than the crash tests' so the pause lands mid-shift.
		y := strings.Replace(appYAML(name, tgt.App.MarathonID), "pausePerStep: 1s", fmt.Sprintf("pausePerStep: %s", pause), 1)
		if name == "pr" { // the app.yaml's resources replace those derived from cpus/mem
			y += "resources:\n  requests: {cpu: 30m, memory: 24Mi}\n"
		}
		if err := os.WriteFile(filepath.Join(dir, name, "app.yaml"), []byte(y), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	common := []string{"--apps", dir, "--journal", journalPath, "--namespace", "mig"}
	ctl := []string{"--journal", journalPath}

	t.Run("pause-resume", func(t *testing.T) {
		res := load(l.Config.Nginx.Listen, "/pr/")
		out := &lockedBuffer{}
		done := startMigrate(t, l, out, append([]string{"pr"}, common...)...)
		r := waitPhase(t, l, journalPath, "pr", "Shifting[50% applied", out)
		if !r.Live {
			t.Fatalf("status while migrate runs did not come from the executor: %+v", r)
		}
		po, err := runCLI(l, nil, append([]string{"migrate", "pause", "pr"}, ctl...)...)
		if err != nil {
			t.Fatalf("pause: %v\n%s\nmigrate:\n%s", err, po, out)
		}
		t.Logf("pause:\n%s", po)
		held := cliStatus(t, l, journalPath, "pr")
		if !strings.Contains(held.Phase, "paused") || held.Reason != "operator: pause" {
			t.Fatalf("after pause, status %+v", held)
		}
		sh := shares(t, e, "pr")
		// Held for three step pauses: no transition, the weights unchanged.
		res.Begin()
		for t0 := time.Now(); time.Since(t0) < 3*pause; {
			time.Sleep(500 * time.Millisecond)
			if now := cliStatus(t, l, journalPath, "pr"); now.Seq != held.Seq || now.Phase != held.Phase {
				t.Fatalf("paused migration moved: %+v → %+v", held, now)
			}
			if now := shares(t, e, "pr"); now[traffic.Kubernetes] != sh[traffic.Kubernetes] {
				t.Fatalf("weights moved while paused: %v → %v", sh, now)
			}
		}
		res.End()
		ro, err := runCLI(l, nil, append([]string{"migrate", "resume", "pr"}, ctl...)...)
		if err != nil {
			t.Fatalf("resume: %v\n%s\nmigrate:\n%s", err, ro, out)
		}
		t.Logf("resume:\n%s", ro)
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("migrate after resume: %v\n%s", err, out)
			}
		case <-time.After(3 * time.Minute):
			t.Fatalf("migrate did not finish after resume:\n%s", out)
		}
		time.Sleep(500 * time.Millisecond)
		lg := res.Stop()
		t.Logf("migrate:\n%s", out)
		t.Logf("load, \"during\" while paused (weights kubernetes %.0f%%):\n%s", sh[traffic.Kubernetes], lg)
		if sh[traffic.Kubernetes] != 50 || lg.During.Sent == 0 {
			t.Fatalf("paused at %v with %d requests sent meanwhile: want 50%% and some", sh, lg.During.Sent)
		}
		if err := lg.ZeroFailed(1); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"(pause): operator: pause", "(resume): operator: resume", "Finalized"} {
			if !strings.Contains(out.String(), want) {
				t.Fatalf("migrate output lacks %q:\n%s", want, out)
			}
		}
		checkFinalized(t, e, tgts["pr"], journalPath, l)
		checkHelmRelease(t, e, "mig", "pr", map[string]string{"cpu": "30m", "memory": "24Mi"})
	})

	t.Run("abort", func(t *testing.T) {
		res := load(l.Config.Nginx.Listen, "/abrt/")
		out := &lockedBuffer{}
		done := startMigrate(t, l, out, append([]string{"abrt"}, common...)...)
		waitPhase(t, l, journalPath, "abrt", "Shifting[50% applied", out)
		ao, err := runCLI(l, nil, append([]string{"migrate", "abort", "abrt"}, ctl...)...)
		if err != nil {
			t.Fatalf("abort: %v\n%s\nmigrate:\n%s", err, ao, out)
		}
		t.Logf("abort:\n%s", ao)
		select {
		case err := <-done:
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Fatalf("migrate after abort: want exit 1 (not migrated), got %v\n%s", err, out)
			}
		case <-time.After(3 * time.Minute):
			t.Fatalf("migrate did not finish after abort:\n%s", out)
		}
		time.Sleep(500 * time.Millisecond)
		lg := res.Stop()
		t.Logf("migrate:\n%s\nload: %s", out, lg)
		if lg.Failed != 0 {
			t.Fatalf("%d of %d requests failed: %v", lg.Failed, lg.Sent, lg.Errors)
		}
		if sh := shares(t, e, "abrt"); sh[traffic.Marathon] != 100 {
			t.Fatalf("route after abort: %v", sh)
		}
		a, err := e.lab.Marathon.App(context.Background(), "/crash/abrt")
		if err != nil || a.TasksHealthy == nil || *a.TasksHealthy != 2 {
			t.Fatalf("Marathon after abort: %v", err)
		}
		ds, _ := e.lab.Clientset.AppsV1().Deployments("mig").List(context.Background(), metav1.ListOptions{})
		for _, d := range ds.Items {
			if strings.Contains(d.Name, "abrt") {
				t.Fatalf("Deployment %s still there after abort", d.Name)
			}
		}
		checkNoHelmRelease(t, e, "mig", "abrt")
		r := cliStatus(t, l, journalPath, "abrt")
		if r.Phase != "RolledBack" || r.Reason != "operator: abort" || r.Live {
			t.Fatalf("status after abort (from the journal): %+v", r)
		}
		// Nothing runs: a command is refused with a clear message.
		if o, err := runCLI(l, nil, append([]string{"migrate", "pause", "abrt"}, ctl...)...); err == nil || !strings.Contains(o, "no running `switchyard migrate`") {
			t.Fatalf("pause with no executor: %v\n%s", err, o)
		}
	})
}

// checkHelmRelease: the app's Kubernetes side is a deployed Helm release
// (release record in the namespace, objects annotated with it) whose
// Deployment's containers carry the wanted requests.
func checkHelmRelease(t *testing.T, e *env, ns, name string, wantRequests map[string]string) {
	t.Helper()
	ctx := context.Background()
	secrets, err := e.lab.Clientset.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{LabelSelector: "owner=helm,name=" + name + ",status=deployed"})
	if err != nil || len(secrets.Items) != 1 {
		t.Fatalf("helm release %s/%s: %v, %d deployed revisions", ns, name, err, len(secrets.Items))
	}
	ds, err := e.lab.Clientset.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds.Items {
		if d.Annotations["meta.helm.sh/release-name"] != name {
			continue
		}
		for k, v := range wantRequests {
			q := d.Spec.Template.Spec.Containers[0].Resources.Requests[corev1.ResourceName(k)]
			if q.String() != v {
				t.Fatalf("Deployment %s: requests.%s = %s, want %s", d.Name, k, q.String(), v)
			}
		}
		return
	}
	t.Fatalf("no Deployment of helm release %s in %s", name, ns)
}

// checkNoHelmRelease: the app's release was uninstalled.
func checkNoHelmRelease(t *testing.T, e *env, ns, name string) {
	t.Helper()
	secrets, err := e.lab.Clientset.CoreV1().Secrets(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "owner=helm,name=" + name})
	if err != nil || len(secrets.Items) != 0 {
		t.Fatalf("helm release %s/%s still recorded (%v): %d revisions", ns, name, err, len(secrets.Items))
	}
}
