package edge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/demoapp"
	"github.com/switchyard/switchyard/journal"
	"github.com/switchyard/switchyard/lab/nginx/nginxtest"
	"github.com/switchyard/switchyard/migrate"
	"github.com/switchyard/switchyard/traffic"
	"github.com/switchyard/switchyard/traffic/follow"
	"github.com/switchyard/switchyard/traffic/loadgen"
)

// simPlatform runs an app's instances as demo-app servers on loopback
// addresses (real HTTP servers behind the real nginx); it stands in for
// Marathon or Kubernetes in the tests that need no lab, and implements the
// executor's Marathon or Kubernetes interface and a follow.Source.
type simPlatform struct {
	t        *testing.T
	platform string
	ips      []string
	failRate float64
	mu       sync.Mutex
	servers  []*http.Server
	addrs    []string
	n        int
}

func (p *simPlatform) start(n int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.servers) < n {
		ip := p.ips[len(p.servers)%len(p.ips)]
		l, err := net.Listen("tcp", ip+":0")
		if err != nil {
			return err
		}
		app := demoapp.New(demoapp.Config{App: "web", Version: p.platform, FailRate: p.failRate, InstanceID: fmt.Sprintf("%s-%d", p.platform, len(p.servers)), ShutdownGrace: 5 * time.Second})
		srv := &http.Server{Handler: app}
		go srv.Serve(l)
		p.servers = append(p.servers, srv)
		p.addrs = append(p.addrs, l.Addr().String())
	}
	return nil
}

func (p *simPlatform) stop() {
	p.mu.Lock()
	srvs := p.servers
	p.servers, p.addrs = nil, nil
	p.mu.Unlock()
	for _, s := range srvs {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = s.Shutdown(ctx) // graceful: in-flight requests finish
		cancel()
	}
}

func (p *simPlatform) Ready(ctx context.Context) ([]traffic.Backend, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []traffic.Backend
	for i, a := range p.addrs {
		out = append(out, traffic.Backend{Address: a, Weight: 1, Platform: p.platform, App: "web", ID: fmt.Sprint(i)})
	}
	return out, nil
}

// Kubernetes side.
func (p *simPlatform) Install(ctx context.Context, app migrate.App) error   { return p.start(2) }
func (p *simPlatform) WaitReady(ctx context.Context, app migrate.App) error { return nil }
func (p *simPlatform) Remove(ctx context.Context, app migrate.App) error    { p.stop(); return nil }

// Marathon side.
func (p *simPlatform) Instances(ctx context.Context, app migrate.App) (int, error) { return 2, nil }
func (p *simPlatform) Scale(ctx context.Context, app migrate.App, n int) error {
	if n == 0 {
		p.stop()
		return nil
	}
	return p.start(n)
}
func (p *simPlatform) Delete(ctx context.Context, app migrate.App) error { p.stop(); return nil }
func (p *simPlatform) Definition(ctx context.Context, app migrate.App) (json.RawMessage, error) {
	return json.RawMessage(`{"id":"/web"}`), nil
}
func (p *simPlatform) Create(ctx context.Context, app migrate.App, def json.RawMessage, n int) error {
	return p.start(n)
}

type rig struct {
	x        *migrate.Executor
	fol      *follow.Follower
	marathon *simPlatform
	kube     *simPlatform
	lb       string
	out      *strings.Builder
	nginx    *nginxtest.Instance
	client   *traffic.Fleet
}

