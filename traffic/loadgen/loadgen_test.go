package loadgen

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestCountsFailuresWithoutRetrying: a server that drops every 10th request
// on the floor (closes the connection without answering) costs exactly one
// failed request each time: nothing is retried, and the connection is
// re-established for the next request.
func TestCountsFailuresWithoutRetrying(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%10 == 0 {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		if r.Method == http.MethodPost && r.ContentLength <= 0 {
			http.Error(w, "empty post", http.StatusBadRequest)
			return
		}
		w.Header().Set("X-Backend", "only")
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	target := strings.TrimPrefix(srv.URL, "http://")
	res := Run(context.Background(), Config{Target: target, Conns: 1, Requests: 1000, PostEvery: 2})
	if res.Sent != 1000 || n.Load() != 1000 {
		t.Fatalf("sent %d, server saw %d: want 1000 each (no retries)", res.Sent, n.Load())
	}
	if res.Failed != 100 || res.OK != 900 || res.ByBackend["only"] != 900 || res.Posts != 500 {
		t.Fatalf("got %s %v %v", res, res.Errors, res.ByBackend)
	}
	// Between splits the run by start time; the parts add up to the whole.
	mid := res.Start.Add(res.Duration / 2)
	end := res.Start.Add(res.Duration + time.Second)
	a, b := res.Between(res.Start, mid), res.Between(mid, end)
	if a.Sent+b.Sent != res.Sent || a.Failed+b.Failed != res.Failed || a.Sent == 0 || b.Sent == 0 {
		t.Fatalf("halves %s and %s do not add up to %s", a, b, res)
	}
	if all := res.Between(res.Start, end); all.P99 != res.P99 || all.P50 != res.P50 {
		t.Fatalf("whole-run summary %s differs from the result %s", all, res)
	}
	if none := res.Between(end, end.Add(time.Hour)); none.Sent != 0 {
		t.Fatalf("requests after the end: %s", none)
	}
	// Connection refused counts as a failure too.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	res = Run(context.Background(), Config{Target: addr, Conns: 2, Requests: 10})
	if res.Failed != 10 || res.OK != 0 {
		t.Fatalf("against a closed port: %s", res)
	}
}

// switchable starts a test server that answers 200, or 500 while failing
// is set, and returns its host:port.
func switchable(t *testing.T) (target string, failing *atomic.Bool) {
	failing = new(atomic.Bool)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			http.Error(w, "bad release", http.StatusInternalServerError)
		}
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), failing
}

// TestAroundSplitsAndChecks runs load around changes that make a test
// server fail (500) from some moment to another, and checks how the run is
// split and what each check says of it.
func TestAroundSplitsAndChecks(t *testing.T) {
	target, failing := switchable(t)
	cfg := Config{Target: target, Conns: 2, PostEvery: 3, Rate: 400}
	const settle = 150 * time.Millisecond

	for _, tc := range []struct {
		name string
		// failBefore and failAfter: the server fails before and after the
		// change; failDuring: the change makes it fail while it runs.
		failBefore, failDuring, failAfter bool
		minSent                           int64
		wantZero, wantOnlyDuring          string // "" for nil, else a part of the error
	}{
		{name: "nothing fails", minSent: 10},
		{name: "too few requests", minSent: 1 << 40, wantZero: "only"},
		{name: "fails during", failDuring: true, minSent: 10, wantZero: "before/during/after 0/"},
		{name: "fails after", failDuring: true, failAfter: true, minSent: 10, wantZero: "failed", wantOnlyDuring: "after the change"},
		{name: "fails before", failBefore: true, minSent: 10, wantZero: "failed", wantOnlyDuring: "before the change"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			failing.Store(tc.failBefore)
			// The server switches a little after the change begins and
			// before it ends: a request in flight at Begin or End (tens of
			// microseconds) counts in the phase it started in.
			const guard = 20 * time.Millisecond
			p := Around(context.Background(), cfg, settle, func() {
				time.Sleep(guard)
				failing.Store(tc.failDuring)
				time.Sleep(settle)
				failing.Store(tc.failAfter)
				time.Sleep(guard)
			})
			t.Logf("\n%s", p)
			if p.Before.Sent == 0 || p.During.Sent == 0 || p.After.Sent == 0 {
				t.Fatalf("a phase without requests:\n%s", p)
			}
			if sum := p.Before.Sent + p.During.Sent + p.After.Sent; sum != p.Sent {
				t.Fatalf("phases add up to %d requests, the run sent %d", sum, p.Sent)
			}
			if sum := p.Before.Failed + p.During.Failed + p.After.Failed; sum != p.Failed {
				t.Fatalf("phases add up to %d failures, the run had %d", sum, p.Failed)
			}
			if !p.Begin.Before(p.End) {
				t.Fatalf("change from %s to %s", p.Begin, p.End)
			}
			check := func(what string, err error, want string) {
				t.Helper()
				if (err == nil) != (want == "") || (err != nil && !strings.Contains(err.Error(), want)) {
					t.Errorf("%s = %v, want an error with %q", what, err, want)
				}
			}
			check("ZeroFailed", p.ZeroFailed(tc.minSent), tc.wantZero)
			check("FailedOnlyDuring(status 500)", p.FailedOnlyDuring("status 500"), tc.wantOnlyDuring)
			if tc.failDuring && !tc.failAfter {
				check("FailedOnlyDuring(status 502)", p.FailedOnlyDuring("status 502"), "not one of")
			}
		})
	}
}

// TestStopWithoutMarks: without Begin and End the whole run is "during" and
// shows as one line, and Stop may be called twice.
func TestStopWithoutMarks(t *testing.T) {
	target, _ := switchable(t)
	l := Start(context.Background(), Config{Target: target, Conns: 1, Requests: 50})
	time.Sleep(100 * time.Millisecond)
	p := l.Stop()
	if p.Sent != 50 || p.During.Sent != 50 || p.Before.Sent != 0 || p.After.Sent != 0 {
		t.Fatalf("want all 50 requests during:\n%s", p)
	}
	if again := l.Stop(); again.Sent != p.Sent || again.During != p.During {
		t.Fatalf("second Stop: %s, first: %s", again, p)
	}
	if s := p.String(); strings.Contains(s, "\n") || !strings.HasPrefix(s, "sent 50, ok 50, failed 0") {
		t.Fatalf("a run without a change shows as one line, the whole run: %q", s)
	}
}
