package traffic_test

// Tests against a real nginx (Debian nginx + Lua, started by package
// labnginx on ephemeral loopback ports) and real Go HTTP backends on
// 127.0.0.x. Failures are counted with loadgen, which keeps connections
// alive and never retries.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/lab/nginx/nginxtest"
	"github.com/switchyard/switchyard/traffic"
	"github.com/switchyard/switchyard/traffic/loadgen"
	"pgregory.net/rapid"
)

func setup(t testing.TB) (*nginxtest.Instance, *traffic.Fleet) {
	t.Helper()
	in := nginxtest.Start(t, nil)
	c := in.Nginx.TrafficClient()
	if !slices.Contains(c.BackendCIDRs, netip.MustParsePrefix(in.Cfg.Kubernetes.PodCIDR)) || !slices.Contains(c.BackendCIDRs, netip.MustParsePrefix("127.0.0.0/8")) {
		t.Fatalf("client backend CIDRs %v, want loopback and the lab's pod CIDR", c.BackendCIDRs)
	}
	return in, c
}

// apply makes s the routing state (as the next version).
func apply(c *traffic.Fleet, s traffic.State) (traffic.State, error) {
	return c.Update(context.Background(), func(traffic.State) (traffic.State, error) { return s, nil })
}

func backend(b *nginxtest.Backend, weight int, platform string) traffic.Backend {
	return traffic.Backend{Address: b.Addr, Weight: weight, Platform: platform, App: "/web", ID: b.Name}
}

func TestRoutingByHostAndPath(t *testing.T) {
	in, c := setup(t)
	bs := map[string]*nginxtest.Backend{}
	for i, name := range []string{"any-root", "any-api", "web-root", "web-api-v2", "shop-cart"} {
		bs[name] = nginxtest.StartBackend(t, fmt.Sprintf("127.0.0.%d", 2+i), name)
	}
	route := func(name, host, prefix string) traffic.Route {
		return traffic.Route{Name: name, Host: host, PathPrefix: prefix, Backends: []traffic.Backend{backend(bs[name], 1, traffic.Marathon)}}
	}
	state := traffic.State{Routes: []traffic.Route{
		route("any-root", "", "/"),
		route("any-api", "", "/api"),
		route("web-root", "web.test", ""),
		route("web-api-v2", "web.test", "/api/v2/"),
		route("shop-cart", "shop.test", "/cart"),
	}}
	applied, err := apply(c, state)
	if err != nil {
		t.Fatal(err)
	}
	if applied.Version != 1 {
		t.Errorf("first version = %d, want 1", applied.Version)
	}
	cases := []struct{ host, path string }{
		{"web.test", "/"}, {"WEB.TEST", "/x"}, {"web.test", "/api/v2"}, {"web.test", "/api/v2/x"},
		{"web.test", "/api/v20"}, {"web.test", "/api"}, {"other.test", "/api/x"}, {"other.test", "/apix"},
		{"shop.test", "/cart/1"}, {"shop.test", "/"}, {"shop.test", "/cartx"},
	}
	for _, tc := range cases {
		want, ok := state.Match(tc.host, tc.path)
		if !ok {
			t.Fatalf("no Go match for %s%s", tc.host, tc.path)
		}
		code, body := nginxtest.Get(t, in.PublicAddr(), tc.host, tc.path)
		if code != 200 || !strings.HasPrefix(body, want.Name+" GET "+tc.path) {
			t.Errorf("%s%s: nginx answered %d %q, Match says route %q", tc.host, tc.path, code, body, want.Name)
		}
	}
}

