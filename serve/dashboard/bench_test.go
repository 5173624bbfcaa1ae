package dashboard_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/journal"
	"github.com/switchyard/switchyard/migrate"
)

// dashboardClients is how many dashboards stream events at once.
const dashboardClients = 100

// openStreams opens n /api/v1/events streams, as n dashboards do, and
// returns once each received its first event; stop closes them.
func openStreams(b *testing.B, base string, n int) (stop func()) {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	tr := &http.Transport{MaxIdleConnsPerHost: n}
	var wg sync.WaitGroup
	first := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/events", nil)
			req.Header.Set("Authorization", "Bearer "+viewerToken)
			resp, err := tr.RoundTrip(req)
			if err != nil {
				first <- err
				return
			}
			defer resp.Body.Close()
			r := bufio.NewReader(resp.Body)
			got := false
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					if !got {
						first <- err
					}
					return
				}
				if !got && strings.HasPrefix(line, "data: ") {
					got = true
					first <- nil
				}
			}
		}()
	}
	stop = func() {
		cancel()
		wg.Wait()
		tr.CloseIdleConnections()
	}
	timeout := time.After(30 * time.Second)
	for range n {
		select {
		case err := <-first:
			if err != nil {
				stop()
				b.Fatalf("event stream: %v", err)
			}
		case <-timeout:
			stop()
			b.Fatalf("the %d event streams did not all start within 30 s", n)
		}
	}
	return stop
}

// progress appends an entry for app every period (a migration moving,
// so that every stream has a status to send) until ctx ends.
func progress(ctx context.Context, j journal.Journal, app string, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for k := 0; ; k++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		data, _ := json.Marshal(migrate.State{App: app, Phase: migrate.Shifting, KubePercent: k % 100})
		_ = j.Append(ctx, &journal.Entry{App: app, From: "Shifting", To: "Shifting", Event: "observed", Time: time.Now(), State: data})
	}
}

func quantile(d []time.Duration, q float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkStatusUnderEventStreams is the issue's "API p99 with 100
// concurrent dashboard clients streaming events": GET /api/v1/status on a
// real bbolt journal of 33 migrations (one moving: an entry every 100 ms)
// with no event stream open, then with 100 open (serve's default 1 s
// event period), in the same run. Each sub-benchmark reports p50-ms and
// p99-ms; the table at the end gives the ratio.
func BenchmarkStatusUnderEventStreams(b *testing.B) {
	srv, j := fixtureServer(b, &engine{}, nil, time.Second)
	for i := range 30 {
		for k := range 5 {
			data, _ := json.Marshal(migrate.State{App: fmt.Sprintf("app-%02d", i), Phase: migrate.Shifting, KubePercent: 20 * k})
			if err := j.Append(context.Background(), &journal.Entry{App: fmt.Sprintf("app-%02d", i), From: "x", To: "Shifting", Event: "observed", Time: time.Now(), State: data}); err != nil {
				b.Fatal(err)
			}
		}
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go progress(ctx, j, "web", 100*time.Millisecond)

	lat := map[int][]time.Duration{}
	for _, n := range []int{0, dashboardClients} {
		b.Run(fmt.Sprintf("streams=%d", n), func(b *testing.B) {
			if n > 0 {
				defer openStreams(b, ts.URL, n)()
			}
			client := &http.Client{Transport: &http.Transport{}}
			defer client.CloseIdleConnections()
			var d []time.Duration
			for b.Loop() {
				req, _ := http.NewRequest("GET", ts.URL+"/api/v1/status", nil)
				req.Header.Set("Authorization", "Bearer "+viewerToken)
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("status: %d", resp.StatusCode)
				}
				d = append(d, time.Since(t0))
			}
			b.ReportMetric(ms(quantile(d, 0.5)), "p50-ms")
			b.ReportMetric(ms(quantile(d, 0.99)), "p99-ms")
			lat[n] = d
		})
	}
	idle, busy := lat[0], lat[dashboardClients]
	if len(idle) == 0 || len(busy) == 0 {
		return // a sub-benchmark was filtered out
	}
	w := os.Stdout
	fmt.Fprintf(w, "\nGET /api/v1/status (33 migrations in a bbolt journal, one moving)\n")
	fmt.Fprintf(w, "%-22s %8s %10s %10s\n", "event streams open", "calls", "p50 ms", "p99 ms")
	fmt.Fprintf(w, "%-22d %8d %10.3f %10.3f\n", 0, len(idle), ms(quantile(idle, 0.5)), ms(quantile(idle, 0.99)))
	fmt.Fprintf(w, "%-22d %8d %10.3f %10.3f\n", dashboardClients, len(busy), ms(quantile(busy, 0.5)), ms(quantile(busy, 0.99)))
	fmt.Fprintf(w, "%-22s %8s %10.2f %10.2f\n\n", "ratio (100 / 0)", "", ms(quantile(busy, 0.5))/ms(quantile(idle, 0.5)), ms(quantile(busy, 0.99))/ms(quantile(idle, 0.99)))
}
