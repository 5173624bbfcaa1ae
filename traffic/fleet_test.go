package traffic_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/testenv"
	"github.com/switchyard/switchyard/internal/wanterr"
	"github.com/switchyard/switchyard/traffic"
	"github.com/switchyard/switchyard/traffic/follow"
	"github.com/switchyard/switchyard/traffic/internal/admintest"
)

var cidrs = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.244.0.0/16")}

// fleetOf starts n fake instances named a, b, c... and a fleet of them.
func fleetOf(t *testing.T, n int) (*traffic.Fleet, []*admintest.Server) {
	t.Helper()
	var srvs []*admintest.Server
	f := &traffic.Fleet{BackendCIDRs: cidrs}
	for i := 0; i < n; i++ {
		s := admintest.New(t, "tok-"+string(rune('a'+i)), cidrs, false)
		srvs = append(srvs, s)
		f.Instances = append(f.Instances, s.Client(string(rune('a'+i))))
	}
	return f, srvs
}

func webRoute(addrs ...string) traffic.Route {
	r := traffic.Route{Name: "web", PathPrefix: "/web", Owner: "migrate/web"}
	for _, a := range addrs {
		r.Backends = append(r.Backends, traffic.Backend{Address: a, Weight: 1, Platform: traffic.Kubernetes, App: "web"})
	}
	return r
}

// sameEverywhere fails unless every server holds want (version and routes).
func sameEverywhere(t *testing.T, srvs []*admintest.Server, want traffic.State) {
	t.Helper()
	for i, s := range srvs {
		if got := s.State(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("instance %d holds %+v, want %+v", i, got, want)
		}
	}
}

func TestClient(t *testing.T) {
	ctx := context.Background()
	srv := admintest.New(t, "s3cret", cidrs, true)
	dir := t.TempDir()
	good := filepath.Join(dir, "token")
	bad := filepath.Join(dir, "wrong")
	os.WriteFile(good, []byte("s3cret\n"), 0o600)
	os.WriteFile(bad, []byte("nope\n"), 0o600)
	tests := []struct {
		name    string
		client  *traffic.Client
		do      func(c *traffic.Client) error
		is      error
		wantErr []string // substrings; none = success
	}{
		{"health needs no token", &traffic.Client{Name: "lb1", AdminURL: srv.URL, CAFile: srv.CAFile}, func(c *traffic.Client) error {
			h, err := c.Health(ctx)
			if err == nil && (h.Status != "ok" || h.Instance != srv.ID()) {
				return fmt.Errorf("health %+v", h)
			}
			return err
		}, nil, nil},
		{"token file, https with the CA", &traffic.Client{Name: "lb1", AdminURL: srv.URL, TokenFile: good, CAFile: srv.CAFile}, func(c *traffic.Client) error {
			st, err := c.Put(ctx, traffic.State{Version: 7, Routes: []traffic.Route{webRoute("127.0.0.2:80")}})
			if err == nil && st.Version != 7 {
				return fmt.Errorf("stored %+v", st)
			}
			if got, err := c.Get(ctx); err != nil || got.Version != 7 || got.Routes[0].Owner != "migrate/web" {
				return fmt.Errorf("get %+v %v", got, err)
			}
			return err
		}, nil, nil},
		{"token refused", &traffic.Client{Name: "lb1", AdminURL: srv.URL, TokenFile: bad, CAFile: srv.CAFile}, func(c *traffic.Client) error {
			_, err := c.Get(ctx)
			return err
		}, traffic.ErrUnauthorized, []string{"lb1", srv.URL, "the admin token was refused (401: missing or wrong admin token)", "check the token file " + bad}},
		{"no token configured", &traffic.Client{Name: "lb1", AdminURL: srv.URL, CAFile: srv.CAFile}, func(c *traffic.Client) error {
			_, err := c.Stats(ctx)
			return err
		}, traffic.ErrUnauthorized, []string{"no token is configured", "token file"}},
		{"missing token file", &traffic.Client{Name: "lb1", AdminURL: srv.URL, TokenFile: filepath.Join(dir, "absent"), CAFile: srv.CAFile}, func(c *traffic.Client) error {
			_, err := c.Get(ctx)
			return err
		}, os.ErrNotExist, []string{"lb1", "read the admin token"}},
		{"unknown CA", &traffic.Client{Name: "lb1", AdminURL: srv.URL, Token: "s3cret"}, func(c *traffic.Client) error {
			_, err := c.Get(ctx)
			return err
		}, traffic.ErrUnreachable, []string{"lb1", "certificate"}},
		{"stale version", &traffic.Client{Name: "lb1", AdminURL: srv.URL, Token: "s3cret", CAFile: srv.CAFile}, func(c *traffic.Client) error {
			_, err := c.Put(ctx, traffic.State{Version: 1})
			return err
		}, traffic.ErrConflict, []string{"lb1", "not newer than the active version 7"}},
		{"refused state", &traffic.Client{Name: "lb1", AdminURL: srv.URL, Token: "s3cret", CAFile: srv.CAFile}, func(c *traffic.Client) error {
			_, err := c.Put(ctx, traffic.State{Version: 8, Routes: []traffic.Route{webRoute("8.8.8.8:53")}})
			return err
		}, traffic.ErrRefused, []string{"lb1", "refused the routing state", "routes[0].backends[0].address"}},
		{"unreachable", &traffic.Client{Name: "lb9", AdminURL: "http://127.0.0.1:1", Token: "x"}, func(c *traffic.Client) error {
			_, err := c.Get(ctx)
			return err
		}, traffic.ErrUnreachable, []string{"lb9", "http://127.0.0.1:1", "is nginx running there? check the context's loadBalancer.instances"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.do(tt.client)
			if wanterr.Check(t, err, tt.wantErr...) && tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("err = %v, want %v", err, tt.is)
			}
		})
	}
}

