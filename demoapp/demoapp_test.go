package demoapp

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/wanterr"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		check   func(t *testing.T, c Config)
		wantErr string
	}{
		{name: "defaults", env: map[string]string{}, check: func(t *testing.T, c Config) {
			if c.App != "demo-app" || c.Version != "v1" || c.Platform != PlatformLocal || c.Listen != "127.0.0.1:8080" || len(c.InstanceID) != 8 {
				t.Errorf("got %+v", c)
			}
		}},
		{name: "marathon", env: map[string]string{"MARATHON_APP_ID": "/shop/web", "MESOS_TASK_ID": "shop_web.abc", "HOST": "127.0.1.2", "PORT0": "31005", "DEMO_VERSION": "v2"}, check: func(t *testing.T, c Config) {
			want := Config{App: "shop/web", Version: "v2", Platform: PlatformMarathon, Host: "127.0.1.2", TaskID: "shop_web.abc", Listen: "127.0.1.2:31005"}
			if c.App != want.App || c.Version != want.Version || c.Platform != want.Platform || c.Host != want.Host || c.TaskID != want.TaskID || c.Listen != want.Listen {
				t.Errorf("got %+v, want %+v", c, want)
			}
		}},
		{name: "kubernetes with pod ip", env: map[string]string{"KUBERNETES_SERVICE_HOST": "10.0.0.1", "POD_NAME": "web-5d9", "NODE_NAME": "node-1", "POD_IP": "10.244.1.7", "PORT": "8080"}, check: func(t *testing.T, c Config) {
			if c.Platform != PlatformKubernetes || c.TaskID != "web-5d9" || c.Host != "node-1" || c.Listen != "10.244.1.7:8080" {
				t.Errorf("got %+v", c)
			}
		}},
		{name: "kubernetes without pod ip", env: map[string]string{"KUBERNETES_SERVICE_HOST": "10.0.0.1", "HOSTNAME": "web-1", "PORT": "9000"}, check: func(t *testing.T, c Config) {
			if c.Listen != ":9000" || c.TaskID != "web-1" {
				t.Errorf("got %+v", c)
			}
		}},
		{name: "converted marathon app in a pod", env: map[string]string{"KUBERNETES_SERVICE_HOST": "10.0.0.1", "MARATHON_APP_ID": "/demo/web", "MESOS_TASK_ID": "web-5d9", "PORT": "8080"}, check: func(t *testing.T, c Config) {
			if c.Platform != PlatformKubernetes || c.Listen != ":8080" {
				t.Errorf("got platform %q listen %q, want kubernetes on :8080", c.Platform, c.Listen)
			}
		}},
		{name: "pod without PORT listens on all pod interfaces", env: map[string]string{"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, check: func(t *testing.T, c Config) {
			if c.Listen != ":8080" {
				t.Errorf("listen %q, want :8080", c.Listen)
			}
		}},
		{name: "explicit listen wins", env: map[string]string{"DEMO_LISTEN": "127.0.0.9:1234", "PORT0": "31000", "HOST": "127.0.1.1"}, check: func(t *testing.T, c Config) {
			if c.Listen != "127.0.0.9:1234" {
				t.Errorf("listen %q", c.Listen)
			}
		}},
		{name: "failure switches", env: map[string]string{"DEMO_FAIL_RATE": "0.25", "DEMO_FAIL_AFTER": "100", "DEMO_CRASH_AFTER": "30s", "DEMO_SLOW": "150ms", "DEMO_UNHEALTHY": "true", "DEMO_READY_DELAY": "2s", "DEMO_INSTANCE_ID": "i-1"}, check: func(t *testing.T, c Config) {
			if c.FailRate != 0.25 || c.FailAfter != (Trigger{Requests: 100}) || c.CrashAfter != (Trigger{After: 30 * time.Second}) ||
				c.Slow != 150*time.Millisecond || !c.Unhealthy || c.ReadyDelay != 2*time.Second || c.InstanceID != "i-1" {
				t.Errorf("got %+v (failAfter %+v crashAfter %+v)", c, c.FailAfter, c.CrashAfter)
			}
		}},
		{name: "rate above one", env: map[string]string{"DEMO_FAIL_RATE": "1.5"}, wantErr: "DEMO_FAIL_RATE: \"1.5\": want a fraction between 0 and 1"},
		{name: "rate not a number", env: map[string]string{"DEMO_FAIL_RATE": "half"}, wantErr: "DEMO_FAIL_RATE"},
		{name: "bad trigger", env: map[string]string{"DEMO_FAIL_AFTER": "soon"}, wantErr: "DEMO_FAIL_AFTER: \"soon\": want a request count (100) or a duration (30s)"},
		{name: "negative count", env: map[string]string{"DEMO_CRASH_AFTER": "-5"}, wantErr: "DEMO_CRASH_AFTER"},
		{name: "bad slow", env: map[string]string{"DEMO_SLOW": "fast"}, wantErr: "DEMO_SLOW: \"fast\": want a duration"},
		{name: "bad bool", env: map[string]string{"DEMO_UNHEALTHY": "maybe"}, wantErr: "DEMO_UNHEALTHY: \"maybe\": want true or false"},
		{name: "several errors at once", env: map[string]string{"DEMO_SLOW": "x", "DEMO_READY_DELAY": "y"}, wantErr: "DEMO_READY_DELAY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := FromEnv(env(tt.env))
			if wanterr.Check(t, err, tt.wantErr) {
				return
			}
			tt.check(t, c)
		})
	}
}

