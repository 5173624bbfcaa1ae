// Package promtest runs Debian's Prometheus for tests: a server scraping
// given targets every second, and PromQL queries through its HTTP API. It
// is test support (telemetry's and serve's end-to-end tests).
package promtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/testenv"
)

// Binary is Debian's Prometheus server (scripts/deps.sh).
const Binary = "/usr/bin/prometheus"

// Server is a Prometheus server started by Start.
type Server struct {
	// Addr is its HTTP address (host:port).
	Addr string
	log  string
}

// Options configure Start.
type Options struct {
	// Rules is a rule file to evaluate (optional).
	Rules string
	// BearerTokenFile, when set, is sent as the scrape's bearer token.
	BearerTokenFile string
}

// Start runs Debian's Prometheus on a free loopback port with a fresh
// database, scraping targets (host:port, job "switchyard") every second;
// it is stopped when the test ends. Under -short the test is skipped; a
// missing prometheus skips it, or fails it under CI.
func Start(t testing.TB, o Options, targets ...string) *Server {
	t.Helper()
	testenv.SkipIfShort(t, "prometheus")
	if _, err := os.Stat(Binary); err != nil {
		testenv.Missing(t, "%s: install Debian's prometheus package (scripts/deps.sh)", Binary)
	}
	dir := t.TempDir()
	quoted := make([]string, len(targets))
	for i, tg := range targets {
		quoted[i] = strconv.Quote(tg)
	}
	rules, auth := "[]", ""
	if o.Rules != "" {
		rules = fmt.Sprintf("[%q]", o.Rules)
	}
	if o.BearerTokenFile != "" {
		auth = fmt.Sprintf("    authorization:\n      credentials_file: %q\n", o.BearerTokenFile)
	}
	conf := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: %s
scrape_configs:
  - job_name: switchyard
%s    static_configs:
      - targets: [%s]
`, rules, auth, strings.Join(quoted, ", "))
	confPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: testenv.FreeAddr(t, "127.0.0.1"), log: filepath.Join(dir, "prometheus.log")}
	logf, err := os.Create(s.log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(Binary, "--config.file="+confPath, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+s.Addr, "--log.level=warn")
	cmd.Env, cmd.Dir, cmd.Stdout, cmd.Stderr = []string{"PATH=/usr/bin:/bin"}, dir, logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + s.Addr + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		select {
		case <-done:
			t.Fatalf("prometheus exited (%v); its log:\n%s", cmd.ProcessState, s.Log())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready after 30s; its log:\n%s", s.Log())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Log is the server's log so far.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.log)
	return string(b)
}

// Sample is one element of an instant vector.
type Sample struct {
	// Metric is its labels; Value its value.
	Metric map[string]string
	Value  float64
}

// Query evaluates PromQL now through Prometheus' HTTP API.
func (s *Server) Query(ctx context.Context, q string) ([]Sample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.Addr+"/api/v1/query?query="+url.QueryEscape(q), nil)
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
	out := make([]Sample, 0, len(r.Data.Result))
	for _, e := range r.Data.Result {
		var v string
		if err := json.Unmarshal(e.Value[1], &v); err != nil {
			return nil, fmt.Errorf("query %s: value %s: %w", q, e.Value[1], err)
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return nil, fmt.Errorf("query %s: value %s: %w", q, v, err)
		}
		out = append(out, Sample{Metric: e.Metric, Value: f})
	}
	return out, nil
}

// ByLabel indexes samples by one label's value.
func ByLabel(ss []Sample, label string) map[string]float64 {
	out := map[string]float64{}
	for _, s := range ss {
		out[s.Metric[label]] = s.Value
	}
	return out
}
