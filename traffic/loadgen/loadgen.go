// Package loadgen is a strict HTTP/1.1 load generator for counting failed
// requests through the shared nginx: each connection is kept alive and used
// for one request at a time, and a request that fails is never retried (Go's
// http.Transport silently retries idempotent requests on a broken keep-alive
// connection, which would hide exactly the failures a traffic shift can
// cause). It sends GETs and, optionally, POSTs with a body.
//
// Run sends load and counts it; Start, Around and Phases are the one
// load-and-compare harness of the tests and benchmarks that change live
// traffic: load runs in the background, a change (a migration, weight
// shifts, an nginx restart) is marked on it, and the run is split into the
// requests sent before, during and after the change, with the checks
// ZeroFailed and FailedOnlyDuring.
package loadgen

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config says what to send.
type Config struct {
	// Target is nginx's host:port.
	Target string
	// Host is the Host header (default: Target).
	Host string
	// Path is the request path (default "/").
	Path string
	// Conns is the number of concurrent keep-alive connections (default 8).
	Conns int
	// PostEvery makes every Nth request of a connection a POST with a small
	// body (0: GETs only).
	PostEvery int
	// Timeout bounds each request (default 5 s).
	Timeout time.Duration
	// Rate caps the total requests per second (0: as fast as possible).
	Rate int
	// Requests stops the run after that many requests in total (0: run
	// until the context is done).
	Requests int64
}

// Result counts what was sent and how it ended.
type Result struct {
	// Sent is the number of requests written (or attempted).
	Sent int64
	// OK is the number answered with status 200.
	OK int64
	// Failed is Sent - OK: transport errors and non-200 statuses.
	Failed int64
	// Posts is the number of POST requests among Sent.
	Posts int64
	// Errors holds up to 20 failure descriptions with their counts.
	Errors map[string]int64
	// ByBackend counts successful answers per X-Backend response header.
	ByBackend map[string]int64
	// Duration is how long the run lasted.
	Duration time.Duration
	// P50 and P99 are the latencies of successful requests.
	P50, P99 time.Duration
	// Start is when the run began.
	Start time.Time

	samples []sample
}

// sample is one request: when it started (since Result.Start), its latency
// and whether it succeeded.
type sample struct {
	at      time.Duration
	latency time.Duration
	ok      bool
}

// Summary counts the requests of a part of a run.
type Summary struct {
	Sent, Failed int64
	// P50 and P99 are the latencies of the successful requests.
	P50, P99 time.Duration
}

// String renders the summary on one line.
func (s Summary) String() string {
	return fmt.Sprintf("sent %d, failed %d, p50 %s, p99 %s", s.Sent, s.Failed, s.P50, s.P99)
}

// Between summarizes the requests that started in [from, to): e.g. before,
// during and after a cut-over.
func (r Result) Between(from, to time.Time) Summary {
	var s Summary
	var lats []time.Duration
	lo, hi := from.Sub(r.Start), to.Sub(r.Start)
	for _, x := range r.samples {
		if x.at < lo || x.at >= hi {
			continue
		}
		s.Sent++
		if x.ok {
			lats = append(lats, x.latency)
		} else {
			s.Failed++
		}
	}
	s.P50, s.P99 = quantiles(lats)
	return s
}

func quantiles(lats []time.Duration) (p50, p99 time.Duration) {
	if len(lats) == 0 {
		return 0, 0
	}
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	return lats[(len(lats)-1)*50/100], lats[(len(lats)-1)*99/100]
}

// RPS is the successful request rate.
func (r Result) RPS() float64 {
	if r.Duration <= 0 {
		return 0
	}
	return float64(r.OK) / r.Duration.Seconds()
}

// String summarizes the result on one line.
func (r Result) String() string {
	return fmt.Sprintf("sent %d, ok %d, failed %d (%d POST), %.0f req/s, p50 %s, p99 %s",
		r.Sent, r.OK, r.Failed, r.Posts, r.RPS(), r.P50, r.P99)
}

type worker struct {
	res     Result
	start   time.Time
	samples []sample
}

