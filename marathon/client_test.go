package marathon

// Transport-mechanics tests. The httptest servers here are not Marathon fakes:
// they only answer with status codes, delays and bodies to exercise retries,
// timeouts, headers and error decoding. The API itself is tested against the
// lab's Marathon in client_integration_test.go.

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
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/version"
)

// testClient returns a client for url that records its backoff sleeps
// instead of sleeping, with jitter fixed at the centre value.
func testClient(t *testing.T, cfg Config) (*Client, *[]time.Duration) {
	t.Helper()
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	var mu sync.Mutex
	sleeps := &[]time.Duration{}
	c.jitter = func() float64 { return 0.5 }
	c.sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		*sleeps = append(*sleeps, d)
		mu.Unlock()
		return ctx.Err()
	}
	return c, sleeps
}

// statusSequence answers with the given statuses in turn (the last one
// repeats), counting requests.
func statusSequence(t *testing.T, statuses ...int) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		s := statuses[min(i, len(statuses)-1)]
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(s)
		if s >= 400 {
			_, _ = io.WriteString(w, `{"message":"status `+http.StatusText(s)+`"}`)
			return
		}
		_, _ = io.WriteString(w, `{"leader":"127.0.0.1:8080"}`)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

var testBackoff = Backoff{Initial: 10 * time.Millisecond, Max: 80 * time.Millisecond, Multiplier: 2, Jitter: 0.5}

func TestRetriesOn5xxThenSucceeds(t *testing.T) {
	srv, n := statusSequence(t, 500, 502, 200)
	c, sleeps := testClient(t, Config{URL: srv.URL, Retries: 3, Backoff: testBackoff})
	leader, err := c.Leader(context.Background())
	if err != nil {
		t.Fatalf("Leader: %v", err)
	}
	if leader != "127.0.0.1:8080" {
		t.Errorf("leader = %q", leader)
	}
	if got := n.Load(); got != 3 {
		t.Errorf("requests = %d, want 3", got)
	}
	want := []time.Duration{10 * time.Millisecond, 20 * time.Millisecond}
	if !slices.Equal(*sleeps, want) {
		t.Errorf("backoff sleeps = %v, want %v (exponential)", *sleeps, want)
	}
}

func TestRetriesExhaustedOn5xx(t *testing.T) {
	srv, n := statusSequence(t, 502)
	c, sleeps := testClient(t, Config{URL: srv.URL, Retries: 4, Backoff: testBackoff})
	_, err := c.Leader(context.Background())
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 502 {
		t.Fatalf("err = %v, want *APIError 502", err)
	}
	if got := n.Load(); got != 5 {
		t.Errorf("requests = %d, want 5 (1 + 4 retries)", got)
	}
	want := []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond, 80 * time.Millisecond}
	if !slices.Equal(*sleeps, want) {
		t.Errorf("backoff sleeps = %v, want %v", *sleeps, want)
	}
}

func TestNoRetryPolicy(t *testing.T) {
	tests := []struct {
		name     string
		statuses []int
		call     func(*Client) error
		want     int32
	}{
		{"404 GET", []int{404, 200}, func(c *Client) error { _, err := c.Leader(context.Background()); return err }, 1},
		{"409 PUT", []int{409, 200}, func(c *Client) error {
			_, err := c.ScaleApp(context.Background(), "/a", 1, false)
			return err
		}, 1},
		{"422 POST", []int{422, 200}, func(c *Client) error {
			_, err := c.CreateApp(context.Background(), &App{ID: "/a"})
			return err
		}, 1},
		{"401 GET", []int{401, 200}, func(c *Client) error { _, err := c.Info(context.Background()); return err }, 1},
		{"500 POST not idempotent", []int{500, 200}, func(c *Client) error {
			_, err := c.RestartApp(context.Background(), "/a", false)
			return err
		}, 1},
		{"503 POST retried", []int{503, 503, 500}, func(c *Client) error {
			_, err := c.RestartApp(context.Background(), "/a", false)
			return err
		}, 3},
		{"500 DELETE retried", []int{500, 500, 500, 500}, func(c *Client) error {
			_, err := c.DeleteApp(context.Background(), "/a", false)
			return err
		}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, n := statusSequence(t, tt.statuses...)
			c, _ := testClient(t, Config{URL: srv.URL, Retries: 3, Backoff: testBackoff})
			err := tt.call(c)
			if err == nil {
				t.Fatal("want an error")
			}
			if got := n.Load(); got != tt.want {
				t.Errorf("requests = %d, want %d (err: %v)", got, tt.want, err)
			}
		})
	}
}

