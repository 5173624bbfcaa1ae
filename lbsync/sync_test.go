package lbsync

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/testenv"
	"github.com/switchyard/switchyard/traffic"
	"github.com/switchyard/switchyard/traffic/follow"
)

// fakeNginx applies changes to its state like traffic.Client.Update.
type fakeNginx struct {
	mu     sync.Mutex
	s      traffic.State
	pushes int
	down   bool
}

func (n *fakeNginx) Update(ctx context.Context, change func(traffic.State) (traffic.State, error)) (traffic.State, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.down {
		return traffic.State{}, errors.New("connection refused")
	}
	next, err := change(n.s.Clone())
	if err != nil {
		return traffic.State{}, err
	}
	if err := traffic.Validate(next, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.0/8")}); err != nil {
		return traffic.State{}, err
	}
	next.Version = n.s.Version + 1
	n.s, n.pushes = next, n.pushes+1
	return next, nil
}

func (n *fakeNginx) route(name string) (traffic.Route, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.s.Route(name)
}

type fakeMarathon struct {
	mu   sync.Mutex
	apps []MarathonApp
	err  error
}

func (m *fakeMarathon) List(context.Context) ([]MarathonApp, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.apps, m.err
}

func (m *fakeMarathon) set(err error, apps ...MarathonApp) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.apps, m.err = apps, err
}

func TestSyncer(t *testing.T) {
	ctx := context.Background()
	n := &fakeNginx{s: traffic.State{Version: 3, Routes: []traffic.Route{
		{Name: "hand", PathPrefix: "/hand"},
		{Name: "/demo/api", PathPrefix: "/demo/api", Owner: "migrate/api", Backends: []traffic.Backend{kb("demo/api", "api-1", "10.9.0.9:80")}},
	}}}
	m := &fakeMarathon{err: errors.New("connection refused")}
	var logs []string
	s := &Syncer{Pusher: n, Marathon: m, Logf: func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) }}
	labels := map[string]string{"HAPROXY_GROUP": "external", "HAPROXY_0_PATH": "/demo/web"}
	apiLabels := map[string]string{"HAPROXY_GROUP": "external", "HAPROXY_0_PATH": "/demo/api"}

	// Marathon never answered: nothing is pushed.
	if _, err := s.Sync(ctx); err == nil || !strings.Contains(err.Error(), "no route pushed until Marathon answers") || n.pushes != 0 {
		t.Fatalf("sync before Marathon answered: %v, %d pushes", err, n.pushes)
	}

	m.set(nil, web(labels, task("t1", "127.0.0.2", true, 31001), task("t2", "127.0.0.3", true, 31002)),
		MarathonApp{ID: "/demo/api", Labels: apiLabels, Tasks: []Task{task("a1", "127.0.0.4", true, 31003)}})
	st, err := s.Sync(ctx)
	if err != nil || st.Syncs != 1 || st.Pushes != 1 || st.Routes != 1 {
		t.Fatalf("first sync: %+v %v", st, err)
	}
	if r, _ := n.route("/demo/web"); r.Owner != Owner || len(r.Backends) != 2 {
		t.Fatalf("route %+v", r)
	}
	if r, _ := n.route("/demo/api"); r.Owner != "migrate/api" || r.Backends[0].Platform != traffic.Kubernetes {
		t.Fatalf("a migration's route was changed: %+v", r)
	}

	// In step: no push.
	if st, err := s.Sync(ctx); err != nil || st.Pushes != 1 || n.pushes != 1 || st.Syncs != 2 {
		t.Fatalf("sync in step pushed: %+v %v (%d)", st, err, n.pushes)
	}

	// Marathon restarts a task elsewhere.
	m.set(nil, web(labels, task("t1", "127.0.0.2", true, 31001), task("t3", "127.0.0.3", true, 31009)))
	if _, err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if r, _ := n.route("/demo/web"); len(r.Backends) != 2 || r.Backends[1].Address != "127.0.0.3:31009" {
		t.Fatalf("after restart: %+v", r.Backends)
	}

	// Marathon outage: the last good routes stay.
	m.set(errors.New("connection refused"))
	pushes := n.pushes
	st, err = s.Sync(ctx)
	if err != nil || n.pushes != pushes || !strings.Contains(st.LastError, "connection refused") {
		t.Fatalf("outage: %+v %v, %d → %d pushes", st, err, pushes, n.pushes)
	}
	if r, _ := n.route("/demo/web"); len(r.Backends) != 2 {
		t.Fatalf("an outage emptied the pool: %+v", r)
	}

	// nginx down: an error, retried on the next sync.
	n.down = true
	if _, err := s.Sync(ctx); err == nil || !strings.Contains(err.Error(), "push routes to nginx") {
		t.Fatalf("nginx down: %v", err)
	}
	n.down = false

	// The app is deleted: its route goes; hand-made routes stay.
	m.set(nil)
	if _, err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := n.route("/demo/web"); ok {
		t.Fatal("the route of a deleted app stayed")
	}
	if _, ok := n.route("hand"); !ok {
		t.Fatal("a hand-made route was removed")
	}
	joined := strings.Join(logs, "\n")
	for _, want := range []string{"add route /demo/web", "update route /demo/web: +127.0.0.3:31009 -127.0.0.3:31002", "remove route /demo/web",
		"routes held by another owner, left alone: /demo/api (owner migrate/api)", "Marathon unreachable"} {
		if !strings.Contains(joined, want) {
			t.Errorf("log lacks %q:\n%s", want, joined)
		}
	}
}

