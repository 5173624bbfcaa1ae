package follow

import (
	"context"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/traffic"
)

func TestAllRoutesShiftInOneVersion(t *testing.T) {
	m := backends(traffic.Marathon, "127.0.0.2:1")
	k := backends(traffic.Kubernetes, "10.1.0.2:8080")
	p := &pusher{s: traffic.State{Routes: []traffic.Route{{Name: "hand", PathPrefix: "/hand"}}}}
	f := &Follower{Routes: []traffic.Route{{Name: "web", PathPrefix: "/web"}, {Name: "/demo/web", PathPrefix: "/demo/web"}},
		Owner: "migrate/web", Client: p, Marathon: &m, Kubernetes: &k}
	ctx := context.Background()
	if err := f.SetKubePercent(ctx, 50); err != nil {
		t.Fatal(err)
	}
	if p.pushes != 1 {
		t.Fatalf("%d pushes, want both routes in one version", p.pushes)
	}
	a, _ := p.s.Route("web")
	b, _ := p.s.Route("/demo/web")
	if a.Owner != "migrate/web" || b.Owner != "migrate/web" || len(a.Backends) != 2 || !reflect.DeepEqual(a.Backends, b.Backends) {
		t.Fatalf("routes %+v %+v", a, b)
	}
	if b.PathPrefix != "/demo/web" {
		t.Fatalf("route kept its own prefix? %+v", b)
	}
	if h, _ := p.s.Route("hand"); h.Owner != "" {
		t.Fatalf("another route changed: %+v", h)
	}

	// Release hands both to sync, pools unchanged; a route someone else
	// took meanwhile stays theirs.
	p.s = p.s.WithRoute(traffic.Route{Name: "/demo/web", PathPrefix: "/demo/web", Owner: "migrate/other"})
	if err := f.Release(ctx, "sync"); err != nil {
		t.Fatal(err)
	}
	a, _ = p.s.Route("web")
	b, _ = p.s.Route("/demo/web")
	if a.Owner != "sync" || len(a.Backends) != 2 || b.Owner != "migrate/other" {
		t.Fatalf("after release: %+v %+v", a, b)
	}
	n := p.pushes
	if err := f.SetKubePercent(ctx, 100); err == nil || !strings.Contains(err.Error(), "released") || p.pushes != n {
		t.Fatalf("a released follower pushed (%v, %d → %d pushes)", err, n, p.pushes)
	}
	done := make(chan struct{})
	go func() { f.Run(ctx, nil); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return after Release")
	}
}

// gatedPusher blocks the first Update until release is closed, after
// telling entered; later Updates go straight through. Its state is shared.
type gatedPusher struct {
	mu      sync.Mutex
	s       traffic.State
	calls   int
	entered chan struct{}
	release chan struct{}
}