func TestFleetPushToAll(t *testing.T) {
	f, srvs := fleetOf(t, 3)
	st, err := f.SetRoute(context.Background(), webRoute("127.0.0.2:80"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Version != 1 || !f.Acknowledged() {
		t.Fatalf("version %d, acknowledged %v", st.Version, f.Acknowledged())
	}
	sameEverywhere(t, srvs, st)
	for _, s := range f.Status() {
		if !s.Reachable || !s.Acknowledged || s.Version != 1 || s.LastError != nil {
			t.Errorf("status %+v", s)
		}
	}
	// No change: nothing pushed.
	if again, err := f.SetRoute(context.Background(), webRoute("127.0.0.2:80")); err != nil || again.Version != 1 || srvs[0].Puts() != 1 {
		t.Fatalf("unchanged route pushed again: %+v %v (%d puts)", again, err, srvs[0].Puts())
	}
	// The next version is one more than the newest instance's.
	srvs[1].Restart(traffic.State{Version: 41})
	st, err = f.RemoveRoute(context.Background(), "web")
	if err != nil || st.Version != 42 || len(st.Routes) != 0 {
		t.Fatalf("after an instance at 41: %+v %v", st, err)
	}
	sameEverywhere(t, srvs, st)
}

// TestFleetUnreachableInstance: the push is not acknowledged (naming the
// instance and the fix), the fleet keeps the state, and Run pushes it when
// the instance answers again.
func TestFleetUnreachableInstance(t *testing.T) {
	f, srvs := fleetOf(t, 3)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := f.SetRoute(ctx, webRoute("127.0.0.2:80")); err != nil {
		t.Fatal(err)
	}
	srvs[2].SetDown(true)
	want, err := f.SetRoute(ctx, webRoute("127.0.0.3:80"))
	var na *traffic.NotAcknowledgedError
	if !errors.Is(err, traffic.ErrNotAcknowledged) || !errors.As(err, &na) {
		t.Fatalf("err = %v, want ErrNotAcknowledged", err)
	}
	t.Logf("unreachable: %v", err)
	if na.Version != 2 || len(na.Pending) != 1 || na.Pending["c"] == nil {
		t.Fatalf("pending %+v", na)
	}
	wanterr.Check(t, err, "version 2 not acknowledged by 1 of 3", "c: nginx instance c ("+srvs[2].URL+")", "is nginx running there?", "pushes it to them again while they lag")
	if f.Acknowledged() || want.Version != 2 {
		t.Fatalf("acknowledged %v, state %+v", f.Acknowledged(), want)
	}
	if d, ok := f.Desired(); !ok || fmt.Sprint(d) != fmt.Sprint(want) {
		t.Fatalf("desired %+v", d)
	}
	if srvs[0].State().Version != 2 || srvs[2].State().Version != 1 {
		t.Fatal("the reachable instances should hold version 2, the other version 1")
	}
	// The same change again (a follower's resync): no new version, still
	// not acknowledged.
	puts := srvs[0].Puts()
	if st, err := f.SetRoute(ctx, webRoute("127.0.0.3:80")); !errors.Is(err, traffic.ErrNotAcknowledged) || st.Version != 2 || srvs[0].Puts() != puts {
		t.Fatalf("unchanged route while c is down: %+v %v (%d puts, was %d)", st, err, srvs[0].Puts(), puts)
	}
	var mu sync.Mutex
	var events []string
	f.Period = 10 * time.Millisecond
	f.OnEvent = func(e string) { mu.Lock(); events = append(events, e); mu.Unlock() }
	f.OnError = func(err error) { mu.Lock(); events = append(events, "error: "+err.Error()); mu.Unlock() }
	go f.Run(ctx)
	time.Sleep(50 * time.Millisecond)
	if st := f.Status()[2]; st.Reachable || st.Acknowledged || st.LastError == nil {
		t.Fatalf("status of the unreachable instance: %+v", st)
	}
	srvs[2].SetDown(false)
	// The catch-up reports its event after the push is acknowledged: wait
	// for both.
	const broughtUp = "load balancer instance c brought up to routing state version 2 (it held version 1)"
	testenv.Eventually(t, 5*time.Second, 5*time.Millisecond, "c acknowledged and its catch-up reported", func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		all := strings.Join(events, "\n")
		return f.Acknowledged() && strings.Contains(all, broughtUp), "events:\n" + all
	})
	sameEverywhere(t, srvs, want)
	mu.Lock()
	defer mu.Unlock()
	all := strings.Join(events, "\n")
	if !strings.Contains(all, "load balancer instance c answers again") {
		t.Fatalf("events:\n%s", all)
	}
	if n := strings.Count(all, "error: "); n != 1 {
		t.Fatalf("%d errors reported while c was down for several rounds, want 1:\n%s", n, all)
	}
}

// TestFleetRestartedInstance: an instance that restarted with an older
// state (new id) gets the current one.
func TestFleetRestartedInstance(t *testing.T) {
	f, srvs := fleetOf(t, 3)
	ctx := context.Background()
	old, _ := f.SetRoute(ctx, webRoute("127.0.0.2:80"))
	want, err := f.SetRoute(ctx, webRoute("127.0.0.3:80"))
	if err != nil || f.Sync(ctx) != nil {
		t.Fatal(err)
	}
	oldID := srvs[1].ID()
	srvs[1].Restart(old)
	var events []string
	f.OnEvent = func(e string) { events = append(events, e) }
	if err := f.Sync(ctx); err != nil {
		t.Fatalf("sync: %v", err)
	}
	sameEverywhere(t, srvs, want)
	all := strings.Join(events, "\n")
	if !strings.Contains(all, "instance b restarted (instance id "+oldID) || !strings.Contains(all, "brought up to routing state version 2") {
		t.Fatalf("events:\n%s", all)
	}
}

// TestFleetConcurrentWriters: two fleets (two processes) over the same
// instances converge, and no change is lost.
func TestFleetConcurrentWriters(t *testing.T) {
	f1, srvs := fleetOf(t, 3)
	f2 := &traffic.Fleet{BackendCIDRs: cidrs}
	for i, s := range srvs {
		f2.Instances = append(f2.Instances, s.Client(string(rune('a'+i))))
	}
	const per = 15
	var wg sync.WaitGroup
	errs := make(chan error, 2*per)
	for w, f := range []*traffic.Fleet{f1, f2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				name := fmt.Sprintf("w%d-%d", w, i)
				if _, err := f.SetRoute(context.Background(), traffic.Route{Name: name, PathPrefix: "/" + name}); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	final := srvs[0].State()
	sameEverywhere(t, srvs, final)
	if len(final.Routes) != 2*per {
		t.Fatalf("%d routes after %d changes: %+v", len(final.Routes), 2*per, final)
	}
}

// TestFleetRefusedByOne: an instance refuses a state the others accepted:
// the others get the previous routes back and the error says nothing
// changed, and why.
func TestFleetRefusedByOne(t *testing.T) {
	f, srvs := fleetOf(t, 3)
	ctx := context.Background()
	before, err := f.SetRoute(ctx, webRoute("127.0.0.2:80"))
	if err != nil {
		t.Fatal(err)
	}
	srvs[1].SetRefuse(func(s traffic.State) error {
		if r, ok := s.Route("web"); ok && len(r.Backends) > 0 && strings.HasPrefix(r.Backends[0].Address, "10.244.") {
			return errors.New("routes[0].backends[0].address: 10.244.0.9:80 is in none of the backend CIDRs [127.0.0.0/8]")
		}
		return nil
	})
	_, err = f.SetRoute(ctx, webRoute("10.244.0.9:80"))
	t.Logf("refused: %v", err)
	if !errors.Is(err, traffic.ErrRefused) || errors.Is(err, traffic.ErrNotAcknowledged) {
		t.Fatalf("err = %v, want ErrRefused only", err)
	}
	wanterr.Check(t, err, "version 2 not applied (nothing changed)", "nginx instance b", "10.244.0.9:80 is in none of the backend CIDRs", "instances a, c had accepted it and hold the previous routes again, as version 3")
	back := before
	back.Version = 3
	sameEverywhere(t, srvs, back)
	if !f.Acknowledged() {
		t.Fatal("not acknowledged after the roll-back")
	}
}

// TestFleetTokenRefused: one instance refuses the token: the push is not
// acknowledged there, with a message saying to check the token file.
func TestFleetTokenRefused(t *testing.T) {
	f, _ := fleetOf(t, 2)
	f.Instances[1].Token = "wrong"
	_, err := f.SetRoute(context.Background(), webRoute("127.0.0.2:80"))
	var na *traffic.NotAcknowledgedError
	t.Logf("token refused: %v", err)
	if !errors.As(err, &na) || !errors.Is(na.Pending["b"], traffic.ErrUnauthorized) {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(err.Error(), "the admin token was refused") || !strings.Contains(err.Error(), "check the configured token") {
		t.Fatalf("err = %v", err)
	}
	if st := f.Status()[1]; !st.Reachable || st.Acknowledged {
		t.Fatalf("status %+v", st)
	}
}

func TestFleetNothingReachable(t *testing.T) {
	f, srvs := fleetOf(t, 2)
	srvs[0].SetDown(true)
	srvs[1].SetDown(true)
	_, err := f.SetRoute(context.Background(), webRoute("127.0.0.2:80"))
	if err == nil || !strings.Contains(err.Error(), "routing state not changed: no load balancer instance answered") || !errors.Is(err, traffic.ErrUnreachable) {
		t.Fatalf("err = %v", err)
	}
	if _, ok := f.Desired(); ok {
		t.Fatal("a desired state without a base")
	}
	if err := (&traffic.Fleet{}).Sync(context.Background()); err == nil || !strings.Contains(err.Error(), "loadBalancer.instances") {
		t.Fatalf("empty fleet: %v", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	testenv.Eventually(t, 5*time.Second, 5*time.Millisecond, "the condition", func() (bool, string) { return cond(), "" })
}

// The follower pushes through a Fleet.
var _ follow.Pusher = (*traffic.Fleet)(nil)

// TestClientTokenRotation: the token file is read at the first request and
// again after a 401, so a rotated token is picked up without a restart.
func TestClientTokenRotation(t *testing.T) {
	srv := admintest.New(t, "new", cidrs, false)
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &traffic.Client{Name: "lb1", AdminURL: srv.URL, TokenFile: file}
	if _, err := c.Get(context.Background()); !errors.Is(err, traffic.ErrUnauthorized) {
		t.Fatalf("old token: %v", err)
	}
	if err := os.WriteFile(file, []byte(" new\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(context.Background()); err != nil {
		t.Fatalf("rotated token: %v", err)
	}
}

// TestSamplerRun: the background sampler keeps snapshots that answer a
// window without a fresh scrape.
func TestSamplerRun(t *testing.T) {
	f, srvs := fleetOf(t, 2)
	var errs []error
	var mu sync.Mutex
	s := &traffic.Sampler{Fleet: f, Period: 10 * time.Millisecond, OnError: func(err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	time.Sleep(100 * time.Millisecond)
	from := time.Now()
	time.Sleep(100 * time.Millisecond) // a snapshot at or after from
	srvs[0].Observe("web", traffic.Kubernetes, 5, 200, time.Millisecond)
	srvs[1].Observe("web", traffic.Kubernetes, 7, 200, time.Millisecond)
	time.Sleep(100 * time.Millisecond)
	to := time.Now()
	time.Sleep(100 * time.Millisecond)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
	st, err := s.Window(context.Background(), from, to, []string{"web"}, traffic.Kubernetes)
	if err != nil || st.Requests != 12 {
		t.Fatalf("window %v %v", st, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
}
