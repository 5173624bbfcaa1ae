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