func TestWeightsHonoured(t *testing.T) {
	in, c := setup(t)
	a := nginxtest.StartBackend(t, "127.0.0.2", "a")
	b := nginxtest.StartBackend(t, "127.0.0.3", "b")
	z := nginxtest.StartBackend(t, "127.0.0.4", "zero")
	for _, tc := range []struct{ wa, wb int }{{1, 3}, {3, 1}, {1, 1}} {
		_, err := c.SetRoute(context.Background(), traffic.Route{Name: "web", Backends: []traffic.Backend{
			backend(a, tc.wa, traffic.Marathon), backend(b, tc.wb, traffic.Kubernetes), backend(z, 0, traffic.Kubernetes)}})
		if err != nil {
			t.Fatal(err)
		}
		const n = 2000
		res := loadgen.Run(context.Background(), loadgen.Config{Target: in.PublicAddr(), Conns: 4, Requests: n, PostEvery: 4})
		if res.Failed != 0 || res.OK != n {
			t.Fatalf("weights %d/%d: %s %v", tc.wa, tc.wb, res, res.Errors)
		}
		wantA := float64(n) * float64(tc.wa) / float64(tc.wa+tc.wb)
		if got := float64(res.ByBackend["a"]); math.Abs(got-wantA) > 0.02*n {
			t.Errorf("weights %d/%d: a got %.0f of %d requests, want %.0f ± 2%%", tc.wa, tc.wb, got, n, wantA)
		}
		if res.ByBackend["zero"] != 0 {
			t.Errorf("a backend with weight 0 got %d requests", res.ByBackend["zero"])
		}
		t.Logf("weights %d/%d: a %d, b %d (%s)", tc.wa, tc.wb, res.ByBackend["a"], res.ByBackend["b"], res)
	}
	// nginx keeps its upstream connections alive: 6,000 requests over 4
	// client connections need a handful of backend connections, not one each.
	if n := a.Conns() + b.Conns(); n > 40 {
		t.Errorf("backends accepted %d connections for 6000 requests: upstream keep-alive is not working", n)
	} else {
		t.Logf("backends accepted %d connections for 6000 requests", n)
	}
}

// splitRoute starts two Marathon and two Kubernetes backends (m1, m2, k1,
// k2) and returns a function that routes web.test to them with the given
// Kubernetes percentage.
func splitRoute(t testing.TB, c *traffic.Fleet) func(kubePercent int) {
	t.Helper()
	m := []traffic.Backend{backend(nginxtest.StartBackend(t, "127.0.0.2", "m1"), 0, ""), backend(nginxtest.StartBackend(t, "127.0.0.3", "m2"), 0, "")}
	k := []traffic.Backend{backend(nginxtest.StartBackend(t, "127.0.0.4", "k1"), 0, ""), backend(nginxtest.StartBackend(t, "127.0.0.5", "k2"), 0, "")}
	return func(pct int) {
		t.Helper()
		pool, err := traffic.SplitWeights(m, k, pct)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.SetRoute(context.Background(), traffic.Route{Name: "web", Host: "web.test", Backends: pool}); err != nil {
			t.Fatal(err)
		}
	}
}

// webLoad is keep-alive load on web.test through in: conns connections, one
// POST every postEvery requests (0: GETs only).
func webLoad(in *nginxtest.Instance, conns, postEvery int) loadgen.Config {
	return loadgen.Config{Target: in.PublicAddr(), Host: "web.test", Conns: conns, PostEvery: postEvery}
}

// runLoad runs webLoad in the background until Stop.
func runLoad(in *nginxtest.Instance, conns, postEvery int) *loadgen.Load {
	return loadgen.Start(context.Background(), webLoad(in, conns, postEvery))
}

// TestWeightChangesUnderLoadFailNothing shifts all traffic back and forth 20
// times while a keep-alive client without retries sends GETs and POSTs.
func TestWeightChangesUnderLoadFailNothing(t *testing.T) {
	in, c := setup(t)
	set := splitRoute(t, c)
	set(0)
	pid := in.Process().ID().PID
	steps := []int{0, 5, 25, 50, 100}
	res := loadgen.Around(context.Background(), webLoad(in, 16, 3), 500*time.Millisecond, func() {
		for i := 0; i < 20; i++ {
			time.Sleep(150 * time.Millisecond)
			pct := steps[i%len(steps)]
			if i/len(steps)%2 == 1 {
				pct = 100 - pct
			}
			set(pct)
		}
	})
	t.Logf("20 weight changes:\n%s", res)
	if err := res.ZeroFailed(1000); err != nil {
		t.Fatal(err)
	}
	if res.Posts == 0 {
		t.Fatalf("no POST sent: %s", res)
	}
	for _, name := range []string{"m1", "m2", "k1", "k2"} {
		if res.ByBackend[name] == 0 {
			t.Errorf("backend %s got no traffic: %v", name, res.ByBackend)
		}
	}
	if in.Process().ID().PID != pid {
		t.Error("nginx master changed")
	}
	// 21 pushes, 4 of which repeat the previous split (0 then 0, 100 then
	// 100): the fleet sends only the 17 changes.
	if st, err := c.Get(context.Background()); err != nil || st.Version != 17 {
		t.Errorf("version after 21 pushes, 17 changes = %d, %v", st.Version, err)
	}
	if log, _ := os.ReadFile(in.Nginx.ErrorLog); strings.Contains(string(log), "reconfiguring") {
		t.Error("nginx reloaded during weight changes")
	}
}