func TestParseTrigger(t *testing.T) {
	for in, want := range map[string]Trigger{"": {}, "0": {}, "7": {Requests: 7}, "1m30s": {After: 90 * time.Second}} {
		got, err := ParseTrigger(in)
		if err != nil || got != want {
			t.Errorf("ParseTrigger(%q) = %+v, %v; want %+v", in, got, err, want)
		}
		if got.String() != map[string]string{"": "", "0": "", "7": "7", "1m30s": "1m30s"}[in] {
			t.Errorf("String() of %q = %q", in, got.String())
		}
	}
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func do(t *testing.T, h http.Handler, method, target, body string) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, strings.NewReader(body)))
	var m map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &m)
	return rec, m
}

func TestInfoAndEcho(t *testing.T) {
	a := New(Config{App: "web", Version: "v3", InstanceID: "abc", Host: "127.0.1.1", TaskID: "web.1", Platform: PlatformMarathon})
	rec, m := do(t, a, "GET", "/", "")
	if rec.Code != 200 || m["app"] != "web" || m["version"] != "v3" || m["instanceId"] != "abc" || m["host"] != "127.0.1.1" || m["taskId"] != "web.1" || m["platform"] != "marathon" || m["request"] != 1.0 {
		t.Fatalf("GET / = %d %v", rec.Code, rec.Body)
	}
	if rec.Header().Get("X-Demo-Version") != "v3" || rec.Header().Get("X-Demo-Instance") != "abc" {
		t.Errorf("headers %v", rec.Header())
	}
	for _, path := range []string{"/", "/echo"} {
		rec, _ = do(t, a, "POST", path, `{"hello":"world"}`)
		if rec.Code != 200 || rec.Body.String() != `{"hello":"world"}` {
			t.Errorf("POST %s = %d %q", path, rec.Code, rec.Body)
		}
	}
	if rec, m := do(t, a, "GET", "/demo/web/x", ""); rec.Code != 200 || m["path"] != "/demo/web/x" || m["version"] != "v3" {
		t.Errorf("GET /demo/web/x = %d %v (every path answers, for path-prefix routes)", rec.Code, m)
	}
	if rec, _ := do(t, a, "GET", "/admin/fail?rate=1", ""); rec.Code != 405 {
		t.Errorf("GET on an admin endpoint = %d, want 405", rec.Code)
	}
	if rec, _ := do(t, a, "POST", "/admin/state", ""); rec.Code != 405 {
		t.Errorf("POST /admin/state = %d, want 405", rec.Code)
	}
	if rec, _ := do(t, a, "POST", "/admin/nope", ""); rec.Code != 404 {
		t.Errorf("POST /admin/nope = %d, want 404", rec.Code)
	}
}

func TestFailAfterRequests(t *testing.T) {
	a := New(Config{FailAfter: Trigger{Requests: 3}})
	var codes []int
	for range 5 {
		rec, _ := do(t, a, "GET", "/", "")
		codes = append(codes, rec.Code)
	}
	if want := []int{200, 200, 200, 500, 500}; !slices.Equal(codes, want) {
		t.Fatalf("codes %v, want %v", codes, want)
	}
	// Health is not the workload: it stays up.
	if rec, _ := do(t, a, "GET", "/health", ""); rec.Code != 200 {
		t.Errorf("health = %d", rec.Code)
	}
	// The admin switch clears the tripped state.
	if rec, _ := do(t, a, "POST", "/admin/fail?all=false", ""); rec.Code != 200 {
		t.Fatalf("admin = %d", rec.Code)
	}
	if rec, _ := do(t, a, "GET", "/", ""); rec.Code != 200 {
		t.Errorf("after all=false: %d", rec.Code)
	}
}

func TestFailAfterDurationAndReadyDelay(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	a := newApp(Config{FailAfter: Trigger{After: time.Minute}, ReadyDelay: 5 * time.Second}, c.now)
	if rec, _ := do(t, a, "GET", "/ready", ""); rec.Code != 503 {
		t.Errorf("ready before delay = %d", rec.Code)
	}
	if rec, _ := do(t, a, "GET", "/health", ""); rec.Code != 200 {
		t.Errorf("health during ready delay = %d", rec.Code)
	}
	c.add(5 * time.Second)
	if rec, _ := do(t, a, "GET", "/ready", ""); rec.Code != 200 {
		t.Errorf("ready after delay = %d", rec.Code)
	}
	if rec, _ := do(t, a, "GET", "/", ""); rec.Code != 200 {
		t.Errorf("before fail-after = %d", rec.Code)
	}
	c.add(time.Minute)
	if rec, _ := do(t, a, "GET", "/", ""); rec.Code != 500 {
		t.Errorf("after fail-after = %d", rec.Code)
	}
}

