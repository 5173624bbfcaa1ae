package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/internal/testenv"
	"github.com/switchyard/switchyard/journal/etcdjournal"
	"github.com/switchyard/switchyard/lab"
	"github.com/switchyard/switchyard/lab/labtest"
	"github.com/switchyard/switchyard/migrate"
	"github.com/switchyard/switchyard/telemetry/promtest"
)

const serveToken = "serve-operator-token-0123456789"

// replica is one `switchyard serve` process.
type replica struct {
	// metrics is its --metrics-listen address.
	metrics string
	url     string
	cmd     *exec.Cmd
	out     *lockedBuffer
}

func (r *replica) call(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, r.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+serveToken)
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// leader asks r who leads ("" when r does not answer or none leads).
func (r *replica) leader(t *testing.T) string {
	code, body := r.call(t, "GET", "/api/v1/leader", "")
	if code != 200 {
		return ""
	}
	var v struct{ Leader string }
	_ = json.Unmarshal([]byte(body), &v)
	return v.Leader
}

// phase is app's phase as r reports it.
func (r *replica) phase(t *testing.T, app string) (string, int) {
	code, body := r.call(t, "GET", "/api/v1/status", "")
	if code != 200 {
		return "", 0
	}
	var st struct {
		Apps []migrate.Summary
	}
	_ = json.Unmarshal([]byte(body), &st)
	for _, a := range st.Apps {
		if a.App == app {
			return a.Phase, a.Kubernetes
		}
	}
	return "", 0
}