func TestRetryAfterHonouredAndCapped(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.Header().Set("Retry-After", "60")
			w.WriteHeader(503)
			return
		}
		_, _ = io.WriteString(w, `{"leader":"x"}`)
	}))
	defer srv.Close()
	c, sleeps := testClient(t, Config{URL: srv.URL, Backoff: testBackoff})
	if _, err := c.Leader(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(*sleeps, []time.Duration{testBackoff.Max}) {
		t.Errorf("sleeps = %v, want Retry-After capped at %v", *sleeps, testBackoff.Max)
	}
}

func TestRetryResendsSameBody(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, r.Method+" "+r.URL.RequestURI()+" "+string(b))
		first := len(bodies) == 1
		mu.Unlock()
		if first {
			w.WriteHeader(500)
			return
		}
		_, _ = io.WriteString(w, `{"deploymentId":"d1","version":"v1"}`)
	}))
	defer srv.Close()
	c, _ := testClient(t, Config{URL: srv.URL, Backoff: testBackoff})
	res, err := c.ScaleApp(context.Background(), "/prod/web", 3, true)
	if err != nil {
		t.Fatal(err)
	}
	if res.DeploymentID != "d1" || res.Version != "v1" {
		t.Errorf("result = %+v", res)
	}
	want := `PUT /v2/apps/prod/web?force=true {"instances":3}`
	if len(bodies) != 2 || bodies[0] != want || bodies[1] != want {
		t.Errorf("requests = %q, want twice %q", bodies, want)
	}
}

// refusedURL returns an http URL on a loopback port nothing listens on.
func refusedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

func TestConnectionRefused(t *testing.T) {
	u := refusedURL(t)
	for _, method := range []string{"GET", "POST"} {
		t.Run(method, func(t *testing.T) {
			c, sleeps := testClient(t, Config{URL: u, Retries: 2, Backoff: testBackoff})
			var err error
			if method == "GET" {
				_, err = c.Info(context.Background())
			} else {
				_, err = c.RestartApp(context.Background(), "/a", false)
			}
			var te *TransportError
			if !errors.As(err, &te) {
				t.Fatalf("err = %v, want *TransportError", err)
			}
			if te.Attempts != 3 || len(*sleeps) != 2 {
				t.Errorf("attempts = %d, sleeps = %v; want 3 attempts (refused requests were never sent, so even POST retries)", te.Attempts, *sleeps)
			}
			msg := err.Error()
			for _, want := range []string{"cannot reach Marathon at " + u, "connection refused", "is it running? check MARATHON_URL", "after 3 attempts"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not contain %q", msg, want)
				}
			}
			if !IsUnreachable(err) {
				t.Error("IsUnreachable = false")
			}
		})
	}
}

func TestFailoverToNextURL(t *testing.T) {
	srv, n := statusSequence(t, 200)
	dead := refusedURL(t)
	c, _ := testClient(t, Config{URL: dead + " , " + srv.URL, Backoff: testBackoff})
	if c.URL() != dead {
		t.Fatalf("URL() = %q, want first URL %q", c.URL(), dead)
	}
	if _, err := c.Leader(context.Background()); err != nil {
		t.Fatalf("Leader: %v", err)
	}
	if c.URL() != srv.URL {
		t.Errorf("after failover URL() = %q, want %q", c.URL(), srv.URL)
	}
	if n.Load() != 1 {
		t.Errorf("requests to the live Marathon = %d, want 1", n.Load())
	}
}