// TestRemoveBackendUnderLoadFailsNothing removes backends in the safe order
// (nginx first, drain, stop) and adds new ones, under load.
func TestRemoveBackendUnderLoadFailsNothing(t *testing.T) {
	in, c := setup(t)
	b1 := nginxtest.StartBackend(t, "127.0.0.2", "b1")
	b2 := nginxtest.StartBackend(t, "127.0.0.3", "b2")
	b3 := nginxtest.StartBackend(t, "127.0.0.4", "b3")
	if _, err := c.SetRoute(context.Background(), traffic.Route{Name: "web", Host: "web.test", Backends: []traffic.Backend{
		backend(b1, 1, traffic.Marathon), backend(b2, 1, traffic.Marathon), backend(b3, 1, traffic.Kubernetes)}}); err != nil {
		t.Fatal(err)
	}
	load := runLoad(in, 16, 3)
	time.Sleep(300 * time.Millisecond)
	for _, b := range []*nginxtest.Backend{b1, b2} {
		if err := c.RemoveBackend(context.Background(), "web", b.Addr, 300*time.Millisecond, b.Stop); err != nil {
			t.Fatal(err)
		}
		// A replacement joins.
		nb := nginxtest.StartBackend(t, strings.Replace(b.Addr[:strings.LastIndex(b.Addr, ":")], "127.0.0.", "127.0.1.", 1), b.Name+"-new")
		if _, err := c.Update(context.Background(), func(s traffic.State) (traffic.State, error) {
			r, _ := s.Route("web")
			r.Backends = append(r.Backends, backend(nb, 1, traffic.Kubernetes))
			return s.WithRoute(r), nil
		}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
	}
	hitsAfterStop := b1.Hits()
	res := load.Stop()
	t.Logf("2 backends removed and replaced: %s", res)
	if res.Failed != 0 {
		t.Fatalf("%d of %d requests failed while removing backends: %v", res.Failed, res.Sent, res.Errors)
	}
	if res.ByBackend["b1-new"] == 0 || res.ByBackend["b2-new"] == 0 {
		t.Errorf("replacements got no traffic: %v", res.ByBackend)
	}
	if b1.Hits() != hitsAfterStop {
		t.Error("a stopped backend still received requests")
	}
	st, err := c.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r, _ := st.Route("web")
	for _, b := range r.Backends {
		if b.Address == b1.Addr || b.Address == b2.Addr {
			t.Errorf("removed backend %s still in nginx", b.Address)
		}
	}
	// Removing again is harmless.
	if err := c.RemoveBackend(context.Background(), "web", b1.Addr, 0, nil); err != nil {
		t.Fatal(err)
	}
}

// TestRestartRestoresRoutes: nginx stopped and started again routes as before.
func TestRestartRestoresRoutes(t *testing.T) {
	in, c := setup(t)
	a := nginxtest.StartBackend(t, "127.0.0.2", "a")
	b := nginxtest.StartBackend(t, "127.0.0.3", "b")
	before, err := c.SetRoute(context.Background(), traffic.Route{Name: "web", Host: "web.test", PathPrefix: "/shop",
		Backends: []traffic.Backend{backend(a, 0, traffic.Marathon), backend(b, 2, traffic.Kubernetes)}})
	if err != nil {
		t.Fatal(err)
	}
	in.Restart()
	after, err := c.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("after restart:\n%+v\nbefore:\n%+v", after, before)
	}
	if code, body := nginxtest.Get(t, in.PublicAddr(), "web.test", "/shop/1"); code != 200 || !strings.HasPrefix(body, "b ") {
		t.Fatalf("after restart: %d %s", code, body)
	}
}