func (p *gatedPusher) Update(ctx context.Context, change func(traffic.State) (traffic.State, error)) (traffic.State, error) {
	p.mu.Lock()
	p.calls++
	first := p.calls == 1
	p.mu.Unlock()
	if first {
		close(p.entered)
		<-p.release
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	n, err := change(p.s.Clone())
	if err != nil {
		return p.s, err
	}
	n.Version = p.s.Version + 1
	p.s = n
	return n, nil
}

// TestRunNeverPushesAStalePool interleaves Run's sync with SetMarathon and
// SetKubePercent: Run's sync computed its pool (Marathon in, share 0) and is
// pushing when the executor moves everything to Kubernetes. The stale pool
// must not land after the new one (Marathon back in the pool after
// SetMarathon(false)).
func TestRunNeverPushesAStalePool(t *testing.T) {
	m := backends(traffic.Marathon, "127.0.0.2:1")
	k := backends(traffic.Kubernetes, "10.1.0.2:8080")
	p := &gatedPusher{entered: make(chan struct{}), release: make(chan struct{})}
	f := &Follower{Routes: []traffic.Route{{Name: "web", PathPrefix: "/web"}}, Client: p, Marathon: &m, Kubernetes: &k, Resync: time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go f.Run(ctx, func(err error) { t.Error(err) })
	f.Kick()
	select {
	case <-p.entered: // Run's sync is pushing Marathon-only
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not sync")
	}
	changed := make(chan error, 1)
	go func() {
		if err := f.SetKubePercent(ctx, 100); err != nil {
			changed <- err
			return
		}
		changed <- f.SetMarathon(ctx, false)
	}()
	time.Sleep(100 * time.Millisecond) // the old follower pushed both changes here
	close(p.release)
	if err := <-changed; err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // Run's sync returned (the old follower pushed its stale pool last)
	f.syncMu.Lock()
	defer f.syncMu.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	r, _ := p.s.Route("web")
	if got := traffic.Percents(r.Backends); len(r.Backends) != 1 || got[traffic.Kubernetes] != 100 {
		t.Fatalf("final pool %+v: a stale sync was pushed after SetKubePercent(100)/SetMarathon(false)", r.Backends)
	}
}

func TestRoutesFor(t *testing.T) {
	mb := func(app string) []traffic.Backend {
		return []traffic.Backend{{Address: "127.0.0.2:1", Weight: 1, Platform: traffic.Marathon, App: app}}
	}
	s := traffic.State{Routes: []traffic.Route{
		{Name: "/demo/web", PathPrefix: "/demo/web", Owner: "sync", Backends: mb("/demo/web")},
		{Name: "/demo/api", PathPrefix: "/demo/api", Backends: mb("/demo/api")},
		{Name: "web", PathPrefix: "/old", Backends: mb("/demo/web")},
		{Name: "pods", PathPrefix: "/pods", Backends: []traffic.Backend{{Address: "10.0.0.1:80", Platform: traffic.Kubernetes, App: "/demo/web"}}},
	}}
	got := RoutesFor(s, "/demo/web", traffic.Route{Name: "web", Host: "shop.example.com", PathPrefix: "/web"}, traffic.Route{Name: "extra", PathPrefix: "/x"})
	var names []string
	for _, r := range got {
		names = append(names, r.Name+" "+r.Host+r.PathPrefix)
	}
	want := []string{"/demo/web /demo/web", "web shop.example.com/web", "extra /x"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("RoutesFor = %q, want %q", names, want)
	}
	if got := RoutesFor(traffic.State{}, "/x"); len(got) != 0 {
		t.Fatalf("empty state: %+v", got)
	}
}

func TestResolver(t *testing.T) {
	calls := 0
	fail := false
	r := &Resolver{TTL: time.Nanosecond, Lookup: func(_ context.Context, host string) ([]netip.Addr, error) {
		calls++
		if fail {
			return nil, errors.New("dns down")
		}
		if host == "agent-1.prod" {
			return []netip.Addr{netip.MustParseAddr("::ffff:10.2.3.4")}, nil
		}
		return nil, errors.New("no such host")
	}}
	ctx := context.Background()
	for _, tc := range []struct{ host, want, err string }{
		{"127.0.0.3", "127.0.0.3", ""},
		{"10.0.0.7", "10.0.0.7", ""}, // a non-loopback task host is kept
		{"agent-1.prod", "10.2.3.4", ""},
		{"nowhere", "", "resolve task host nowhere: no such host"},
		{"::1", "", "not an IPv4 address"},
		{"", "", "no host"},
	} {
		ip, err := r.IPv4(ctx, tc.host)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err %v, want %q", tc.host, err, tc.err)
			}
			continue
		}
		if err != nil || ip.String() != tc.want {
			t.Errorf("%q: %v %v, want %s", tc.host, ip, err, tc.want)
		}
	}
	fail = true
	if ip, err := r.IPv4(ctx, "agent-1.prod"); err != nil || ip.String() != "10.2.3.4" {
		t.Fatalf("a DNS outage lost the last good answer: %v %v", ip, err)
	}
	if calls < 3 {
		t.Fatalf("lookups %d: the expired answer was not refreshed", calls)
	}
}
