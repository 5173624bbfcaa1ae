package traffic

import (
	"fmt"
	"sort"
	"sync"
	"time"
)

// Key names one series of statistics: a route, and the platform that served
// the requests ("" for requests that reached no backend).
type Key struct {
	Route    string
	Platform string
}

// Stat summarizes the requests of one series over a window.
type Stat struct {
	// Requests is the number of requests.
	Requests int
	// Errors5xx is the number of requests answered with a 5xx status.
	Errors5xx int
	// ErrorRate is Errors5xx / Requests (0 without requests).
	ErrorRate float64
	// P50 and P99 are latency quantiles: at nginx's millisecond resolution
	// from an access log (Window), interpolated within the module's
	// histogram buckets from /stats (Delta).
	P50, P99 time.Duration
}

// String renders the stat for logs and progress lines.
func (s Stat) String() string {
	return fmt.Sprintf("%d requests, %d 5xx (%.2f%%), p50 %s, p99 %s", s.Requests, s.Errors5xx, 100*s.ErrorRate, ms(s.P50), ms(s.P99))
}

// Window aggregates access log entries per route and platform over a sliding
// window of time (rounded out to whole seconds), in one-second buckets with exact millisecond latency
// counts, so memory does not grow with the request rate. It is safe for
// concurrent use.
type Window struct {
	length  time.Duration
	mu      sync.Mutex
	buckets map[int64]map[Key]*series // unix second -> series
}

type series struct {
	requests, errors int
	latency          map[int64]int // milliseconds -> count
}

// NewWindow returns a window of the given length (at least one second).
func NewWindow(length time.Duration) *Window {
	if length < time.Second {
		length = time.Second
	}
	return &Window{length: length, buckets: map[int64]map[Key]*series{}}
}

// Add counts one request.
func (w *Window) Add(e Entry) {
	w.mu.Lock()
	defer w.mu.Unlock()
	sec := e.Time.Unix()
	b := w.buckets[sec]
	if b == nil {
		b = map[Key]*series{}
		w.buckets[sec] = b
		w.pruneLocked(e.Time)
	}
	k := Key{Route: e.Route, Platform: e.Platform}
	s := b[k]
	if s == nil {
		s = &series{latency: map[int64]int{}}
		b[k] = s
	}
	s.requests++
	if e.Status >= 500 && e.Status <= 599 {
		s.errors++
	}
	s.latency[e.RequestTime.Milliseconds()]++
}

// pruneLocked drops buckets that ended before the window that ends at now
// (buckets from the future are kept).
func (w *Window) pruneLocked(now time.Time) {
	oldest := now.Add(-w.length).Unix()
	for sec := range w.buckets {
		if sec < oldest {
			delete(w.buckets, sec)
		}
	}
}

// inWindow reports whether the bucket of second sec lies in (now-length, now].
func (w *Window) inWindow(sec int64, now time.Time) bool {
	return sec > now.Add(-w.length).Unix()-1 && sec <= now.Unix()
}

// Keys returns the series seen in the window ending at now, sorted.
func (w *Window) Keys(now time.Time) []Key {
	w.mu.Lock()
	defer w.mu.Unlock()
	seen := map[Key]bool{}
	for sec, b := range w.buckets {
		if !w.inWindow(sec, now) {
			continue
		}
		for k := range b {
			seen[k] = true
		}
	}
	out := make([]Key, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Route != out[j].Route {
			return out[i].Route < out[j].Route
		}
		return out[i].Platform < out[j].Platform
	})
	return out
}

// Stat summarizes a route over the window ending at now: platform selects one
// platform's requests, "*" all requests of the route.
func (w *Window) Stat(now time.Time, route, platform string) Stat {
	w.mu.Lock()
	defer w.mu.Unlock()
	var st Stat
	lat := map[int64]int{}
	for sec, b := range w.buckets {
		if !w.inWindow(sec, now) {
			continue
		}
		for k, s := range b {
			if k.Route != route || (platform != "*" && k.Platform != platform) {
				continue
			}
			st.Requests += s.requests
			st.Errors5xx += s.errors
			for v, n := range s.latency {
				lat[v] += n
			}
		}
	}
	if st.Requests == 0 {
		return st
	}
	st.ErrorRate = float64(st.Errors5xx) / float64(st.Requests)
	st.P50 = quantile(lat, st.Requests, 0.50)
	st.P99 = quantile(lat, st.Requests, 0.99)
	return st
}

// quantile returns the smallest latency such that at least q of the n
// requests took no longer (nearest-rank method).
func quantile(lat map[int64]int, n int, q float64) time.Duration {
	vals := make([]int64, 0, len(lat))
	for v := range lat {
		vals = append(vals, v)
	}
	sort.Slice(vals, func(i, j int) bool { return vals[i] < vals[j] })
	rank := int(q*float64(n) + 0.999999999)
	if rank < 1 {
		rank = 1
	}
	seen := 0
	for _, v := range vals {
		seen += lat[v]
		if seen >= rank {
			return time.Duration(v) * time.Millisecond
		}
	}
	return time.Duration(vals[len(vals)-1]) * time.Millisecond
}