// TestApplyFailureKeepsPreviousState: a refused or failed push leaves nginx
// on the previous state, and says so; nginx down: the fleet keeps the state
// and pushes it when nginx is back.
func TestApplyFailureKeepsPreviousState(t *testing.T) {
	in, c := setup(t)
	a := nginxtest.StartBackend(t, "127.0.0.2", "a")
	good, err := apply(c, traffic.State{Routes: []traffic.Route{{Name: "web", Backends: []traffic.Backend{backend(a, 1, traffic.Marathon)}}}})
	if err != nil {
		t.Fatal(err)
	}

	// Stale version: refused by nginx.
	_, err = c.Instances[0].Put(context.Background(), traffic.State{Version: good.Version})
	if !errors.Is(err, traffic.ErrConflict) {
		t.Fatalf("stale push: %v", err)
	}
	// Invalid: refused before anything is sent.
	_, err = apply(c, traffic.State{Routes: []traffic.Route{{Name: "web", Backends: []traffic.Backend{{Address: "93.184.216.34:80", Weight: 1, Platform: traffic.Marathon}}}}})
	if err == nil || !strings.Contains(err.Error(), "nothing changed") {
		t.Fatalf("invalid push: %v", err)
	}
	if st, err := c.Get(context.Background()); err != nil || fmt.Sprint(st) != fmt.Sprint(good) {
		t.Fatalf("active state changed: %+v %v", st, err)
	}

	// nginx down: the push is not acknowledged, nginx routes by the
	// previous state after a restart, and Sync brings it up to the state.
	in.Stop()
	_, err = c.RemoveRoute(context.Background(), "web")
	if !errors.Is(err, traffic.ErrNotAcknowledged) {
		t.Fatalf("push to a stopped nginx: %v", err)
	}
	in.Restart()
	if code, body := nginxtest.Get(t, in.PublicAddr(), "x", "/"); code != 200 || !strings.HasPrefix(body, "a ") {
		t.Fatalf("after restart: %d %s", code, body)
	}
	if err := c.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st, err := c.Get(context.Background()); err != nil || len(st.Routes) != 0 || st.Version != good.Version+1 {
		t.Fatalf("after Sync: %+v %v", st, err)
	}
}

// TestInvalidReloadUnderLoad: a structural change refused by nginx -t does
// not disturb traffic.
func TestInvalidReloadUnderLoad(t *testing.T) {
	in, c := setup(t)
	a := nginxtest.StartBackend(t, "127.0.0.2", "a")
	if _, err := c.SetRoute(context.Background(), traffic.Route{Name: "web", Backends: []traffic.Backend{backend(a, 1, traffic.Marathon)}}); err != nil {
		t.Fatal(err)
	}
	load := runLoad(in, 8, 3)
	time.Sleep(200 * time.Millisecond)
	good := in.Nginx.Listen
	in.Nginx.Listen = "127.0.0.1:0x50"
	err := in.Nginx.Reload(context.Background())
	in.Nginx.Listen = good
	time.Sleep(200 * time.Millisecond)
	res := load.Stop()
	if err == nil || !strings.Contains(err.Error(), "nginx -t refused") {
		t.Fatalf("invalid reload: %v", err)
	}
	t.Logf("refused reload: %v", err)
	if res.Failed != 0 || res.OK == 0 {
		t.Fatalf("traffic during a refused reload: %s %v", res, res.Errors)
	}
}

