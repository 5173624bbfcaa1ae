package traffic_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/switchyard/switchyard/traffic/loadgen"
)

// BenchmarkThroughputWeightChanges measures requests per second through the
// shared nginx (50 keep-alive connections, one POST in three, no retries)
// for 3 s without changes and 3 s with 20 weight changes (all traffic moved
// between two Marathon and two Kubernetes backends and back), and reports the
// ratio. Any failed request fails the benchmark.
func BenchmarkThroughputWeightChanges(b *testing.B) {
	in, c := setup(b)
	set := splitRoute(b, c)
	run := func(changes int) loadgen.Result {
		set(50)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		done := make(chan loadgen.Result, 1)
		go func() {
			done <- loadgen.Run(ctx, loadgen.Config{Target: in.PublicAddr(), Host: "web.test", Conns: 50, PostEvery: 3})
		}()
		for i := 0; i < changes; i++ {
			time.Sleep(3 * time.Second / time.Duration(changes+1))
			set([]int{0, 100}[i%2])
		}
		return <-done
	}
	var steady, changing loadgen.Result
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		steady = run(0)
		changing = run(20)
	}
	b.StopTimer()
	b.ReportMetric(steady.RPS(), "req/s-steady")
	b.ReportMetric(changing.RPS(), "req/s-20changes")
	b.ReportMetric(changing.RPS()/steady.RPS(), "ratio")
	b.ReportMetric(float64(steady.Failed+changing.Failed), "failed")
	b.ReportMetric(float64(steady.P99.Microseconds())/1000, "p99-ms-steady")
	b.ReportMetric(float64(changing.P99.Microseconds())/1000, "p99-ms-20changes")
	b.Logf("steady: %s", steady)
	b.Logf("20 weight changes: %s", changing)
	if steady.Failed+changing.Failed != 0 {
		b.Fatalf("failed requests: steady %v, changing %v", steady.Errors, changing.Errors)
	}
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
}

var (
	wrkRPS    = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkSocket = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	wrkNon2xx = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
)

func runWrk(b *testing.B, url, script string, d time.Duration) wrkResult {
	out, err := exec.Command("wrk", "-t2", "-c50", "-d"+strconv.Itoa(int(d.Seconds()))+"s", "-s", script, "-H", "Host: web.test", url).CombinedOutput()
	if err != nil {
		b.Fatalf("wrk: %v\n%s", err, out)
	}
	r := wrkResult{raw: string(out)}
	m := wrkRPS.FindStringSubmatch(r.raw)
	if m == nil {
		b.Fatalf("no Requests/sec in wrk output:\n%s", out)
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
// 3 s steady, then 3 s with 20 weight changes; wrk never retries, so its
// socket errors and non-2xx answers are failed requests.
func BenchmarkWrkWeightChanges(b *testing.B) {
	if _, err := exec.LookPath("wrk"); err != nil {
		if os.Getenv("CI") != "" {
			b.Fatal("CI is set and wrk is missing: install the Debian package wrk (scripts/deps.sh does it)")
		}
		b.Skip("skipping: wrk not installed (Debian package wrk)")
	}
	in, c := setup(b)
	script := filepath.Join(b.TempDir(), "mix.lua")
	if err := os.WriteFile(script, []byte(wrkScript), 0o644); err != nil {
		b.Fatal(err)
	}
	set := splitRoute(b, c)
	url := "http://" + in.PublicAddr() + "/"
	var steady, changing wrkResult
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		set(50)
		steady = runWrk(b, url, script, 3*time.Second)
		set(50)
		stop := make(chan struct{})
		go func() {
			defer close(stop)
			for j := 0; j < 20; j++ {
				time.Sleep(3 * time.Second / 21)
				set([]int{0, 100}[j%2])
			}
		}()
		changing = runWrk(b, url, script, 3*time.Second)
		<-stop
	}
	b.StopTimer()
	b.ReportMetric(steady.rps, "req/s-steady")
	b.ReportMetric(changing.rps, "req/s-20changes")
	b.ReportMetric(changing.rps/steady.rps, "ratio")
	b.ReportMetric(float64(steady.errors+changing.errors), "failed")
	if steady.errors+changing.errors != 0 {
		b.Fatalf("wrk saw failures:\nsteady:\n%s\nchanging:\n%s", steady.raw, changing.raw)
	}
}
