package traffic_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/testenv"
	"github.com/switchyard/switchyard/traffic/loadgen"
)

// BenchmarkThroughputWeightChanges measures requests per second through the
// shared nginx (50 keep-alive connections, one POST in three, no retries)
// without changes, with small weight changes (Kubernetes share 49% <-> 51%:
// the cost of a push) and with flips of all traffic between two Marathon and
// two Kubernetes backends (0% <-> 100%: the cost of moving traffic, which
// opens upstream connections to the other backends), 20 changes per 3 s,
// and reports the ratios to the steady rate. The three phases are
// interleaved in 1 s slices (3 rounds) so that the load of a shared machine
// drifts over all of them alike. Any failed request fails the benchmark.
func BenchmarkThroughputWeightChanges(b *testing.B) {
	in, c := setup(b)
	load := func() loadgen.Result {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return loadgen.Run(ctx, loadgen.Config{Target: in.PublicAddr(), Host: "web.test", Conns: 50, PostEvery: 3})
	}
	type phase struct {
		name string
		sum  loadgen.Result
		p99  time.Duration
	}
	phases := []*phase{}
	for _, wp := range weightPhases {
		phases = append(phases, &phase{name: wp.name})
	}
	runWeightPhases(b, splitRoute(b, c), load, func(i int, r loadgen.Result) {
		p := phases[i]
		p.sum.Sent += r.Sent
		p.sum.OK += r.OK
		p.sum.Failed += r.Failed
		p.sum.Duration += r.Duration
		p.p99 = max(p.p99, r.P99)
		for k, v := range r.Errors {
			if p.sum.Errors == nil {
				p.sum.Errors = map[string]int64{}
			}
			p.sum.Errors[k] += v
		}
	})
	steady := phases[0].sum.RPS()
	b.ReportMetric(steady, "req/s-steady")
	var failed int64
	for _, p := range phases {
		failed += p.sum.Failed
		b.ReportMetric(float64(p.p99.Microseconds())/1000, "p99-ms-"+p.name)
		if p.name != "steady" {
			b.ReportMetric(p.sum.RPS()/steady, "ratio-"+p.name)
		}
		b.Logf("%-7s sent %d, failed %d, %.0f req/s, worst 1 s p99 %s", p.name, p.sum.Sent, p.sum.Failed, p.sum.RPS(), p.p99)
	}
	b.ReportMetric(float64(failed), "failed")
	if failed != 0 {
		for _, p := range phases {
			b.Errorf("%s: %v", p.name, p.sum.Errors)
		}
		b.FailNow()
	}
}

// weightPhases are the phases of the weight-change benchmarks: no changes,
// small weight changes (Kubernetes share 49% <-> 51%) and flips of all
// traffic (0% <-> 100%).
var weightPhases = []struct {
	name string
	pcts []int
}{{name: "steady"}, {name: "pushes", pcts: []int{49, 51}}, {name: "flips", pcts: []int{0, 100}}}

// runWeightPhases runs b.N times 3 rounds of the weightPhases in 1 s
// slices, timed: a slice sets the Kubernetes share to 50%, runs load in the
// background while it makes the phase's weight changes through set (7 in
// the slice: ~20 per 3 s), then hands load's result to add with the
// phase's index in weightPhases.
func runWeightPhases[R any](b *testing.B, set func(pct int), load func() R, add func(phase int, r R)) {
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for round := 0; round < 3; round++ {
			for pi, p := range weightPhases {
				set(50)
				done := make(chan R, 1)
				go func() { done <- load() }()
				for j := 0; len(p.pcts) > 0 && j < 7; j++ {
					time.Sleep(time.Second / 8)
					set(p.pcts[j%len(p.pcts)])
				}
				add(pi, <-done)
			}
		}
	}
	b.StopTimer()
}

// wrkScript makes one request in three a POST.
const wrkScript = `
local n = 0
request = function()
  n = n + 1
  if n % 3 == 0 then
    return wrk.format("POST", nil, {["Content-Type"] = "application/x-www-form-urlencoded"}, "payload=xxxxxxxxxxxxxxxx")
  end
  return wrk.format("GET")
end
`