func TestFailRate(t *testing.T) {
	a := New(Config{})
	if rec, _ := do(t, a, "POST", "/admin/fail?rate=0.5", ""); rec.Code != 200 {
		t.Fatal(rec.Code, rec.Body)
	}
	fails := 0
	const n = 2000
	for range n {
		if rec, _ := do(t, a, "GET", "/", ""); rec.Code == 500 {
			fails++
		}
	}
	// Binomial(2000, 0.5): 6 standard deviations is about ±134.
	if fails < 850 || fails > 1150 {
		t.Errorf("%d of %d failed at rate 0.5", fails, n)
	}
	do(t, a, "POST", "/admin/fail?rate=0", "")
	for range 100 {
		if rec, _ := do(t, a, "GET", "/", ""); rec.Code != 200 {
			t.Fatalf("rate 0 gave %d", rec.Code)
		}
	}
	for _, bad := range []string{"/admin/fail?rate=2", "/admin/fail?rate=x", "/admin/fail", "/admin/fail?all=perhaps"} {
		if rec, _ := do(t, a, "POST", bad, ""); rec.Code != 400 {
			t.Errorf("POST %s = %d, want 400", bad, rec.Code)
		}
	}
}

func TestHealthSwitches(t *testing.T) {
	a := New(Config{Unhealthy: true})
	for _, p := range []string{"/health", "/healthz", "/ready"} {
		if rec, _ := do(t, a, "GET", p, ""); rec.Code != 503 {
			t.Errorf("unhealthy %s = %d", p, rec.Code)
		}
	}
	do(t, a, "POST", "/admin/healthy?v=true", "")
	for _, p := range []string{"/health", "/healthz", "/ready"} {
		if rec, _ := do(t, a, "GET", p, ""); rec.Code != 200 {
			t.Errorf("healthy %s = %d", p, rec.Code)
		}
	}
	do(t, a, "POST", "/admin/ready?v=false", "")
	if rec, _ := do(t, a, "GET", "/ready", ""); rec.Code != 503 {
		t.Errorf("ready after v=false = %d", rec.Code)
	}
	if rec, _ := do(t, a, "GET", "/health", ""); rec.Code != 200 {
		t.Errorf("health after ready=false = %d", rec.Code)
	}
	if rec, _ := do(t, a, "POST", "/admin/healthy?v=nope", ""); rec.Code != 400 {
		t.Errorf("bad v = %d", rec.Code)
	}
	_, st := do(t, a, "GET", "/admin/state", "")
	if st["healthy"] != true || st["ready"] != false {
		t.Errorf("state %v", st)
	}
}

func TestCrashAfterRequests(t *testing.T) {
	a := New(Config{CrashAfter: Trigger{Requests: 2}})
	do(t, a, "GET", "/", "")
	select {
	case <-a.Crashed():
		t.Fatal("crashed after one request")
	default:
	}
	do(t, a, "GET", "/", "")
	select {
	case <-a.Crashed():
	default:
		t.Fatal("did not crash after two requests")
	}
}

func TestSlow(t *testing.T) {
	a := New(Config{})
	do(t, a, "POST", "/admin/slow?d=120ms", "")
	start := time.Now()
	do(t, a, "GET", "/", "")
	if d := time.Since(start); d < 120*time.Millisecond {
		t.Errorf("request took %s with 120ms added latency", d)
	}
	if rec, _ := do(t, a, "POST", "/admin/slow?d=zzz", ""); rec.Code != 400 {
		t.Errorf("bad duration = %d", rec.Code)
	}
}

// TestRunGracefulShutdown: a request in flight when the context is cancelled
// (SIGTERM in the CLI) completes; new connections are refused afterwards.
func TestRunGracefulShutdown(t *testing.T) {
	cfg := Config{Listen: "127.0.0.1:0", Version: "v9", InstanceID: "x", Slow: 300 * time.Millisecond, ShutdownGrace: 5 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, io.Discard, func(a string) { addrc <- a }) }()
	addr := <-addrc
	type result struct {
		code int
		body string
		err  error
	}
	resc := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			resc <- result{err: err}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		resc <- result{code: resp.StatusCode, body: string(b)}
	}()
	time.Sleep(100 * time.Millisecond) // the request is now sleeping in the handler
	cancel()
	r := <-resc
	if r.err != nil || r.code != 200 || !strings.Contains(r.body, `"version":"v9"`) {
		t.Fatalf("in-flight request: %+v", r)
	}
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatal("still accepting after shutdown")
	}
}

func TestRunCrashAfterDuration(t *testing.T) {
	err := Run(context.Background(), Config{Listen: "127.0.0.1:0", CrashAfter: Trigger{After: 50 * time.Millisecond}}, io.Discard, nil)
	if !errors.Is(err, ErrCrashed) {
		t.Fatalf("Run = %v, want ErrCrashed", err)
	}
}

func TestRunListenError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = Run(context.Background(), Config{Listen: ln.Addr().String()}, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "listen on "+ln.Addr().String()) {
		t.Fatalf("Run on a used port = %v", err)
	}
}