// TestAccessLogStatsCountTheLoad: the tailer counts exactly what the load
// generator sent, per route and platform, and 5xx answers as errors.
func TestAccessLogStatsCountTheLoad(t *testing.T) {
	in, c := setup(t)
	m := nginxtest.StartBackend(t, "127.0.0.2", "m")
	k := nginxtest.StartBackend(t, "127.0.0.3", "k")
	if _, err := apply(c, traffic.State{Routes: []traffic.Route{
		{Name: "web", Host: "web.test", Backends: []traffic.Backend{backend(m, 3, traffic.Marathon), backend(k, 1, traffic.Kubernetes)}},
		{Name: "down", Host: "down.test", Backends: []traffic.Backend{backend(m, 0, traffic.Marathon)}},
	}}); err != nil {
		t.Fatal(err)
	}
	tl := traffic.NewTailer(in.Nginx.AccessLog, 5*time.Minute, false)
	defer tl.Close()
	if err := tl.Poll(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var web, down loadgen.Result
	wg.Add(2)
	go func() {
		defer wg.Done()
		web = loadgen.Run(context.Background(), loadgen.Config{Target: in.PublicAddr(), Host: "web.test", Conns: 4, Requests: 3000, PostEvery: 5})
	}()
	go func() {
		defer wg.Done()
		down = loadgen.Run(context.Background(), loadgen.Config{Target: in.PublicAddr(), Host: "down.test", Conns: 1, Requests: 50})
	}()
	wg.Wait()
	if web.Failed != 0 || down.OK != 0 {
		t.Fatalf("web %s; down %s", web, down)
	}
	var sm, sk, sd traffic.Stat
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := tl.Poll(); err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		sm, sk, sd = tl.Window.Stat(now, "web", traffic.Marathon), tl.Window.Stat(now, "web", traffic.Kubernetes), tl.Window.Stat(now, "down", "*")
		if int64(sm.Requests+sk.Requests) >= web.Sent && int64(sd.Requests) >= down.Sent || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("marathon: %s; kubernetes: %s; down: %s", sm, sk, sd)
	if int64(sm.Requests) != web.ByBackend["m"] || int64(sk.Requests) != web.ByBackend["k"] {
		t.Errorf("stats count marathon %d, kubernetes %d; the load generator got %v", sm.Requests, sk.Requests, web.ByBackend)
	}
	if sm.Errors5xx != 0 || sk.Errors5xx != 0 || sm.P99 <= 0 && sm.P50 < 0 {
		t.Errorf("web errors: %+v %+v", sm, sk)
	}
	if int64(sd.Requests) != down.Sent || int64(sd.Errors5xx) != down.Sent || sd.ErrorRate != 1 {
		t.Errorf("down route: %+v, want %d requests all 5xx", sd, down.Sent)
	}
	if tl.BadLines() != 0 {
		t.Errorf("%d unparseable access log lines", tl.BadLines())
	}
}

// TestBackendGoneBeforeRemoval: a backend that stops before it is removed
// from nginx (a crash, or a task killed behind Switchyard's back) refuses
// connections; nginx retries those requests on another backend of the pool
// (a connect error is safe to retry, POSTs included) and each worker avoids
// the dead backend for a while. The one unsafe case is a POST already written
// on a keep-alive connection the backend closed at that moment: nginx must
// not resend it, so the client sees 502 — which is why Switchyard removes a
// backend from nginx before stopping it (TestRemoveBackendUnderLoadFailsNothing).
func TestBackendGoneBeforeRemoval(t *testing.T) {
	for _, postEvery := range []int{0, 3} {
		t.Run(fmt.Sprintf("postEvery=%d", postEvery), func(t *testing.T) {
			in, c := setup(t)
			a := nginxtest.StartBackend(t, "127.0.0.2", "a")
			b := nginxtest.StartBackend(t, "127.0.0.3", "b")
			if _, err := c.SetRoute(context.Background(), traffic.Route{Name: "web", Host: "web.test", Backends: []traffic.Backend{
				backend(a, 1, traffic.Marathon), backend(b, 1, traffic.Kubernetes)}}); err != nil {
				t.Fatal(err)
			}
			const conns = 16
			load := runLoad(in, conns, postEvery)
			time.Sleep(300 * time.Millisecond)
			if err := a.Stop(context.Background()); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Second)
			res := load.Stop()
			t.Logf("backend stopped while in the pool: %s %v", res, res.Errors)
			var getFailures, postFailures int64
			for k, n := range res.Errors {
				if strings.HasPrefix(k, "POST") || strings.HasPrefix(k, "read POST") || strings.HasPrefix(k, "write POST") {
					postFailures += n
				} else {
					getFailures += n
				}
			}
			if getFailures != 0 {
				t.Errorf("%d GETs failed: %v", getFailures, res.Errors)
			}
			if postFailures > conns {
				t.Errorf("%d POSTs failed, more than the %d connections that can be caught mid-close: %v", postFailures, conns, res.Errors)
			}
			// The dead backend is avoided: only a few requests needed a retry.
			time.Sleep(1100 * time.Millisecond) // access log flush
			f, err := os.Open(in.Nginx.AccessLog)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			es, err := traffic.ParseAccessLog(f)
			if err != nil {
				t.Fatal(err)
			}
			retried := 0
			for _, e := range es {
				if e.Tries() > 1 {
					retried++
				}
			}
			t.Logf("%d of %d requests were retried on another backend", retried, len(es))
			if retried > 200 {
				t.Errorf("%d requests retried: the dead backend was not avoided", retried)
			}
		})
	}
}

