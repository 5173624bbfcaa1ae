package lb_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/testenv"
)

// wrkScript sends one POST (small body) for every two GETs, on keep-alive
// connections.
const wrkScript = `
local n = 0
request = function()
  n = n + 1
  if n % 3 == 0 then
    return wrk.format("POST", "/bench/post", {["Content-Type"] = "text/plain"}, "hello switchyard")
  end
  return wrk.format("GET", "/bench/get")
end
`

// plainServer is the same nginx proxying to the same backends through a
// static upstream, with the same proxy settings as the module's location.
//
// Fairness (checked 2026-12-04): both sides run in the same nginx (same
// worker_processes, events and http-level access_log), their upstreams keep
// the same idle connections (keepalive 64, keepalive_requests 100000,
// keepalive_timeout 60s), and the plain side sends the same request headers
// the module's location sends for correctness (Host, Connection/Upgrade,
// X-Forwarded-For, X-Forwarded-Host) with the same retry and timeout
// settings. So the difference measured is the module's own work: the Lua
// balancer (routing and the weighted pick) and the statistics in log_by_lua.
const plainServer = `
    upstream plain_backend {
        server %s;
        server %s;
        keepalive 64;
        keepalive_requests 100000;
        keepalive_timeout 60s;
    }
    server {
        listen %s backlog=4096;
        location / {
            proxy_pass http://plain_backend;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $sy_connection;
            proxy_set_header Host $sy_upstream_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Host $sy_upstream_host;
            proxy_next_upstream error timeout;
            proxy_next_upstream_tries 3;
            proxy_next_upstream_timeout 10s;
            proxy_connect_timeout 2s;
            proxy_read_timeout 60s;
        }
    }
`

// BenchmarkThroughput measures requests per second through the module's
// location and through a plain static upstream in the same nginx (one
// worker), to the same two Go backends, side by side with wrk (keep-alive,
// one POST in three), for several rounds in which the sides take turns
// going first, and prints
// the medians and their ratio (target >= 0.95). Run it with
//
//	go test ./lb -run '^$' -bench Throughput -benchtime 1x
//
// Settings (environment): LB_BENCH_ROUNDS (default 6), LB_BENCH_SECONDS per
// run (default 3), LB_BENCH_CONNECTIONS (default 64), LB_BENCH_THREADS
// (default 2), LB_BENCH_WORKERS nginx workers (default 1), LB_BENCH_ACCESS_LOG
// "off" or "on" (default on: the combined format, buffered, on both sides).
func BenchmarkThroughput(b *testing.B) {
	testenv.SkipIfShort(b, "nginx and wrk")
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		testenv.Missing(b, "wrk is missing: install the Debian package wrk (scripts/deps.sh)")
	}
	rounds := envInt("LB_BENCH_ROUNDS", 6)
	seconds := envInt("LB_BENCH_SECONDS", 3)
	conns := envInt("LB_BENCH_CONNECTIONS", 64)
	threads := envInt("LB_BENCH_THREADS", 2)
	workers := envInt("LB_BENCH_WORKERS", 1)

	be1 := startBackend(b, "127.0.0.2", "a")
	be2 := startBackend(b, "127.0.0.3", "b")
	plain := testenv.FreeAddr(b, "127.0.0.1")
	dir := b.TempDir()
	accessLog := "off"
	if os.Getenv("LB_BENCH_ACCESS_LOG") != "off" {
		accessLog = fmt.Sprintf("%q combined buffer=64k flush=1s", filepath.Join(dir, "access.log"))
	}
	n := startNginx(b, nginxSetup{
		Workers:   workers,
		AccessLog: accessLog,
		ExtraHTTP: fmt.Sprintf(plainServer, be1.Addr, be2.Addr, plain),
	})
	n.MustDo("PUT", "/routes", benchState(be1.Addr, be2.Addr))
	script := filepath.Join(dir, "bench.lua")
	if err := os.WriteFile(script, []byte(wrkScript), 0o644); err != nil {
		b.Fatal(err)
	}
	run := func(addr string, secs int) wrkResult {
		cpu0 := n.workersCPU()
		out, err := exec.Command(wrk, "-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns),
			"-d", strconv.Itoa(secs)+"s", "-s", script, "http://"+addr+"/").CombinedOutput()
		if err != nil {
			b.Fatalf("wrk: %v\n%s", err, out)
		}
		r, err := parseWrk(string(out))
		if err != nil {
			b.Fatalf("%v\n%s", err, out)
		}
		if r.requests > 0 {
			r.cpuPerReq = (n.workersCPU() - cpu0).Seconds() * 1e6 / float64(r.requests)
		}
		return r
	}
	// Warm up both (connections, JIT).
	run(plain, 1)
	run(n.Public, 1)

	var plainRPS, moduleRPS, ratios, plainCPU, moduleCPU []float64
	var failures int
	b.ResetTimer()
	for i := 0; i < rounds; i++ {
		// The sides take turns going first (plain, module; module, plain;
		// ...): whatever drifts during a run (the backends' garbage, the
		// machine's other load) then weighs on both alike.
		order := []string{"plain", "module"}
		if i%2 == 1 {
			order = []string{"module", "plain"}
		}
		var pr, mr wrkResult
		for _, side := range order {
			if side == "plain" {
				pr = run(plain, seconds)
			} else {
				mr = run(n.Public, seconds)
			}
		}
		failures += pr.errors + pr.non2xx + mr.errors + mr.non2xx
		plainRPS = append(plainRPS, pr.rps)
		plainCPU = append(plainCPU, pr.cpuPerReq)
		moduleRPS = append(moduleRPS, mr.rps)
		moduleCPU = append(moduleCPU, mr.cpuPerReq)
		ratios = append(ratios, mr.rps/pr.rps)
	}
	b.StopTimer()
	// The ratio is the median of each round's ratio: a round's two runs are
	// seconds apart, so load from elsewhere on the machine mostly cancels.
	p, m, ratio := median(plainRPS), median(moduleRPS), median(ratios)
	logMode := "on (combined, buffered)"
	if accessLog == "off" {
		logMode = "off"
	}
	fmt.Printf("\nthroughput, nginx %d worker(s), wrk -t%d -c%d, %d x %ds per side, 1/3 POST, access_log %s on both sides\n",
		workers, threads, conns, rounds, seconds, logMode)
	pc, mc := median(plainCPU), median(moduleCPU)
	fmt.Printf("%-34s %10s %14s   %s\n", "side", "req/s", "worker CPU/req", "runs (req/s)")
	fmt.Printf("%-34s %10.0f %12.1fµs   %s\n", "plain static upstream (keepalive)", p, pc, fmtRuns(plainRPS))
	fmt.Printf("%-34s %10.0f %12.1fµs   %s\n", "switchyard module", m, mc, fmtRuns(moduleRPS))
	fmt.Printf("%-34s %10.3f %14.3f   %s (req/s: median of the rounds' ratios; CPU: plain/module)\n", "ratio module/plain", ratio, pc/mc, fmtRatios(ratios))
	fmt.Println("target: ratio >= 0.95. On a loaded machine the req/s ratio is noisy; the CPU ratio (nginx worker")
	fmt.Println("CPU time per request, plain over module) is what the throughput ratio tends to when nginx is the bottleneck.")
	if failures > 0 {
		fmt.Printf("failed requests (socket errors + non-2xx): %d\n", failures)
	}
	b.ReportMetric(p, "plain-req/s")
	b.ReportMetric(m, "module-req/s")
	b.ReportMetric(ratio, "ratio")
	b.ReportMetric(pc/mc, "cpu-ratio")
	if failures > 0 {
		b.Errorf("%d requests failed", failures)
	}
	// The module counted what it routed.
	time.Sleep(1200 * time.Millisecond)
	if _, body := n.Do("GET", "/stats", ""); !strings.Contains(body, `"route":"bench"`) {
		b.Errorf("/stats after the benchmark: %s", body)
	}
}