func TestPerAttemptTimeout(t *testing.T) {
	var n atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			select { // first attempt hangs past the client's timeout
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		_, _ = io.WriteString(w, `{"deploymentId":"d","version":"v","leader":"l"}`)
	}))
	defer srv.Close()
	defer close(release)

	c, _ := testClient(t, Config{URL: srv.URL, Timeout: 100 * time.Millisecond, Backoff: testBackoff})
	if _, err := c.Leader(context.Background()); err != nil {
		t.Fatalf("GET after a timed-out attempt: %v", err)
	}
	if n.Load() != 2 {
		t.Errorf("GET attempts = %d, want 2", n.Load())
	}

	n.Store(0)
	_, err := c.RestartApp(context.Background(), "/a", false)
	var te *TransportError
	if !errors.As(err, &te) || te.Attempts != 1 {
		t.Fatalf("POST that timed out: err = %v, want a TransportError after 1 attempt (POST may have been applied)", err)
	}
	if !strings.Contains(err.Error(), "did not answer in time") {
		t.Errorf("timeout error %q should say Marathon did not answer in time", err)
	}
}

func TestContextCancelStopsRetries(t *testing.T) {
	srv, n := statusSequence(t, 503)
	c, err := NewClient(Config{URL: srv.URL, Retries: 10, Backoff: Backoff{Initial: time.Hour, Max: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = c.Info(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want context.DeadlineExceeded", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("cancel took %v", time.Since(start))
	}
	if n.Load() != 1 {
		t.Errorf("requests = %d, want 1", n.Load())
	}
}

func TestRequestHeaders(t *testing.T) {
	got := make(chan http.Header, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
		_, _ = io.WriteString(w, `{"deploymentId":"d","version":"v"}`)
	}))
	defer srv.Close()
	c, _ := testClient(t, Config{URL: srv.URL})
	if _, err := c.Leader(context.Background()); err != nil {
		t.Fatal(err)
	}
	h := <-got
	if ua := h.Get("User-Agent"); ua != "switchyard/"+version.Version {
		t.Errorf("User-Agent = %q, want switchyard/%s", ua, version.Version)
	}
	if h.Get("Accept") != "application/json" || h.Get("Content-Type") != "" {
		t.Errorf("GET headers Accept=%q Content-Type=%q", h.Get("Accept"), h.Get("Content-Type"))
	}
	if h.Get("Authorization") != "" {
		t.Errorf("no credentials configured, but Authorization = %q", h.Get("Authorization"))
	}
	if _, err := c.ScaleApp(context.Background(), "a", 1, false); err != nil {
		t.Fatal(err)
	}
	if h := <-got; h.Get("Content-Type") != "application/json" {
		t.Errorf("PUT Content-Type = %q", h.Get("Content-Type"))
	}
}

func TestDecodeErrorNamesEndpoint(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"leader": 42}`)
	}))
	defer srv.Close()
	c, _ := testClient(t, Config{URL: srv.URL})
	_, err := c.Leader(context.Background())
	if err == nil || !strings.Contains(err.Error(), "GET /v2/leader: decode answer from "+srv.URL) {
		t.Errorf("err = %v, want a decode error naming the endpoint and Marathon", err)
	}
}

func TestNewClientErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no url", Config{}, "MARATHON_URL"},
		{"bad scheme", Config{URL: "ftp://x"}, "want http://HOST:PORT"},
		{"no host", Config{URL: "http://"}, "want http://HOST:PORT"},
		{"only commas", Config{URL: " , "}, "no URL"},
		{"client and TLS", Config{URL: "https://x", HTTPClient: http.DefaultClient, InsecureSkipVerify: true}, "either HTTPClient or the TLS settings"},
		{"missing CA file", Config{URL: "https://x", CAFile: "/nonexistent/ca.pem"}, "read Marathon CA file"},
		{"bad CA data", Config{URL: "https://x", CAData: []byte("not pem")}, "no PEM certificate found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewClient(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewClient err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestURLNormalised(t *testing.T) {
	c, err := NewClient(Config{URL: "https://u:p@dcos.example/service/marathon/"})
	if err != nil {
		t.Fatal(err)
	}
	if c.URL() != "https://dcos.example/service/marathon" {
		t.Errorf("URL() = %q: want userinfo and trailing slash removed, path prefix kept", c.URL())
	}
	if c.cfg.Username != "u" || c.cfg.Password != "p" {
		t.Errorf("credentials from userinfo = %q/%q", c.cfg.Username, c.cfg.Password)
	}
}

func TestObjectPath(t *testing.T) {
	tests := []struct {
		id, want, err string
	}{
		{"/prod/web", "/v2/apps/prod/web", ""},
		{"prod/web/", "/v2/apps/prod/web", ""},
		{" /a ", "/v2/apps/a", ""},
		{"/a b/c?d", "/v2/apps/a%20b/c%3Fd", ""},
		{"", "", "empty id"},
		{"/", "", "empty id"},
		{"/a//b", "", "empty or relative"},
		{"/a/../b", "", "empty or relative"},
	}
	for _, tt := range tests {
		got, err := objectPath("/v2/apps", tt.id)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("objectPath(%q) err = %v, want %q", tt.id, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("objectPath(%q) = %q, %v; want %q", tt.id, got, err, tt.want)
		}
	}
}

func TestQueryBuilding(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"apps", AppsOptions{Cmd: "java", Label: "env==prod", Embed: []string{EmbedAppsTasks, EmbedAppsDeployments}}.query().Encode(),
			"cmd=java&embed=apps.tasks&embed=apps.deployments&label=env%3D%3Dprod"},
		{"update", UpdateOptions{Force: true, Replace: true}.query().Encode(), "force=true&partialUpdate=false"},
		{"update default", UpdateOptions{}.query().Encode(), ""},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: query = %q, want %q", tt.name, tt.got, tt.want)
		}
	}
	q, err := KillOptions{Scale: true, Force: true, Host: "127.0.1.1"}.query()
	if err != nil || q.Encode() != "force=true&host=127.0.1.1&scale=true" {
		t.Errorf("kill query = %q, %v", q.Encode(), err)
	}
	if _, err := (KillOptions{Scale: true, Wipe: true}).query(); err == nil {
		t.Error("scale+wipe: want an error")
	}
}

func TestWritableDropsReadOnlyFields(t *testing.T) {
	v := "2015-09-30T09:09:17.614Z"
	app := &App{
		ID: "/prod/web", Cmd: ptrTo("sleep 1"), Instances: ptrTo(2), Version: &v,
		VersionInfo: &VersionInfo{}, TasksRunning: ptrTo(2), Deployments: []AppDeploymentRef{{ID: "d1"}},
		Tasks: []AppTask{{ID: "t1"}}, LastTaskFailure: &AppTaskFailure{AppID: "/prod/web"},
	}
	g := &Group{ID: "/prod", Version: &v, Apps: []*App{app}, Groups: []*Group{{ID: "/prod/db", Version: &v, Apps: []*App{app}}}}
	for name, v := range map[string]any{"app": writableApp(app), "group": writableGroup(g)} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		for _, gone := range []string{`"version"`, `"versionInfo"`, `"tasksRunning"`, `"deployments"`, `"tasks"`, `"lastTaskFailure"`} {
			if strings.Contains(s, gone) {
				t.Errorf("%s body %s still has %s", name, s, gone)
			}
		}
		for _, kept := range []string{`"id":"/prod/web"`, `"cmd":"sleep 1"`, `"instances":2`} {
			if !strings.Contains(s, kept) {
				t.Errorf("%s body %s lost %s", name, s, kept)
			}
		}
	}
	if app.Version == nil || len(app.Tasks) != 1 || g.Version == nil || g.Groups[0].Version == nil {
		t.Error("writable copies must not modify the caller's definitions")
	}
}

func ptrTo[T any](v T) *T { return &v }
