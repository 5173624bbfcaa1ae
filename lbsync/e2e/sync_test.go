// Package e2e tests `switchyard lb sync` on a real lab (the lab's Marathon
// and shared nginx, with the sample apps): the lab runs it as its lb-sync
// component, and the tests change Marathon and watch nginx's routes follow.
package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/lab/labtest"
	labnginx "github.com/switchyard/switchyard/lab/nginx"
	"github.com/switchyard/switchyard/lbsync"
	"github.com/switchyard/switchyard/marathon"
	"github.com/switchyard/switchyard/traffic"
)

var theLab *labtest.Lab

func TestMain(m *testing.M) {
	os.Exit(labtest.Main(m, labtest.Options{Nginx: true, Demo: true}, &theLab))
}

type env struct {
	lab *labtest.Lab
	m   *marathon.Client
	lb  *traffic.Fleet
}

func setup(t *testing.T) env {
	t.Helper()
	l := labtest.Need(t, theLab)
	mc, err := marathon.NewClient(marathon.Config{URL: l.MarathonURL})
	if err != nil {
		t.Fatal(err)
	}
	n, err := labnginx.New(l.Config)
	if err != nil {
		t.Fatal(err)
	}
	return env{lab: l, m: mc, lb: n.TrafficClient()}
}

func (e env) route(t *testing.T, name string) (traffic.Route, bool) {
	t.Helper()
	s, err := e.lb.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s.Route(name)
}

// waitRoute waits until the named route satisfies ok.
func (e env) waitRoute(t *testing.T, name string, timeout time.Duration, ok func(traffic.Route, bool) bool) traffic.Route {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		r, found := e.route(t, name)
		if ok(r, found) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("route %s after %s: %+v (found %v)\nlb-sync log:\n%s", name, timeout, r, found, e.syncLog())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (e env) syncLog() string {
	out, _ := e.lab.Run("lab", "logs", "lb-sync")
	if len(out) > 4000 {
		out = out[len(out)-4000:]
	}
	return out
}

func get(u string) (int, string) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(u)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestDemoRoutesAreKeptBySync(t *testing.T) {
	e := setup(t)
	t.Logf("lab up --demo:\n%s", e.lab.UpOutput)
	if !strings.Contains(e.lab.UpOutput, "routed /demo/web through nginx") {
		t.Fatalf("lab up --demo did not wait for the routes:\n%s", e.lab.UpOutput)
	}
	for _, app := range []string{"/demo/web", "/demo/api", "/demo/static"} {
		r, ok := e.route(t, app)
		if !ok || r.Owner != lbsync.Owner || r.PathPrefix != app || len(r.Backends) == 0 {
			t.Errorf("route %s: %+v (found %v)", app, r, ok)
		}
		if code, body := get(e.lab.LBURL + app + "/"); code != http.StatusOK {
			t.Errorf("%s through nginx: %d %s", app, code, body)
		}
	}
	if err := lbsync.CheckStatusFile(e.lab.Config.Path("lbsync", "status.json")); err != nil {
		t.Error(err)
	}
}

func TestLabelledAppGetsARoute(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	cmd := `mkdir -p site/e2e/hello && echo hello > site/e2e/hello/index.html && exec python3 -m http.server --bind "$HOST" --directory site "$PORT0"`
	two, name := 2, "http"
	app := &marathon.App{ID: "/e2e/hello", Cmd: &cmd, Instances: &two, CPUs: ptr(0.05), Mem: ptr(32.0),
		PortDefinitions: []marathon.PortDefinition{{Port: ptr(0), Name: &name}},
		Labels:          map[string]string{"HAPROXY_GROUP": "external", "HAPROXY_0_PATH": "/e2e/hello"}}
	if _, err := e.m.CreateApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.m.DeleteApp(context.Background(), "/e2e/hello", true) })
	r := e.waitRoute(t, "/e2e/hello", 60*time.Second, func(r traffic.Route, ok bool) bool { return ok && len(r.Backends) == 2 })
	if r.Owner != lbsync.Owner || r.Backends[0].App != "/e2e/hello" {
		t.Fatalf("route %+v", r)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := get(e.lab.LBURL + "/e2e/hello/")
		if code == http.StatusOK && strings.Contains(body, "hello") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/e2e/hello/ through nginx: %d %s", code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Another group: no route.
	other := &marathon.App{ID: "/e2e/internal", Cmd: &cmd, Instances: ptr(1), CPUs: ptr(0.05), Mem: ptr(32.0),
		PortDefinitions: []marathon.PortDefinition{{Port: ptr(0)}},
		Labels:          map[string]string{"HAPROXY_GROUP": "internal", "HAPROXY_0_PATH": "/e2e/internal"}}
	if _, err := e.m.CreateApp(ctx, other); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.m.DeleteApp(context.Background(), "/e2e/internal", true) })

	// The app goes: so does its route.
	if _, err := e.m.DeleteApp(ctx, "/e2e/hello", true); err != nil {
		t.Fatal(err)
	}
	e.waitRoute(t, "/e2e/hello", 30*time.Second, func(_ traffic.Route, ok bool) bool { return !ok })
	if _, ok := e.route(t, "/e2e/internal"); ok {
		t.Fatal("an app of another group got a route")
	}
}