func TestRunFollowsKicks(t *testing.T) {
	n := &fakeNginx{}
	m := &fakeMarathon{}
	labels := map[string]string{"HAPROXY_GROUP": "external", "HAPROXY_0_PATH": "/demo/web"}
	m.set(nil, web(labels, task("t1", "127.0.0.2", true, 31001)))
	s := &Syncer{Pusher: n, Marathon: m, Resync: time.Hour, Debounce: time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	waitFor(t, func() bool { r, ok := n.route("/demo/web"); return ok && len(r.Backends) == 1 })
	m.set(nil, web(labels, task("t1", "127.0.0.2", true, 31001), task("t2", "127.0.0.2", true, 31002)))
	s.Kick()
	waitFor(t, func() bool { r, _ := n.route("/demo/web"); return len(r.Backends) == 2 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	testenv.Eventually(t, 5*time.Second, 5*time.Millisecond, "the condition", func() (bool, string) { return ok(), "" })
}

type list []traffic.Backend

func (l list) Ready(context.Context) ([]traffic.Backend, error) { return l, nil }

// TestMigrationHandOver: a migration's follower takes the sync's routes
// (owner migrate/web), the sync leaves them alone while it holds them, and
// takes them back after Release("sync").
func TestMigrationHandOver(t *testing.T) {
	ctx := context.Background()
	n := &fakeNginx{}
	labels := map[string]string{"HAPROXY_GROUP": "external", "HAPROXY_0_PATH": "/demo/web"}
	m := &fakeMarathon{}
	m.set(nil, web(labels, task("t1", "127.0.0.2", true, 31001)))
	s := &Syncer{Pusher: n, Marathon: m}
	if _, err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	n.mu.Lock()
	routes := follow.RoutesFor(n.s, "/demo/web", traffic.Route{Name: "web", PathPrefix: "/web"})
	n.mu.Unlock()
	if len(routes) != 2 {
		t.Fatalf("RoutesFor found %+v", routes)
	}
	f := &follow.Follower{Routes: routes, Owner: "migrate/web", Client: n,
		Marathon: list{mb("/demo/web", "t1", "127.0.0.2:31001")}, Kubernetes: list{kb("demo/web", "web-1", "10.9.0.7:8080")}}
	if err := f.SetKubePercent(ctx, 100); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"/demo/web", "web"} {
		if r, _ := n.route(name); r.Owner != "migrate/web" || len(r.Backends) != 1 || r.Backends[0].Platform != traffic.Kubernetes {
			t.Fatalf("while the migration holds it, %s is %+v", name, r)
		}
	}
	if err := f.Release(ctx, Owner); err != nil {
		t.Fatal(err)
	}
	m.set(nil, web(labels)) // Marathon scaled down
	if _, err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if r, _ := n.route("/demo/web"); r.Owner != Owner || len(r.Backends) != 0 {
		t.Fatalf("after the hand-over: %+v", r)
	}
	if _, ok := n.route("web"); ok {
		t.Fatal("the migration's own route, handed to sync with no source, stayed")
	}
}
