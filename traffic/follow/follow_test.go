package follow

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/traffic"
)

type list []traffic.Backend

func (l *list) Ready(context.Context) ([]traffic.Backend, error) { return *l, nil }

type failing struct{}

func (failing) Ready(context.Context) ([]traffic.Backend, error) {
	return nil, errors.New("unreachable")
}

// pusher records the states pushed (it applies change to its own state).
type pusher struct {
	s      traffic.State
	pushes int
}

func (p *pusher) Update(ctx context.Context, change func(traffic.State) (traffic.State, error)) (traffic.State, error) {
	n, err := change(p.s)
	if err != nil {
		return p.s, err
	}
	n.Version = p.s.Version + 1
	p.s = n
	p.pushes++
	return n, nil
}

func backends(platform string, addrs ...string) list {
	var l list
	for _, a := range addrs {
		l = append(l, traffic.Backend{Address: a, Weight: 1, Platform: platform})
	}
	return l
}

func TestPoolFollowsShareAndMembership(t *testing.T) {
	m := backends(traffic.Marathon, "127.0.0.2:1", "127.0.0.3:1")
	k := backends(traffic.Kubernetes, "10.1.0.2:8080", "10.1.1.2:8080", "10.1.2.2:8080")
	p := &pusher{s: traffic.State{Routes: []traffic.Route{{Name: "other", PathPrefix: "/x"}}}}
	f := &Follower{Routes: []traffic.Route{{Name: "web", PathPrefix: "/web"}}, Client: p, Marathon: &m, Kubernetes: &k}
	ctx := context.Background()
	for _, tc := range []struct {
		share      int
		marathonIn bool
		want       map[string]float64
		backends   int
	}{
		{0, true, map[string]float64{traffic.Marathon: 100}, 2},
		{25, true, map[string]float64{traffic.Marathon: 75, traffic.Kubernetes: 25}, 5},
		{100, true, map[string]float64{traffic.Kubernetes: 100}, 3},
		{100, false, map[string]float64{traffic.Kubernetes: 100}, 3},
	} {
		if err := f.SetMarathon(ctx, tc.marathonIn); err != nil {
			t.Fatal(err)
		}
		if err := f.SetKubePercent(ctx, tc.share); err != nil {
			t.Fatal(err)
		}
		r, _ := p.s.Route("web")
		got := traffic.Percents(r.Backends)
		if len(r.Backends) != tc.backends || len(got) != len(tc.want) {
			t.Fatalf("share %d: pool %+v", tc.share, r.Backends)
		}
		for pl, w := range tc.want {
			if got[pl] < w-0.01 || got[pl] > w+0.01 {
				t.Fatalf("share %d: %s gets %.2f%%, want %.0f%%", tc.share, pl, got[pl], w)
			}
		}
		if _, ok := p.s.Route("other"); !ok {
			t.Fatal("another route was dropped")
		}
	}
	// Nothing changed: no push.
	n := p.pushes
	if err := f.Sync(ctx); err != nil || p.pushes != n {
		t.Fatalf("sync without change pushed (%d → %d, %v)", n, p.pushes, err)
	}
	// A pod leaves (not ready any more): pushed without it.
	k = k[:2]
	if err := f.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if r, _ := p.s.Route("web"); len(r.Backends) != 2 {
		t.Fatalf("after a pod left: %+v", r.Backends)
	}
}

func TestPoolRefusesToStarveAPlatform(t *testing.T) {
	var none list
	k := backends(traffic.Kubernetes, "10.1.0.2:8080")
	p := &pusher{}
	f := &Follower{Routes: []traffic.Route{{Name: "web"}}, Client: p, Marathon: &none, Kubernetes: &k}
	err := f.SetKubePercent(context.Background(), 50)
	if err == nil || !strings.Contains(err.Error(), "marathon should receive 50% of the traffic but has no ready backend") {
		t.Fatalf("err %v", err)
	}
	if s, _ := f.KubePercent(); s != 0 || p.pushes != 0 {
		t.Fatalf("a refused share was kept (%d) or pushed (%d)", s, p.pushes)
	}
	f.Marathon = failing{}
	if err := f.Sync(context.Background()); err == nil || !strings.Contains(err.Error(), "marathon backends: unreachable") {
		t.Fatalf("err %v", err)
	}
}

// racyPusher fails an Update that overlaps another (as two writers of
// nginx's versioned state would conflict).
type racyPusher struct {
	pusher
	busy atomic.Bool
}

func (p *racyPusher) Update(ctx context.Context, change func(traffic.State) (traffic.State, error)) (traffic.State, error) {
	if !p.busy.CompareAndSwap(false, true) {
		return traffic.State{}, errors.New("version conflict")
	}
	defer p.busy.Store(false)
	time.Sleep(time.Millisecond)
	return p.pusher.Update(ctx, change)
}

func TestSerialFollowersNeverOverlap(t *testing.T) {
	rp := &racyPusher{}
	s := &Serial{Pusher: rp}
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		m := backends(traffic.Marathon, fmt.Sprintf("127.0.0.2:%d", 1000+i))
		f := &Follower{Routes: []traffic.Route{{Name: fmt.Sprintf("app%d", i), PathPrefix: fmt.Sprintf("/app%d", i)}}, Client: s, Marathon: &m}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f.SetKubePercent(context.Background(), 0); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if len(rp.s.Routes) != 20 {
		t.Fatalf("%d routes pushed, want 20", len(rp.s.Routes))
	}
}

func TestWaitKubernetes(t *testing.T) {
	var k list
	var mu sync.Mutex
	f := &Follower{Routes: []traffic.Route{{Name: "web"}}, Kubernetes: sourceFunc(func() []traffic.Backend {
		mu.Lock()
		defer mu.Unlock()
		return k
	})}
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	if err := f.WaitKubernetes(ctx); err == nil || !strings.Contains(err.Error(), "no ready Kubernetes endpoint") {
		t.Fatalf("err %v", err)
	}
	time.AfterFunc(150*time.Millisecond, func() {
		mu.Lock()
		k = backends(traffic.Kubernetes, "10.1.0.2:8080")
		mu.Unlock()
	})
	if err := f.WaitKubernetes(context.Background()); err != nil {
		t.Fatal(err)
	}
}

type sourceFunc func() []traffic.Backend

func (s sourceFunc) Ready(context.Context) ([]traffic.Backend, error) { return s(), nil }