// TestConcurrentWriters: writers racing on the admin API never lose an
// update: each route set by one of 12 concurrent clients is in the final
// state, and every accepted change got its own version.
func TestConcurrentWriters(t *testing.T) {
	_, c := setup(t)
	a := nginxtest.StartBackend(t, "127.0.0.2", "a")
	const writers = 12
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, err := c.SetRoute(context.Background(), traffic.Route{Name: fmt.Sprintf("r%d", i), PathPrefix: fmt.Sprintf("/r%d", i),
				Backends: []traffic.Backend{backend(a, i, traffic.Marathon)}})
			errs <- err
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	st, err := c.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Routes) != writers || st.Version != writers {
		t.Fatalf("after %d concurrent writers: version %d, %d routes", writers, st.Version, len(st.Routes))
	}
}

// TestNginxAndGoAgreeOnValidity: nginx's own validation (Lua) accepts and
// refuses the same states as Validate, so a state the client lets through is
// never refused by nginx for its shape, and nginx is guarded on its own.
func TestNginxAndGoAgreeOnValidity(t *testing.T) {
	in, c := setup(t)
	ok := traffic.Backend{Address: "127.0.1.1:31000", Weight: 1, Platform: traffic.Marathon}
	pod := traffic.Backend{Address: "10.244.3.7:8080", Weight: 2, Platform: traffic.Kubernetes}
	with := func(mut func(*traffic.Route)) traffic.State {
		r := traffic.Route{Name: "web", Host: "web.test", PathPrefix: "/", Backends: []traffic.Backend{ok, pod}}
		mut(&r)
		return traffic.State{Routes: []traffic.Route{r}}
	}
	cases := map[string]traffic.State{
		"valid":              with(func(r *traffic.Route) {}),
		"any host":           with(func(r *traffic.Route) { r.Host = "" }),
		"no backends":        with(func(r *traffic.Route) { r.Backends = nil }),
		"zero weights":       with(func(r *traffic.Route) { r.Backends[0].Weight, r.Backends[1].Weight = 0, 0 }),
		"name with slash":    with(func(r *traffic.Route) { r.Name = "/group/app" }),
		"empty name":         with(func(r *traffic.Route) { r.Name = "" }),
		"name with space":    with(func(r *traffic.Route) { r.Name = "a b" }),
		"host uppercase":     with(func(r *traffic.Route) { r.Host = "Web.test" }),
		"host with port":     with(func(r *traffic.Route) { r.Host = "web.test:80" }),
		"relative prefix":    with(func(r *traffic.Route) { r.PathPrefix = "api" }),
		"negative weight":    with(func(r *traffic.Route) { r.Backends[0].Weight = -1 }),
		"unknown platform":   with(func(r *traffic.Route) { r.Backends[0].Platform = "nomad" }),
		"public address":     with(func(r *traffic.Route) { r.Backends[0].Address = "1.2.3.4:80" }),
		"outside pod cidr":   with(func(r *traffic.Route) { r.Backends[1].Address = "10.245.0.1:80" }),
		"host name address":  with(func(r *traffic.Route) { r.Backends[0].Address = "localhost:80" }),
		"port out of range":  with(func(r *traffic.Route) { r.Backends[0].Address = "127.0.0.1:70000" }),
		"duplicate backend":  with(func(r *traffic.Route) { r.Backends[1] = r.Backends[0] }),
		"duplicate route":    {Routes: []traffic.Route{{Name: "a"}, {Name: "a", PathPrefix: "/x"}}},
		"same host and path": {Routes: []traffic.Route{{Name: "a", PathPrefix: "/x"}, {Name: "b", PathPrefix: "/x/"}}},
	}
	version := int64(0)
	for name, s := range cases {
		goErr := traffic.Validate(s, c.BackendCIDRs)
		version++
		s.Version = version
		body, _ := json.Marshal(s)
		req, _ := http.NewRequest(http.MethodPut, in.Nginx.AdminURL()+"/routes", bytes.NewReader(body))
		resp, err := in.Nginx.AdminHTTPClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if (goErr == nil) != (resp.StatusCode == http.StatusOK) {
			t.Errorf("%s: Go says %v, nginx says %d %s", name, goErr, resp.StatusCode, msg)
		}
		if resp.StatusCode != http.StatusOK {
			version-- // nothing applied
		}
	}
}