// benchState is a routing state like a real one: the benchmarked route
// names wrk's Host and a path prefix, among 50 other routes by host and
// prefix, so matching reads $host and $uri.
func benchState(a, b string) string {
	var rs []string
	for i := 0; i < 50; i++ {
		host := ""
		if i%2 == 0 {
			host = fmt.Sprintf("app%d.example.com", i)
		}
		rs = append(rs, fmt.Sprintf(`{"name":"other-%d","host":%q,"pathPrefix":"/other/%d","backends":[{"address":%q,"weight":1,"platform":"marathon"}]}`, i, host, i, a))
	}
	rs = append(rs, fmt.Sprintf(`{"name":"bench","host":"127.0.0.1","pathPrefix":"/bench","owner":"sync","backends":[`+
		`{"address":%q,"weight":1,"platform":"marathon","app":"demo/bench","id":"task-1"},`+
		`{"address":%q,"weight":1,"platform":"kubernetes","app":"demo/bench","id":"pod-1"}]}`, a, b))
	return `{"version":1,"routes":[` + strings.Join(rs, ",") + `]}`
}

type wrkResult struct {
	rps            float64
	requests       int
	errors, non2xx int
	// cpuPerReq is the CPU time nginx's workers spent per request (µs).
	cpuPerReq float64
}

var (
	wrkRPS    = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkErrors = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	wrkNon2xx = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	wrkReqs   = regexp.MustCompile(`(\d+) requests in`)
)

func parseWrk(out string) (wrkResult, error) {
	var r wrkResult
	m := wrkRPS.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("no Requests/sec in wrk's output")
	}
	r.rps, _ = strconv.ParseFloat(m[1], 64)
	if m := wrkReqs.FindStringSubmatch(out); m != nil {
		r.requests, _ = strconv.Atoi(m[1])
	}
	if m := wrkErrors.FindStringSubmatch(out); m != nil {
		for _, s := range m[1:] {
			v, _ := strconv.Atoi(s)
			r.errors += v
		}
	}
	if m := wrkNon2xx.FindStringSubmatch(out); m != nil {
		r.non2xx, _ = strconv.Atoi(m[1])
	}
	return r, nil
}

// workersCPU is the user+system CPU time nginx's workers used so far.
func (n *lbNginx) workersCPU() time.Duration {
	master := n.cmd.Process.Pid
	ents, _ := os.ReadDir("/proc")
	var ticks int64
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := strings.LastIndexByte(string(b), ')')
		f := strings.Fields(string(b)[i+2:])
		// f[1] is the ppid, f[11] utime, f[12] stime (fields 4, 14, 15).
		if len(f) < 13 || f[1] != strconv.Itoa(master) {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + s
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ is 100 on Linux
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func fmtRuns(xs []float64) string {
	var parts []string
	for _, x := range xs {
		parts = append(parts, strconv.FormatFloat(x, 'f', 0, 64))
	}
	return strings.Join(parts, " ")
}

func fmtRatios(xs []float64) string {
	var parts []string
	for _, x := range xs {
		parts = append(parts, strconv.FormatFloat(x, 'f', 3, 64))
	}
	return strings.Join(parts, " ")
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