func newRig(t *testing.T, kubeFailRate float64) *rig {
	nginxtest.RequireNginx(t)
	in := nginxtest.Start(t, nil)
	client := in.Nginx.TrafficClient()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	m := &simPlatform{t: t, platform: traffic.Marathon, ips: []string{"127.0.0.2", "127.0.0.3"}}
	k := &simPlatform{t: t, platform: traffic.Kubernetes, ips: []string{"127.0.0.4", "127.0.0.5"}, failRate: kubeFailRate}
	if err := m.start(2); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.stop)
	t.Cleanup(k.stop)
	f := &follow.Follower{Routes: []traffic.Route{{Name: "web", PathPrefix: "/web"}}, Client: client, Marathon: m, Kubernetes: k, Resync: 200 * time.Millisecond}
	if err := f.SetKubePercent(ctx, 0); err != nil {
		t.Fatal(err)
	}
	go f.Run(ctx, func(err error) { t.Logf("follower: %v", err) })
	sampler := &traffic.Sampler{Fleet: client, Period: 250 * time.Millisecond}
	go func() { _ = sampler.Run(ctx) }()
	j, err := journal.Open(filepath.Join(t.TempDir(), "journal.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	tr := &Traffic{}
	tr.Add("web", f)
	out := &strings.Builder{}
	x := &migrate.Executor{Journal: j, Kubernetes: k, Marathon: m, Traffic: tr, Stats: Stats{Sampler: sampler}, Drain: 300 * time.Millisecond, Progress: syncWriter{b: out}}
	return &rig{x: x, fol: f, marathon: m, kube: k, lb: in.PublicAddr(), out: out, nginx: in, client: client}
}

type syncWriter struct{ b *strings.Builder }

var swMu sync.Mutex

func (w syncWriter) Write(p []byte) (int, error) {
	swMu.Lock()
	defer swMu.Unlock()
	return w.b.Write(p)
}

// migrateUnderLoad migrates webApp under the rig's load (a second of load
// before and after) and logs the executor's output and the load before,
// during and after; t0 and t1 bound the migration.
func (r *rig) migrateUnderLoad(t *testing.T) (got migrate.Result, lg loadgen.Result, t0, t1 time.Time) {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	res := r.load(ctx)
	time.Sleep(time.Second)
	t0 = time.Now()
	got = r.x.Migrate(context.Background(), webApp)
	t1 = time.Now()
	time.Sleep(time.Second)
	stop()
	lg = <-res
	t.Logf("executor:\n%s", r.out.String())
	t.Logf("before:  %s", lg.Between(lg.Start, t0))
	t.Logf("during:  %s", lg.Between(t0, t1))
	t.Logf("after:   %s", lg.Between(t1, t1.Add(time.Hour)))
	return got, lg, t0, t1
}

func (r *rig) load(ctx context.Context) <-chan loadgen.Result {
	ch := make(chan loadgen.Result, 1)
	go func() {
		ch <- loadgen.Run(ctx, loadgen.Config{Target: r.lb, Path: "/web/", Conns: 8, PostEvery: 3, Rate: 800})
	}()
	return ch
}

var webApp = migrate.App{Name: "web", MarathonID: "/web", Route: "web",
	Spec: migrate.Spec{PausePerStep: 1500 * time.Millisecond, Soak: 500 * time.Millisecond, MaxErrorRate: 0.01, MinRequests: 10}}

// TestMigrationThroughNginxLosesNothing migrates an app served by
// demo-app instances through the real nginx (follower, Lua balancer,
// access-log gates) under keep-alive load with GETs and POSTs: no request
// may fail.
func TestMigrationThroughNginxLosesNothing(t *testing.T) {
	r := newRig(t, 0)
	got, lg, _, _ := r.migrateUnderLoad(t)
	ctx := context.Background()
	t.Logf("total:   %s (errors %v)", lg, lg.Errors)
	if got.Err != nil || got.State.Phase != migrate.Finalized {
		t.Fatalf("migration: %v (%s)", got.Err, got.State.Phase)
	}
	if lg.Failed != 0 || lg.Sent < 1000 {
		t.Fatalf("%d of %d requests failed: %v", lg.Failed, lg.Sent, lg.Errors)
	}
	if n, _ := r.marathon.Ready(ctx); len(n) != 0 {
		t.Fatalf("Marathon still runs %d instances", len(n))
	}
	if sh, in := r.fol.KubePercent(); sh != 100 || in {
		t.Fatalf("share %d marathon in pool %v", sh, in)
	}
}

// TestBadReleaseRolledBack: the Kubernetes version answers 30% of its
// requests with 500. The gate must trip at the first step (5%), all
// traffic must go back to Marathon, the release must be removed. "Failed"
// at the client: no transport error ever; the only non-200 answers are
// the bad release's own 500s during the first step, which is what the
// gate exists to catch (a handful: 5% of the traffic × 30%).
func TestBadReleaseRolledBack(t *testing.T) {
	r := newRig(t, 0.3)
	got, lg, t0, t1 := r.migrateUnderLoad(t)
	var rb *migrate.RolledBackError
	if !errors.As(got.Err, &rb) || !strings.Contains(rb.Reason, "gate maxErrorRate failed at step 5%") {
		t.Fatalf("want a rollback at the 5%% gate, got %v", got.Err)
	}
	for what, n := range lg.Errors {
		if !strings.Contains(what, "status 500") {
			t.Errorf("%d requests failed at the client (not the bad release's 500): %s", n, what)
		}
	}
	if s := lg.Between(lg.Start, t0); s.Failed != 0 {
		t.Fatalf("failures before: %s", s)
	}
	if s := lg.Between(t1, t1.Add(time.Hour)); s.Failed != 0 || s.Sent == 0 {
		t.Fatalf("failures after the rollback: %s", s)
	}
	if lg.Failed > lg.Sent/20 {
		t.Fatalf("%d of %d failed: more than the 5%% step could", lg.Failed, lg.Sent)
	}
	if n, _ := r.kube.Ready(context.Background()); len(n) != 0 {
		t.Fatalf("Kubernetes still runs %d instances", len(n))
	}
	if sh, in := r.fol.KubePercent(); sh != 0 || !in {
		t.Fatalf("share %d marathon in pool %v", sh, in)
	}
}

// hookTraffic calls before ahead of each weight change.
type hookTraffic struct {
	migrate.Traffic
	before func(pct int)
}

func (h hookTraffic) SetKubePercent(ctx context.Context, a migrate.App, pct int) error {
	h.before(pct)
	return h.Traffic.SetKubePercent(ctx, a, pct)
}

// TestNginxDownMidMigration: nginx is stopped just before the 25% weight
// change and restarted 3 s later (it reloads its routing state from its
// state file). The push is not acknowledged, so the migration holds at 25%
// (journaled with the instance's name) instead of rolling back, continues
// once nginx answers again, and finishes with Kubernetes alone.
func TestNginxDownMidMigration(t *testing.T) {
	r := newRig(t, 0)
	r.x.RetryBackoff = 500 * time.Millisecond
	var once sync.Once
	r.x.Traffic = hookTraffic{Traffic: r.x.Traffic, before: func(pct int) {
		if pct == 25 {
			once.Do(func() {
				r.nginx.Stop()
				time.AfterFunc(3*time.Second, r.nginx.Restart)
			})
		}
	}}
	ctx, stop := context.WithCancel(context.Background())
	res := r.load(ctx)
	got := r.x.Migrate(context.Background(), webApp)
	stop()
	lg := <-res
	t.Logf("executor:\n%s", r.out.String())
	t.Logf("load (nginx itself was down for 3 s): %s %v", lg, lg.Errors)
	if got.Err != nil || got.State.Phase != migrate.Finalized {
		t.Fatalf("want the migration to hold and then finish, got %s: %v", got.State.Phase, got.Err)
	}
	st, err := r.client.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rt, _ := st.Route("web")
	if sh := traffic.Percents(rt.Backends); sh[traffic.Kubernetes] != 100 {
		t.Fatalf("route after the migration: %+v", rt.Backends)
	}
	es, _ := r.x.Journal.Load("web")
	held := false
	for _, e := range es {
		if e.Event == string(migrate.EvHeld) && strings.Contains(e.Reason, "set weights kubernetes=25%") && strings.Contains(e.Reason, "nginx") {
			held = true
		}
		if e.Event == "failed" {
			t.Fatalf("journal: a failure while nginx was down (%s): it must hold, not fail", e.Reason)
		}
	}
	if !held {
		t.Fatalf("journal: no hold naming the push and the instance: %+v", es)
	}
}