// TestKilledTaskIsFollowed kills a task of /demo/web while requests flow
// through nginx: Marathon starts a new task, the route's backends follow
// within a few seconds, and no request fails.
func TestKilledTaskIsFollowed(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	before := e.waitRoute(t, "/demo/web", 30*time.Second, func(r traffic.Route, ok bool) bool { return ok && len(r.Backends) == 2 })

	var total, failed atomic.Int64
	var mu sync.Mutex
	var failures []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Timeout: 5 * time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := c.Get(e.lab.LBURL + "/demo/web/")
				total.Add(1)
				if err != nil {
					failed.Add(1)
					mu.Lock()
					failures = append(failures, err.Error())
					mu.Unlock()
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
					mu.Lock()
					failures = append(failures, resp.Status)
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	victim := before.Backends[0]
	t0 := time.Now()
	if _, err := e.m.KillTask(ctx, "/demo/web", victim.ID, marathon.KillOptions{}); err != nil {
		t.Fatal(err)
	}
	// The killed task leaves the pool, then its replacement joins it.
	e.waitRoute(t, "/demo/web", 10*time.Second, func(r traffic.Route, _ bool) bool {
		for _, b := range r.Backends {
			if b.ID == victim.ID {
				return false
			}
		}
		return true
	})
	gone := time.Since(t0)
	after := e.waitRoute(t, "/demo/web", 60*time.Second, func(r traffic.Route, _ bool) bool { return len(r.Backends) == 2 })
	back := time.Since(t0)
	time.Sleep(time.Second) // requests on the new pool
	close(stop)
	wg.Wait()
	t.Logf("killed %s (%s): out of the pool after %s, replacement in after %s (pool %+v); %d requests, %d failed",
		victim.ID, victim.Address, gone.Round(time.Millisecond), back.Round(time.Millisecond), after.Backends, total.Load(), failed.Load())
	if gone > 5*time.Second {
		t.Errorf("the killed task left the pool after %s, want within a few seconds", gone)
	}
	if failed.Load() > 0 {
		t.Errorf("%d of %d requests through nginx failed: %v", failed.Load(), total.Load(), first(failures, 5))
	}
	if total.Load() < 100 {
		t.Errorf("only %d requests", total.Load())
	}
}

// TestMigrationRouteLeftAlone: a route a migration holds keeps what the
// migration pushed, even though its app's tasks say otherwise; handed back
// to sync, it follows the tasks again. A hand-made route is never touched.
func TestMigrationRouteLeftAlone(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	cur := e.waitRoute(t, "/demo/api", 30*time.Second, func(r traffic.Route, ok bool) bool { return ok && len(r.Backends) > 0 })
	held := cur
	held.Owner = "migrate/x"
	held.Backends = cur.Backends[:1]
	held.Backends[0].Weight = 7
	if _, err := e.lb.SetRoute(ctx, held); err != nil {
		t.Fatal(err)
	}
	hand := traffic.Route{Name: "e2e-hand", PathPrefix: "/e2e/hand", Backends: cur.Backends[:1]}
	if _, err := e.lb.SetRoute(ctx, hand); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.lb.RemoveRoute(context.Background(), "e2e-hand") })
	time.Sleep(5 * time.Second) // two resync periods of the lab's sync
	r, _ := e.route(t, "/demo/api")
	if r.Owner != "migrate/x" || len(r.Backends) != 1 || r.Backends[0].Weight != 7 {
		t.Fatalf("the sync changed a route held by a migration: %+v", r)
	}
	if h, ok := e.route(t, "e2e-hand"); !ok || h.Owner != "" || len(h.Backends) != 1 {
		t.Fatalf("the sync changed a hand-made route: %+v", h)
	}
	held.Owner = lbsync.Owner
	if _, err := e.lb.SetRoute(ctx, held); err != nil {
		t.Fatal(err)
	}
	e.waitRoute(t, "/demo/api", 10*time.Second, func(r traffic.Route, _ bool) bool {
		return r.Owner == lbsync.Owner && len(r.Backends) == len(cur.Backends) && r.Backends[0].Weight == 1
	})
}

func first(s []string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	b, _ := json.Marshal(s)
	return string(b)
}

func ptr[T any](v T) *T { return &v }