// TestTailerAcrossLogRotation: the stats keep counting when nginx's access
// log is rotated under load.
func TestTailerAcrossLogRotation(t *testing.T) {
	in, c := setup(t)
	a := nginxtest.StartBackend(t, "127.0.0.2", "a")
	if _, err := c.SetRoute(context.Background(), traffic.Route{Name: "web", Backends: []traffic.Backend{backend(a, 1, traffic.Marathon)}}); err != nil {
		t.Fatal(err)
	}
	tl := traffic.NewTailer(in.Nginx.AccessLog, time.Minute, true)
	defer tl.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tl.Interval = 20 * time.Millisecond
	go tl.Run(ctx)
	first := loadgen.Run(context.Background(), loadgen.Config{Target: in.PublicAddr(), Conns: 2, Requests: 500})
	time.Sleep(1200 * time.Millisecond) // nginx flushes its log buffer every second
	if err := in.Nginx.RotateAccessLog(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	second := loadgen.Run(context.Background(), loadgen.Config{Target: in.PublicAddr(), Conns: 2, Requests: 700})
	if first.Failed+second.Failed != 0 {
		t.Fatalf("failures: %s / %s", first, second)
	}
	deadline := time.Now().Add(5 * time.Second)
	var s traffic.Stat
	for time.Now().Before(deadline) {
		s = tl.Window.Stat(time.Now(), "web", traffic.Marathon)
		if s.Requests >= 1200 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if s.Requests != 1200 {
		t.Fatalf("counted %d requests across the rotation, want 1200", s.Requests)
	}
	if _, err := os.Stat(in.Nginx.AccessLog + ".1"); err != nil {
		t.Fatalf("rotated log: %v", err)
	}
}

// TestNginxAndGoAgreeOnRandomStates is the property behind
// TestNginxAndGoAgreeOnValidity: for states drawn from tricky names, hosts,
// prefixes, addresses, weights and platforms, nginx accepts exactly the
// states Validate accepts.
func TestNginxAndGoAgreeOnRandomStates(t *testing.T) {
	in, c := setup(t)
	version := int64(0)
	rapid.Check(t, func(rt *rapid.T) {
		pick := func(label string, xs ...string) string { return rapid.SampledFrom(xs).Draw(rt, label) }
		var s traffic.State
		for i, n := 0, rapid.IntRange(0, 3).Draw(rt, "routes"); i < n; i++ {
			r := traffic.Route{
				Name:       pick("name", "a", "b", "/g/app", "a b", "", "é", "x.y-z_1"),
				Host:       pick("host", "", "h.test", "H.test", "h.test:80", "a/b"),
				PathPrefix: pick("prefix", "", "/", "/a", "/a/", "a", "/a/b"),
			}
			for j, m := 0, rapid.IntRange(0, 3).Draw(rt, "backends"); j < m; j++ {
				r.Backends = append(r.Backends, traffic.Backend{
					Address:  pick("addr", "127.0.0.1:80", "127.0.0.2:80", "127.9.9.9:1", "10.244.0.1:8080", "10.245.0.1:1", "1.1.1.1:1", "localhost:80", "127.0.0.1:0", "127.0.0.1:65536", "[::1]:80", "127.0.0.1", "256.0.0.1:80"),
					Weight:   rapid.SampledFrom([]int{-1, 0, 1, 7}).Draw(rt, "weight"),
					Platform: pick("platform", traffic.Marathon, traffic.Kubernetes, "", "nomad"),
				})
			}
			s.Routes = append(s.Routes, r)
		}
		goErr := traffic.Validate(s, c.BackendCIDRs)
		s.Version = version + 1
		body, _ := json.Marshal(s)
		req, _ := http.NewRequest(http.MethodPut, in.Nginx.AdminURL()+"/routes", bytes.NewReader(body))
		resp, err := in.Nginx.AdminHTTPClient().Do(req)
		if err != nil {
			rt.Fatal(err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			version++
		}
		if (goErr == nil) != (resp.StatusCode == http.StatusOK) {
			rt.Fatalf("state %s: Go says %v, nginx says %d %s", body, goErr, resp.StatusCode, msg)
		}
	})
}