type wrkResult struct {
	rps    float64
	errors int64 // socket errors + non-2xx/3xx responses
	raw    string
	err    error
}

var (
	wrkRPS    = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkSocket = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	wrkNon2xx = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
)

func runWrk(url, script string, d time.Duration) wrkResult {
	out, err := exec.Command("wrk", "-t2", "-c50", "-d"+strconv.Itoa(int(d.Seconds()))+"s", "-s", script, "-H", "Host: web.test", url).CombinedOutput()
	r := wrkResult{raw: string(out)}
	if err != nil {
		r.err = fmt.Errorf("wrk: %w\n%s", err, out)
		return r
	}
	m := wrkRPS.FindStringSubmatch(r.raw)
	if m == nil {
		r.err = fmt.Errorf("no Requests/sec in wrk output:\n%s", out)
		return r
	}
	r.rps, _ = strconv.ParseFloat(m[1], 64)
	if m := wrkSocket.FindStringSubmatch(r.raw); m != nil {
		for _, s := range m[1:] {
			n, _ := strconv.ParseInt(s, 10, 64)
			r.errors += n
		}
	}
	if m := wrkNon2xx.FindStringSubmatch(r.raw); m != nil {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		r.errors += n
	}
	return r
}

// BenchmarkWrkWeightChanges is the same measurement with wrk (-t2 -c50,
// keep-alive, one POST in three), as in ../shared/notes/nginx-traffic.md:
// steady, small weight changes (pushes) and flips of all traffic, interleaved
// in 1 s slices over 3 rounds; wrk never retries, so its socket errors and
// non-2xx answers are failed requests.
func BenchmarkWrkWeightChanges(b *testing.B) {
	if _, err := exec.LookPath("wrk"); err != nil {
		testenv.Missing(b, "wrk is missing: install the Debian package wrk (scripts/deps.sh does it)")
	}
	in, c := setup(b)
	script := filepath.Join(b.TempDir(), "mix.lua")
	if err := os.WriteFile(script, []byte(wrkScript), 0o644); err != nil {
		b.Fatal(err)
	}
	url := "http://" + in.PublicAddr() + "/"
	type phase struct {
		name     string
		requests float64 // req/s summed over the rounds
		errors   int64
		raw      []string
	}
	phases := []*phase{}
	for _, wp := range weightPhases {
		phases = append(phases, &phase{name: wp.name})
	}
	runWeightPhases(b, splitRoute(b, c), func() wrkResult { return runWrk(url, script, time.Second) }, func(i int, r wrkResult) {
		if r.err != nil {
			b.Fatal(r.err)
		}
		p := phases[i]
		p.requests += r.rps
		p.errors += r.errors
		if r.errors > 0 {
			p.raw = append(p.raw, r.raw)
		}
	})
	steady := phases[0].requests / 3
	b.ReportMetric(steady, "req/s-steady")
	var failed int64
	for _, p := range phases {
		failed += p.errors
		if p.name != "steady" {
			b.ReportMetric(p.requests/3/steady, "ratio-"+p.name)
		}
		b.Logf("%-7s %.0f req/s, %d failed", p.name, p.requests/3, p.errors)
	}
	b.ReportMetric(float64(failed), "failed")
	if failed != 0 {
		for _, p := range phases {
			b.Errorf("%s: %s", p.name, strings.Join(p.raw, "\n"))
		}
		b.FailNow()
	}
}

// BenchmarkSetRoute measures one weight change as the executor makes it:
// read the active state, write the state file (fsync, rename), PUT it to
// nginx. This is part of Switchyard's own time per migration step. One op is
// 100 changes (meaningful with -benchtime 1x too).
func BenchmarkSetRoute(b *testing.B) {
	_, c := setup(b)
	set := splitRoute(b, c)
	const changes = 100
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := 0; j < changes; j++ {
			set([]int{5, 25, 50, 100}[j%4])
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N*changes), "ms/change")
}