// serveHA starts three `switchyard serve` replicas on the lab's
// platforms with a journal on the lab's etcd.
func serveHA(t *testing.T, l *labtest.Lab, appsDir string) (rs []*replica, tokenFile, cfgPath string) {
	t.Helper()
	dir := t.TempDir()
	cfgPath = filepath.Join(dir, "config.yaml")
	c := lab.ContextFor(l.Config)
	c.Name = "ha"
	// The lab's own etcd (the one its API server uses), as Switchyard's
	// etcd user, whose role reaches /switchyard/ only.
	c.Journal = lab.EtcdJournal(l.Config, "serve-e2e-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	if err := config.Update(cfgPath, func(f *config.File) error { f.Set(c); return f.Use(c.Name) }); err != nil {
		t.Fatal(err)
	}
	tokens := filepath.Join(dir, "tokens.yaml")
	if err := os.WriteFile(tokens, []byte("tokens:\n- name: ci\n  role: operator\n  token: "+serveToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		addr := testenv.FreeAddr(t, "127.0.0.1")
		r := &replica{url: "http://" + addr, metrics: testenv.FreeAddr(t, "127.0.0.1"), out: &lockedBuffer{}}
		r.cmd = exec.Command(l.Bin, "serve", "--context", "ha", "--apps", appsDir, "--namespace", "mig", "--listen", addr, "--metrics-listen", r.metrics,
			"--tokens-file", tokens, "--lb-sync=false", "--monitor=false", "--lease-ttl", "2s", "--log-format", "text")
		r.cmd.Env = append(l.Env(), "SWITCHYARD_CONFIG="+cfgPath)
		r.cmd.Stdout, r.cmd.Stderr = r.out, r.out
		if err := r.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = r.cmd.Process.Signal(syscall.SIGCONT)
			_ = r.cmd.Process.Kill()
			_ = r.cmd.Wait()
			if t.Failed() {
				t.Logf("serve %s:\n%s", r.url, r.out)
			}
		})
		rs = append(rs, r)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		leaders := map[string]int{}
		for _, r := range rs {
			leaders[r.leader(t)]++
		}
		if len(leaders) == 1 && leaders[""] == 0 {
			tokenFile = filepath.Join(dir, "token")
			if err := os.WriteFile(tokenFile, []byte(serveToken), 0o600); err != nil {
				t.Fatal(err)
			}
			return rs, tokenFile, cfgPath
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replicas agree on no leader: %v", leaders)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestServeHA: three `switchyard serve` replicas on an etcd journal run one
// migration under keep-alive GET+POST load. The migration is started
// through a follower (forwarded to the leader); the leader is SIGKILLed
// mid-shift; another replica takes over within the lease TTL (2 s) + 1 s,
// resumes the migration from the journal and finalizes it. Then a second
// migration: the new leader is paused with SIGSTOP mid-shift and resumed
// after another replica took over: it stops its migration (its term is
// over) and writes nothing; the migration finalizes. No request fails.
func TestServeHA(t *testing.T) {
	l := labtest.Need(t, theLab)
	e := setup(t, time.Second)
	dir := t.TempDir()
	for _, name := range []string{"ha", "hb"} {
		cliApp(t, e, dir, name)
		y := strings.Replace(appYAML(name, "/crash/"+name), "pausePerStep: 1s", "pausePerStep: 3s", 1)
		y = strings.Replace(y, "steps: [50, 100]", "steps: [25, 50, 75, 100]", 1)
		if err := os.WriteFile(filepath.Join(dir, name, "app.yaml"), []byte(y), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rs, tokenFile, cfgPath := serveHA(t, l, dir)
	// Debian's prometheus scrapes every replica's API /metrics with the token.
	var targets []string
	for _, r := range rs {
		targets = append(targets, strings.TrimPrefix(r.url, "http://"))
	}
	prom := promtest.Start(t, promtest.Options{BearerTokenFile: tokenFile}, targets...)
	byURL := map[string]*replica{}
	for _, r := range rs {
		byURL[r.url] = r
	}

	// failover starts app's migration with the CLI (cli), stops the leader
	// with sig mid-shift and returns the replica that took over and how
	// long it took.
	var cli *exec.Cmd
	var cliOut *lockedBuffer
	failover := func(t *testing.T, app string, sig syscall.Signal) (old, next *replica, took time.Duration) {
		t.Helper()
		for _, r := range rs { // any replica that answers (one may be dead)
			if ld := r.leader(t); ld != "" {
				old = byURL[ld]
				break
			}
		}
		if old == nil {
			t.Fatal("no replica names a leader")
		}
		var follower *replica
		for _, r := range rs {
			if r != old && r.cmd.ProcessState == nil && r.leader(t) != "" {
				follower = r
				break
			}
		}
		// An operator's `switchyard migrate` with a context naming the
		// follower as its server: the follower forwards to the leader,
		// and the CLI follows the migration to its end through the
		// follower, whatever happens to the leader.
		via := "via-" + app
		if err := config.Update(cfgPath, func(f *config.File) error {
			f.Set(config.Context{Name: via, Server: config.Server{URL: follower.url, TokenFile: tokenFile}})
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		cli = exec.Command(l.Bin, "migrate", app, "--context", via)
		cli.Env = append(l.Env(), "SWITCHYARD_CONFIG="+cfgPath)
		cliOut = &lockedBuffer{}
		cli.Stdout, cli.Stderr = cliOut, cliOut
		if err := cli.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cli.Process.Kill() })
		deadline := time.Now().Add(3 * time.Minute)
		for {
			if ph, pct := follower.phase(t, app); strings.HasPrefix(ph, "Shifting") && pct >= 25 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never shifted:\n%s", app, old.out)
			}
			time.Sleep(100 * time.Millisecond)
		}
		stopped := time.Now()
		if err := old.cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		deadline = time.Now().Add(30 * time.Second)
		for {
			if ld := follower.leader(t); ld != "" && ld != old.url {
				next, took = byURL[ld], time.Since(stopped)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no replica took over from %s", old.url)
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Logf("%s stopped (%v) mid-shift; %s leads %.2fs later", old.url, sig, next.url, took.Seconds())
		if took > 3*time.Second {
			t.Errorf("takeover took %v, want within the lease TTL (2s) + 1s", took)
		}
		return old, next, took
	}
	finalized := func(t *testing.T, r *replica, app string) {
		t.Helper()
		deadline := time.Now().Add(3 * time.Minute)
		for {
			ph, _ := r.phase(t, app)
			if ph == string(migrate.Finalized) {
				// The CLI saw it too, through the follower, and exits 0.
				done := make(chan error, 1)
				go func() { done <- cli.Wait() }()
				select {
				case err := <-done:
					if out := cliOut.String(); err != nil || !strings.Contains(out, "migrate "+app+": accepted by") || !strings.Contains(out, "0 not migrated") {
						t.Errorf("switchyard migrate %s through the server: %v\n%s", app, err, out)
					} else {
						t.Logf("switchyard migrate %s through the server:\n%s", app, out)
					}
				case <-time.After(30 * time.Second):
					t.Errorf("switchyard migrate %s did not end after the migration did:\n%s", app, cliOut)
				}
				return
			}
			if strings.HasPrefix(ph, "Rolled") || time.Now().After(deadline) {
				t.Fatalf("%s: phase %q, want Finalized\n%s", app, ph, r.out)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	history := func(t *testing.T, r *replica, app string) []string {
		t.Helper()
		code, body := r.call(t, "GET", "/api/v1/apps/"+app+"/history", "")
		if code != 200 {
			t.Fatalf("history of %s = %d %s", app, code, body)
		}
		var hs []struct {
			Seq      uint64
			From, To string
		}
		if err := json.Unmarshal([]byte(body), &hs); err != nil {
			t.Fatal(err)
		}
		var out []string
		for i, h := range hs {
			if i > 0 && (h.Seq <= hs[i-1].Seq || h.From != hs[i-1].To) {
				t.Errorf("journal of %s inconsistent at %d: %+v after %+v", app, i, h, hs[i-1])
			}
			out = append(out, h.To)
		}
		return out
	}

	t.Run("sigkill", func(t *testing.T) {
		res := load(l.Config.Nginx.Listen, "/ha/")
		_, next, _ := failover(t, "ha", syscall.SIGKILL)
		// The migrating route's request rate per platform, in PromQL: every
		// replica exports the fleet's sums, so max over the replicas.
		q := `max by (platform) (rate(switchyard_lb_requests_total{route="ha"}[10s]))`
		var rates map[string]float64
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(500 * time.Millisecond) {
			ss, err := prom.Query(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			// Both platforms serve, at the load's rate once the 10 s window
			// holds only steady samples (a replica's counters start at its
			// first read of each instance).
			rates = promtest.ByLabel(ss, "platform")
			if sum := rates["marathon"] + rates["kubernetes"]; rates["marathon"] > 0 && rates["kubernetes"] > 0 && sum > 200 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s = %v, want both platforms\nprometheus:\n%s", q, rates, prom.Log())
			}
		}
		t.Logf("prometheus, mid-shift: %s = %v req/s", q, rates)
		if sum := rates["marathon"] + rates["kubernetes"]; sum > 600 {
			t.Errorf("summed rate %.0f req/s, the load sends ~400", sum)
		}
		finalized(t, next, "ha")
		time.Sleep(500 * time.Millisecond)
		lg := res.Stop()
		t.Logf("load: %s", lg)
		if err := lg.ZeroFailed(1); err != nil {
			t.Fatal(err)
		}
		t.Logf("journal of ha: %v", history(t, next, "ha"))
		if !strings.Contains(next.out.String(), "resuming a migration in flight") {
			t.Errorf("the new leader did not say it resumed ha:\n%s", next.out)
		}
	})

	t.Run("sigstop", func(t *testing.T) {
		res := load(l.Config.Nginx.Listen, "/hb/")
		old, next, _ := failover(t, "hb", syscall.SIGSTOP)
		// The deposed leader wakes up after the new one took over.
		time.Sleep(time.Second)
		if err := old.cmd.Process.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		finalized(t, next, "hb")
		time.Sleep(500 * time.Millisecond)
		lg := res.Stop()
		t.Logf("load: %s", lg)
		if err := lg.ZeroFailed(1); err != nil {
			t.Fatal(err)
		}
		t.Logf("journal of hb: %v", history(t, next, "hb"))
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(old.out.String(), "no longer leading") {
			if time.Now().After(deadline) {
				t.Fatalf("the resumed old leader did not step down:\n%s", old.out)
			}
			time.Sleep(100 * time.Millisecond)
		}
		// Whatever it tried after waking was refused by the fence.
		for _, line := range strings.Split(old.out.String(), "\n") {
			if strings.Contains(line, "push refused") || strings.Contains(line, etcdjournal.ErrNotLeader.Error()) {
				t.Logf("fenced: %s", line)
			}
		}
	})
}
