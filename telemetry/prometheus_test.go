package telemetry_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchyard/switchyard/internal/testenv"
	"github.com/switchyard/switchyard/lab/proc"
	"github.com/switchyard/switchyard/telemetry"
	"github.com/switchyard/switchyard/traffic/loadgen"
)

// prometheusBinary is Debian's Prometheus server (scripts/deps.sh).
const prometheusBinary = "/usr/bin/prometheus"

// promServer is a Prometheus server started by startPrometheus.
type promServer struct {
	addr string
	log  string
}

// startPrometheus runs Debian's Prometheus on a free loopback port with a
// fresh database, scraping targets (host:port, job "switchyard") every
// second and evaluating the alert rules of telemetry/prometheus; it is
// stopped when the test ends.
func startPrometheus(t *testing.T, targets ...string) *promServer {
	t.Helper()
	if _, err := os.Stat(prometheusBinary); err != nil {
		testenv.Missing(t, "%s: install Debian's prometheus package (scripts/deps.sh)", prometheusBinary)
	}
	rules, err := filepath.Abs(filepath.Join("prometheus", "alerts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	quoted := make([]string, len(targets))
	for i, tg := range targets {
		quoted[i] = strconv.Quote(tg)
	}
	conf := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: switchyard
    static_configs:
      - targets: [%s]
`, rules, strings.Join(quoted, ", "))
	confPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &promServer{addr: testenv.FreeAddr(t, "127.0.0.1"), log: filepath.Join(dir, "prometheus.log")}
	p, err := proc.Start(proc.Spec{
		Argv: []string{prometheusBinary, "--config.file=" + confPath, "--storage.tsdb.path=" + filepath.Join(dir, "data"),
			"--web.listen-address=" + s.addr, "--log.level=warn"},
		Env:     []string{"PATH=/usr/bin:/bin"},
		Dir:     dir,
		LogPath: s.log,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop(5 * time.Second) })
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + s.addr + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		select {
		case <-p.Done():
			t.Fatalf("prometheus exited (%s); its log:\n%s", p.Exit(), s.logText())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready after 30s; its log:\n%s", s.logText())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *promServer) logText() string {
	b, _ := os.ReadFile(s.log)
	return string(b)
}

// sample is one element of an instant vector.
type sample struct {
	Metric map[string]string
	Value  float64
}

// query evaluates PromQL now through Prometheus' HTTP API.
func (s *promServer) query(ctx context.Context, q string) ([]sample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.addr+"/api/v1/query?query="+url.QueryEscape(q), nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", q, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", q, err)
	}
	var r struct {
		Status, Error string
		Data          struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string
				Value  [2]json.RawMessage
			}
		}
	}
	if err := json.Unmarshal(body, &r); err != nil || r.Status != "success" || r.Data.ResultType != "vector" {
		return nil, fmt.Errorf("query %s: %s %s (%v)", q, resp.Status, body, err)
	}
	out := make([]sample, 0, len(r.Data.Result))
	for _, e := range r.Data.Result {
		var v string
		if err := json.Unmarshal(e.Value[1], &v); err != nil {
			return nil, fmt.Errorf("query %s: value %s: %w", q, e.Value[1], err)
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return nil, fmt.Errorf("query %s: value %s: %w", q, v, err)
		}
		out = append(out, sample{Metric: e.Metric, Value: f})
	}
	return out, nil
}

// byLabel indexes samples by one label's value.
func byLabel(ss []sample, label string) map[string]float64 {
	out := map[string]float64{}
	for _, s := range ss {
		out[s.Metric[label]] = s.Value
	}
	return out
}

// serveMetrics serves reg's metrics on /metrics at a free loopback address
// (as `switchyard serve` does) until the test ends.
func serveMetrics(t *testing.T, reg prometheus.Gatherer) string {
	t.Helper()
	addr := testenv.FreeAddr(t, "127.0.0.1")
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", telemetry.Handler(reg))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("metrics server: %v", err)
		}
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	})
	return addr
}

// TestPrometheusScrapesRouteRatePerPlatform is the "done when":
// Debian's Prometheus scrapes the collector (what serve mounts on
// /metrics) while real nginx instances route web 50/50 to a Marathon and
// a Kubernetes backend under steady load, and a PromQL query returns the
// route's request rate per platform, matching the load the backends
// received. It also checks that the load-balancer instances keep their own
// label (lb_instance, not the target's instance), that the latency
// histogram answers histogram_quantile, and that the alert rules evaluate
// on real series without error.
func TestPrometheusScrapesRouteRatePerPlatform(t *testing.T) {
	testenv.SkipIfShort(t, "nginx and prometheus")
	f := startFleet(t, 2, 50)
	reg := prometheus.NewRegistry()
	if _, err := telemetry.NewMetrics(reg); err != nil {
		t.Fatal(err)
	}
	reg.MustRegister(telemetry.NewCollector(telemetry.Options{LoadBalancers: f.fleet.Snapshot}))
	prom := startPrometheus(t, serveMetrics(t, reg))

	// Steady load through both instances: 40 requests/s each.
	const perInstance = 40
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var loads []*loadgen.Load
	for _, in := range f.nginx {
		loads = append(loads, loadgen.Start(ctx, loadgen.Config{Target: in.PublicAddr(), Host: "web.test", Conns: 2, Rate: perInstance}))
	}
	stopLoads := func() {
		for _, l := range loads {
			if p := l.Stop(); p.Failed != 0 {
				t.Errorf("load through nginx: %d of %d requests failed: %v", p.Failed, p.Sent, p.Errors)
			}
		}
		loads = nil
	}
	defer stopLoads()
	started := time.Now()

	// The query's 15 s window must lie wholly inside the load: wait 20 s,
	// then until both platforms show a rate.
	const q = `sum by (platform) (rate(switchyard_lb_requests_total{route="web"}[15s]))`
	var rates map[string]float64
	var hits0 [2]int64
	var at0 time.Time
	for {
		if time.Since(started) > 5*time.Second && at0.IsZero() {
			hits0, at0 = [2]int64{f.marathon.Hits(), f.kube.Hits()}, time.Now()
		}
		ss, err := prom.query(ctx, q)
		if err != nil {
			t.Fatalf("%v; prometheus log:\n%s", err, prom.logText())
		}
		rates = byLabel(ss, "platform")
		if time.Since(started) > 20*time.Second && rates["marathon"] > 0 && rates["kubernetes"] > 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("%s: %v after %s, want a rate for marathon and kubernetes; prometheus log:\n%s", q, rates, time.Since(started).Round(time.Second), prom.logText())
		}
		time.Sleep(500 * time.Millisecond)
	}
	// What the backends received meanwhile, per second.
	elapsed := time.Since(at0).Seconds()
	want := map[string]float64{
		"marathon":   float64(f.marathon.Hits()-hits0[0]) / elapsed,
		"kubernetes": float64(f.kube.Hits()-hits0[1]) / elapsed,
	}
	t.Logf("%s after %s: %v; the backends received %.1f (marathon) and %.1f (kubernetes) requests/s; the load was %d requests/s",
		q, time.Since(started).Round(time.Second), rates, want["marathon"], want["kubernetes"], perInstance*len(f.nginx))
	for _, p := range []string{"marathon", "kubernetes"} {
		if want[p] < 5 {
			t.Fatalf("the %s backend received only %.1f requests/s: the load did not run", p, want[p])
		}
		if r := rates[p] / want[p]; math.Abs(r-1) > 0.5 {
			t.Errorf("Prometheus says %s gets %.1f requests/s of route web, the backend received %.1f: off by more than 50%%", p, rates[p], want[p])
		}
	}
	if len(rates) != 2 {
		t.Errorf("%s: %v, want marathon and kubernetes only", q, rates)
	}

	// Every instance's own label survives the scrape.
	ss, err := prom.query(ctx, `switchyard_lb_instance_up`)
	if err != nil {
		t.Fatal(err)
	}
	if up := byLabel(ss, "lb_instance"); len(up) != 2 || up["lb-1"] != 1 || up["lb-2"] != 1 {
		t.Errorf("switchyard_lb_instance_up by lb_instance: %v, want lb-1 and lb-2 up", up)
	}
	// The histogram: a p99 per platform, within the module's buckets.
	ss, err = prom.query(ctx, `histogram_quantile(0.99, sum by (platform, le) (rate(switchyard_lb_request_duration_seconds_bucket{route="web"}[15s])))`)
	if err != nil {
		t.Fatal(err)
	}
	p99 := byLabel(ss, "platform")
	t.Logf("p99 per platform: %v s", p99)
	for _, p := range []string{"marathon", "kubernetes"} {
		if v, ok := p99[p]; !ok || v <= 0 || v > 10 {
			t.Errorf("p99 of route web on %s: %v (present %v), want a latency within the module's buckets", p, v, ok)
		}
	}
	checkRulesHealthy(ctx, t, prom)

	// lb-1 restarts (its counters begin again at zero): the sum Prometheus
	// scrapes keeps growing and shows no counter reset.
	stopLoads()
	const total = `sum(switchyard_lb_requests_total{route="web"})`
	before := waitSteady(ctx, t, prom, total)
	st, err := f.fleet.Instances[0].Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f.nginx[0].Restart()
	f.send(t, "web.test", 100) // through each instance
	const more = 200
	after, err := f.fleet.Instances[0].Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after.Instance == st.Instance {
		t.Fatalf("lb-1 kept its instance id %s across a restart", st.Instance)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		ss, err := prom.query(ctx, total)
		if err != nil {
			t.Fatal(err)
		}
		if len(ss) == 1 && ss[0].Value >= before+more {
			t.Logf("%s: %v before lb-1 restarted, %v after %d more requests", total, before, ss[0].Value, more)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v 20s after lb-1 restarted and %d more requests, want at least %v", total, ss, more, before+more)
		}
		time.Sleep(500 * time.Millisecond)
	}
	ss, err = prom.query(ctx, `resets(switchyard_lb_requests_total{route="web"}[5m])`)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range ss {
		if s.Value != 0 {
			t.Errorf("%v: %v counter resets across lb-1's restart, want none", s.Metric, s.Value)
		}
	}
}

// waitSteady returns the value of a one-element query once two answers a
// few scrapes apart agree (the load stopped and its last requests were
// counted and scraped).
func waitSteady(ctx context.Context, t *testing.T, prom *promServer, q string) float64 {
	t.Helper()
	last := -1.0
	for {
		ss, err := prom.query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(ss) == 1 && ss[0].Value == last {
			return last
		}
		if len(ss) == 1 {
			last = ss[0].Value
		}
		if ctx.Err() != nil {
			t.Fatalf("%s: %v, not steady", q, ss)
		}
		time.Sleep(3 * time.Second)
	}
}

// checkRulesHealthy waits until Prometheus evaluated every alert rule and
// checks that none failed.
func checkRulesHealthy(ctx context.Context, t *testing.T, prom *promServer) {
	t.Helper()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+prom.addr+"/api/v1/rules", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var r struct {
			Data struct {
				Groups []struct {
					Rules []struct{ Name, Health, LastError string }
				}
			}
		}
		err = json.NewDecoder(resp.Body).Decode(&r)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		n, ok := 0, true
		for _, g := range r.Data.Groups {
			for _, rule := range g.Rules {
				n++
				switch rule.Health {
				case "ok":
				case "err":
					t.Errorf("alert rule %s: %s", rule.Name, rule.LastError)
				default:
					ok = false // not evaluated yet
				}
			}
		}
		if n == 4 && ok {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("alert rules: %d loaded, not all evaluated: %+v", n, r.Data.Groups)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
