package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/switchyard/switchyard/deploy"
	"github.com/switchyard/switchyard/internal/kubeclient"
	"github.com/switchyard/switchyard/lab"
	"github.com/switchyard/switchyard/marathon"
	"github.com/switchyard/switchyard/migrate"
	"github.com/switchyard/switchyard/migrate/edge"
	"github.com/switchyard/switchyard/traffic/loadgen"
)

// loads runs one load generator per route until the function it returns
// stops them all and adds them up.
func loads(lb string, routes []string, rate int) func() (sent, failed int64, errs []string) {
	ls := make([]*loadgen.Load, len(routes))
	for i, r := range routes {
		ls[i] = loadgen.Start(context.Background(), loadgen.Config{Target: lb, Path: "/" + r + "/", Conns: 2, PostEvery: 3, Rate: rate})
	}
	return func() (sent, failed int64, errs []string) {
		for i, l := range ls {
			r := l.Stop()
			sent += r.Sent
			failed += r.Failed
			for e, n := range r.Errors {
				errs = append(errs, fmt.Sprintf("%s: %d× %s", routes[i], n, e))
			}
		}
		return
	}
}

// TestWave migrates several apps with at most 2 at once, under load on
// every route: all finalized, no failed request; total time next to one app's.
func TestWave(t *testing.T) {
	e := setup(t, time.Second)
	p := migrate.Spec{PausePerStep: time.Second, Soak: 500 * time.Millisecond, MaxErrorRate: 0.01, Steps: []int{25, 100}}
	var apps []migrate.App
	var routes []string
	for i := 0; i < 4; i++ {
		tgt := e.deploy(t, fmt.Sprintf("wave%d", i), nil, p)
		apps = append(apps, tgt.App)
		routes = append(routes, tgt.App.Route)
	}
	done := loads(theLab.Config.Nginx.Listen, routes, 50)
	time.Sleep(time.Second)
	t0 := time.Now()
	rs := e.x.Wave(context.Background(), apps, 2)
	total := time.Since(t0)
	time.Sleep(time.Second)
	sent, failed, errs := done()
	var fastest time.Duration
	for _, r := range rs {
		if r.Err != nil || r.State.Phase != migrate.Finalized {
			t.Fatalf("%s: %v (%s)\n%s", r.App, r.Err, r.State.Phase, e.out.String())
		}
		if fastest == 0 || r.Duration < fastest {
			fastest = r.Duration
		}
	}
	t.Logf("wave of %d apps, 2 at once: %s total; one app %s; requests sent %d, failed %d", len(apps), total.Round(time.Millisecond), fastest.Round(time.Millisecond), sent, failed)
	if failed != 0 {
		t.Fatalf("%d of %d requests failed: %v", failed, sent, errs)
	}
}

// TestChartNeverReady: the Kubernetes version never becomes ready (its
// /ready answers 503). The readiness wait times out, the migration rolls
// back, Marathon keeps serving with no failed request, and the journal
// says what happened.
func TestChartNeverReady(t *testing.T) {
	e := setup(t, time.Second)
	e.x.ActionTimeout = 15 * time.Second
	tgt := e.deploy(t, "never", map[string]string{"DEMO_UNHEALTHY": "1"}, plan)
	done := loads(theLab.Config.Nginx.Listen, []string{"never"}, 100)
	r := e.x.Migrate(context.Background(), tgt.App)
	sent, failed, errs := done()
	t.Logf("executor:\n%s", e.out.String())
	if r.State.Phase != migrate.RolledBack || !strings.Contains(fmt.Sprint(r.Err), "wait for the Kubernetes release to be ready") || !strings.Contains(fmt.Sprint(r.Err), "not ready") {
		t.Fatalf("want a rollback naming the readiness timeout: %v (%s)", r.Err, r.State.Phase)
	}
	es, _ := e.j.Load("never")
	if !strings.Contains(es[len(es)-4].Reason, "timed out") {
		t.Fatalf("journal entry for the failure: %+v", es[len(es)-4])
	}
	if failed != 0 || sent == 0 {
		t.Fatalf("%d of %d requests failed: %v", failed, sent, errs)
	}
}

// flakyMarathon is the real Marathon edge, or one whose client points at a
// closed port (connection refused: Marathon unreachable) while down.
type flakyMarathon struct {
	live, dead edge.Marathon
	down       atomic.Bool
	onScale0   func()
}

func (f *flakyMarathon) m() edge.Marathon {
	if f.down.Load() {
		return f.dead
	}
	return f.live
}
func (f *flakyMarathon) Instances(ctx context.Context, a migrate.App) (int, error) {
	return f.m().Instances(ctx, a)
}
func (f *flakyMarathon) Scale(ctx context.Context, a migrate.App, n int) error {
	if n == 0 && f.onScale0 != nil {
		f.onScale0()
	}
	return f.m().Scale(ctx, a, n)
}
func (f *flakyMarathon) Delete(ctx context.Context, a migrate.App) error { return f.m().Delete(ctx, a) }
func (f *flakyMarathon) Definition(ctx context.Context, a migrate.App) (json.RawMessage, error) {
	return f.m().Definition(ctx, a)
}
func (f *flakyMarathon) Create(ctx context.Context, a migrate.App, def json.RawMessage, n int) error {
	return f.m().Create(ctx, a, def, n)
}