// Run sends requests until ctx is done and returns the counts.
func Run(ctx context.Context, cfg Config) Result {
	if cfg.Conns <= 0 {
		cfg.Conns = 8
	}
	if cfg.Path == "" {
		cfg.Path = "/"
	}
	if cfg.Host == "" {
		cfg.Host = cfg.Target
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	var tokens <-chan time.Time
	if cfg.Rate > 0 {
		t := time.NewTicker(time.Second / time.Duration(cfg.Rate))
		defer t.Stop()
		tokens = t.C
	}
	var budget *atomic.Int64
	if cfg.Requests > 0 {
		budget = new(atomic.Int64)
		budget.Store(cfg.Requests)
	}
	start := time.Now()
	ws := make([]*worker, cfg.Conns)
	var wg sync.WaitGroup
	for i := range ws {
		ws[i] = &worker{res: Result{Errors: map[string]int64{}, ByBackend: map[string]int64{}}, start: start}
		wg.Add(1)
		go func(w *worker, id int) {
			defer wg.Done()
			w.run(ctx, cfg, id, tokens, budget)
		}(ws[i], i)
	}
	wg.Wait()
	total := Result{Errors: map[string]int64{}, ByBackend: map[string]int64{}, Duration: time.Since(start), Start: start}
	var lats []time.Duration
	for _, w := range ws {
		total.Sent += w.res.Sent
		total.OK += w.res.OK
		total.Posts += w.res.Posts
		for k, v := range w.res.Errors {
			if _, ok := total.Errors[k]; ok || len(total.Errors) < 20 {
				total.Errors[k] += v
			}
		}
		for k, v := range w.res.ByBackend {
			total.ByBackend[k] += v
		}
		for _, x := range w.samples {
			if x.ok {
				lats = append(lats, x.latency)
			}
		}
		total.samples = append(total.samples, w.samples...)
	}
	total.Failed = total.Sent - total.OK
	total.P50, total.P99 = quantiles(lats)
	return total
}

func (w *worker) run(ctx context.Context, cfg Config, id int, tokens <-chan time.Time, budget *atomic.Int64) {
	var conn net.Conn
	var br *bufio.Reader
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	get := []byte("GET " + cfg.Path + " HTTP/1.1\r\nHost: " + cfg.Host + "\r\nUser-Agent: switchyard-loadgen\r\n\r\n")
	body := "conn=" + strconv.Itoa(id) + "&payload=" + strings.Repeat("x", 64)
	post := []byte("POST " + cfg.Path + " HTTP/1.1\r\nHost: " + cfg.Host + "\r\nUser-Agent: switchyard-loadgen\r\n" +
		"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	var t0 time.Time
	var okNow bool
	record := func() {
		w.samples = append(w.samples, sample{at: t0.Sub(w.start), latency: time.Since(t0), ok: okNow})
	}
	fail := func(what string) {
		record()
		w.res.Errors[what]++
		if conn != nil {
			conn.Close()
			conn = nil
		}
	}
	for n := 1; ; n++ {
		if tokens != nil {
			select {
			case <-ctx.Done():
				return
			case <-tokens:
			}
		}
		if ctx.Err() != nil || (budget != nil && budget.Add(-1) < 0) {
			return
		}
		req := get
		isPost := cfg.PostEvery > 0 && n%cfg.PostEvery == 0
		if isPost {
			req = post
		}
		w.res.Sent++
		if isPost {
			w.res.Posts++
		}
		method := http.MethodGet
		if isPost {
			method = http.MethodPost
		}
		t0, okNow = time.Now(), false
		if conn == nil {
			c, err := net.DialTimeout("tcp", cfg.Target, cfg.Timeout)
			if err != nil {
				fail("dial: " + err.Error())
				continue
			}
			conn, br = c, bufio.NewReaderSize(c, 16<<10)
		}
		_ = conn.SetDeadline(t0.Add(cfg.Timeout))
		if _, err := conn.Write(req); err != nil {
			fail("write " + method + ": " + errText(err))
			continue
		}
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			fail("read " + method + ": " + errText(err))
			continue
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil {
			fail("read body: " + errText(err))
			continue
		}
		if resp.StatusCode != http.StatusOK {
			w.res.Errors[method+": status "+resp.Status]++
		} else {
			w.res.OK++
			w.res.ByBackend[resp.Header.Get("X-Backend")]++
			okNow = true
		}
		record()
		if resp.Close {
			// The server announced the close: not a failure, reconnect.
			conn.Close()
			conn = nil
		}
	}
}

// errText shortens network errors to their kind (no addresses or ports, so
// errors group well).
func errText(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 {
		return s[i+2:]
	}
	return s
}
