// Package e2e tests live migration on a whole real lab: lab Marathon, a
// real Kubernetes control plane with node agents, the shared nginx.
package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/switchyard/switchyard/internal/connect"
	"github.com/switchyard/switchyard/journal"
	"github.com/switchyard/switchyard/lab"
	"github.com/switchyard/switchyard/lab/labtest"
	"github.com/switchyard/switchyard/migrate"
	"github.com/switchyard/switchyard/migrate/edge"
	"github.com/switchyard/switchyard/migrate/edge/edgetest"
	"github.com/switchyard/switchyard/traffic/loadgen"
)

var theLab *labtest.Lab

func TestMain(m *testing.M) {
	os.Exit(labtest.Main(m, labtest.Options{Kubernetes: true, Nginx: true, Nodes: 3}, &theLab))
}

type env struct {
	lab *edge.Edges
	j   *journal.Bolt
	x   *migrate.Executor
	out *strings.Builder
}

func setup(t *testing.T, pause time.Duration) *env {
	l := labtest.Need(t, theLab)
	el, err := connect.Migration(context.Background(), lab.ContextFor(l.Config))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(el.Close)
	el.OnError = func(err error) { t.Logf("follower: %v", err) }
	j, err := journal.Open(filepath.Join(t.TempDir(), "journal.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	out := &strings.Builder{}
	x := el.Executor(j)
	x.Drain, x.Progress, x.ActionTimeout = time.Second, &syncBuilder{b: out}, 2*time.Minute
	return &env{lab: el, j: j, x: x, out: out}
}

// deploy deploys the demo app (edgetest.DemoApp) on Marathon and routes it
// through nginx (Marathon only).
func (e *env) deploy(t *testing.T, name string, kubeEnv map[string]string, p migrate.Spec) edge.Target {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	app, tgt, err := edgetest.DemoApp(name, "mig", 2, kubeEnv, p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.lab.Marathon.CreateApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	if err := (edge.Marathon{Client: e.lab.Marathon}).Scale(ctx, tgt.App, 2); err != nil {
		t.Fatal(err)
	}
	f, err := e.lab.Add(ctx, tgt, e.j)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.SetKubePercent(ctx, 0); err != nil {
		t.Fatal(err)
	}
	return tgt
}

type syncBuilder struct{ b *strings.Builder }

var outMu = make(chan struct{}, 1)

func (s *syncBuilder) Write(p []byte) (int, error) {
	outMu <- struct{}{}
	defer func() { <-outMu }()
	return s.b.Write(p)
}

// loadConfig is the load of the tests: 8 keep-alive connections to path
// through nginx, one POST in three, 400 req/s, no retries.
func loadConfig(lbAddr, path string) loadgen.Config {
	return loadgen.Config{Target: lbAddr, Path: path, Conns: 8, PostEvery: 3, Rate: 400}
}

// load runs loadConfig in the background until Stop.
func load(lbAddr, path string) *loadgen.Load {
	return loadgen.Start(context.Background(), loadConfig(lbAddr, path))
}

var plan = migrate.Spec{PausePerStep: 2 * time.Second, Soak: time.Second, MaxErrorRate: 0.01, MinRequests: 5}

// TestMigrateZeroFailed migrates a demo app from the lab's Marathon to its
// Kubernetes under steady keep-alive load (GET and POST, no retries) and
// requires zero failed requests.
func TestMigrateZeroFailed(t *testing.T) {
	e := setup(t, plan.PausePerStep)
	tgt := e.deploy(t, "web", nil, plan)
	var r migrate.Result
	lg := loadgen.Around(context.Background(), loadConfig(theLab.Config.Nginx.Listen, "/web/"), 2*time.Second, func() {
		r = e.x.Migrate(context.Background(), tgt.App)
	})
	t.Logf("executor:\n%s", e.out.String())
	t.Logf("load:\n%s", lg)
	if r.Err != nil || r.State.Phase != migrate.Finalized {
		t.Fatalf("migration: %v (%s)", r.Err, r.State.Phase)
	}
	if err := lg.ZeroFailed(1000); err != nil {
		t.Fatal(err)
	}
	if _, err := e.lab.Marathon.App(context.Background(), tgt.App.MarathonID); err == nil {
		t.Fatalf("the Marathon app %s still exists after finalize", tgt.App.MarathonID)
	}
}

// TestBadReleaseRollsBack: the Kubernetes version fails 30% of its
// requests (DEMO_FAIL_RATE). The 5% step's gate must trip, all traffic
// return to Marathon and the release be removed. At the client no request
// may fail in any other way than the bad release's own 500s during that
// first step (no transport error, nothing before or after).
func TestBadReleaseRollsBack(t *testing.T) {
	e := setup(t, plan.PausePerStep)
	tgt := e.deploy(t, "bad", map[string]string{"DEMO_FAIL_RATE": "0.3"}, plan)
	var r migrate.Result
	lg := loadgen.Around(context.Background(), loadConfig(theLab.Config.Nginx.Listen, "/bad/"), 2*time.Second, func() {
		r = e.x.Migrate(context.Background(), tgt.App)
	})
	t.Logf("executor:\n%s", e.out.String())
	t.Logf("load:\n%s", lg)
	if r.State.Phase != migrate.RolledBack || !strings.Contains(fmt.Sprint(r.Err), "gate maxErrorRate failed at step 5%") {
		t.Fatalf("want a rollback at the 5%% gate: %v (%s)", r.Err, r.State.Phase)
	}
	if err := lg.FailedOnlyDuring("status 500"); err != nil {
		t.Fatal(err)
	}
	if lg.Failed > lg.Sent/20 {
		t.Fatalf("%d of %d failed", lg.Failed, lg.Sent)
	}
	a, err := e.lab.Marathon.App(context.Background(), tgt.App.MarathonID)
	if err != nil || a.TasksHealthy == nil || *a.TasksHealthy != 2 {
		t.Fatalf("Marathon after rollback: %v %+v", err, a)
	}
	d, err := e.lab.Clientset.AppsV1().Deployments("mig").Get(context.Background(), "bad", metav1GetOptions)
	if err == nil {
		t.Fatalf("Kubernetes release still there: %s", d.Name)
	}
}

var metav1GetOptions = metav1.GetOptions{}