// TestMarathonUnreachableMidMigration: Marathon stops answering when its
// scale-down begins (after its backends left nginx) and comes back 6 s
// later. The scale-down fails, the rollback retries until Marathon answers,
// and ends with Marathon alone serving, no request failed.
func TestMarathonUnreachableMidMigration(t *testing.T) {
	e := setup(t, time.Second)
	dead, err := marathon.NewClient(marathon.Config{URL: "http://127.0.0.1:1", Retries: -1, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	fm := &flakyMarathon{live: edge.Marathon{Client: e.lab.Marathon}, dead: edge.Marathon{Client: dead}}
	fm.onScale0 = func() {
		fm.down.Store(true)
		time.AfterFunc(6*time.Second, func() { fm.down.Store(false) })
	}
	e.x.Marathon = fm
	e.x.RetryBackoff = time.Second
	p := plan
	p.Steps = []int{50, 100}
	tgt := e.deploy(t, "unreach", nil, p)
	done := loads(theLab.Config.Nginx.Listen, []string{"unreach"}, 100)
	r := e.x.Migrate(context.Background(), tgt.App)
	time.Sleep(time.Second)
	sent, failed, errs := done()
	t.Logf("executor:\n%s", e.out.String())
	if r.State.Phase != migrate.RolledBack || !strings.Contains(fmt.Sprint(r.Err), "scale Marathon to 0") {
		t.Fatalf("want a rollback after the failed scale-down: %v (%s)", r.Err, r.State.Phase)
	}
	a, err := e.lab.Marathon.App(context.Background(), tgt.App.MarathonID)
	if err != nil || a.TasksHealthy == nil || *a.TasksHealthy != 2 {
		t.Fatalf("Marathon after rollback: %v", err)
	}
	if failed != 0 || sent == 0 {
		t.Fatalf("%d of %d requests failed: %v", failed, sent, errs)
	}
}

// flakyKube is the real Kubernetes edge, or one whose clients point at a
// closed port (API server unreachable) while down.
type flakyKube struct {
	live, dead migrate.Kubernetes
	down       atomic.Bool
}

func (f *flakyKube) k() migrate.Kubernetes {
	if f.down.Load() {
		return f.dead
	}
	return f.live
}
func (f *flakyKube) Install(ctx context.Context, a migrate.App) error { return f.k().Install(ctx, a) }
func (f *flakyKube) WaitReady(ctx context.Context, a migrate.App) error {
	return f.k().WaitReady(ctx, a)
}
func (f *flakyKube) Remove(ctx context.Context, a migrate.App) error { return f.k().Remove(ctx, a) }

// TestAPIServerUnreachableMidMigration: the API server stops answering
// while the executor waits for readiness (after install) and comes back
// 8 s later; the readiness wait times out, the rollback's removal retries
// until the API server answers: Kubernetes removed, Marathon serving, no
// request failed.
func TestAPIServerUnreachableMidMigration(t *testing.T) {
	e := setup(t, time.Second)
	e.x.ActionTimeout, e.x.RetryBackoff = 4*time.Second, time.Second
	deadK := &edge.Helm{Releases: &deploy.Releases{Kube: &kubeclient.Factory{Kubeconfig: deadKubeconfig(t), Timeout: time.Second}}}
	fk := &flakyKube{live: e.lab.Kubernetes, dead: deadK}
	e.x.Kubernetes = &installThenDown{flakyKube: fk}
	tgt := e.deploy(t, "apidown", nil, plan)
	rel, err := e.lab.Kubernetes.Release(tgt.App.Name)
	if err != nil {
		t.Fatal(err)
	}
	deadK.Set(tgt.App.Name, rel)
	done := loads(theLab.Config.Nginx.Listen, []string{"apidown"}, 100)
	r := e.x.Migrate(context.Background(), tgt.App)
	sent, failed, errs := done()
	t.Logf("executor:\n%s", e.out.String())
	if r.State.Phase != migrate.RolledBack || !strings.Contains(fmt.Sprint(r.Err), "ready") {
		t.Fatalf("want a rollback after the readiness wait failed: %v (%s)", r.Err, r.State.Phase)
	}
	if _, err := e.lab.Clientset.AppsV1().Deployments("mig").Get(context.Background(), "apidown", metav1GetOptions); err == nil {
		t.Fatal("the Deployment is still there after the rollback")
	}
	if failed != 0 || sent == 0 {
		t.Fatalf("%d of %d requests failed: %v", failed, sent, errs)
	}
}

// deadKubeconfig is the lab's kubeconfig with every cluster's server at a
// closed port.
func deadKubeconfig(t *testing.T) string {
	t.Helper()
	kc, err := clientcmd.LoadFromFile(lab.Kubeconfig(theLab.Config))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range kc.Clusters {
		c.Server = "https://127.0.0.1:1"
	}
	path := filepath.Join(t.TempDir(), "dead.kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// installThenDown takes the API server away right after the install.
type installThenDown struct{ *flakyKube }

func (i *installThenDown) Install(ctx context.Context, a migrate.App) error {
	err := i.flakyKube.Install(ctx, a)
	i.down.Store(true)
	time.AfterFunc(8*time.Second, func() { i.down.Store(false) })
	return err
}
