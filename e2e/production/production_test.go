// Package production tests Switchyard the way an operator runs it on a real
// cluster, without the lab supervisor's wiring: two plain nginx processes
// configured only from `switchyard lb render` output inside an
// operator-style nginx.conf (with its own server and locations), a Marathon
// that requires a token, a kubeconfig bound to a namespaced Role, and every
// command run as a separate `switchyard` process through a context.
//
// The lab only provides the platforms (its Marathon with token auth, its
// Kubernetes API server and node agents); its nginx is not started.
package production

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/testenv"
	"github.com/switchyard/switchyard/lab/labtest"
	"github.com/switchyard/switchyard/traffic/loadgen"
)

var theLab *labtest.Lab

func TestMain(m *testing.M) {
	os.Exit(labtest.Main(m, labtest.Options{Kubernetes: true, Nodes: 3, MarathonToken: true}, &theLab))
}

// site is a production-shaped setup around the lab's platforms.
type site struct {
	t       *testing.T
	dir     string
	bin     string
	env     []string
	lbs     []*nginxInstance
	appsDir string
	ns      string
	lbToken string
	podCIDR string
}

// newSite renders the module twice, starts two nginx instances, builds the
// namespaced kubeconfig and writes the context "prod" (made current).
func newSite(t *testing.T, ns string) *site {
	l := labtest.Need(t, theLab)
	// Directly in the temporary directory: nginx's workers (another user
	// when the tests run as root) pass through it.
	dir, err := os.MkdirTemp("", "switchyard-production-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s := &site{t: t, dir: dir, bin: l.Bin, ns: ns, podCIDR: l.Config.Kubernetes.PodCIDR}
	s.appsDir = filepath.Join(s.dir, "apps")
	s.env = append(cleanEnv(), "SWITCHYARD_CONFIG="+filepath.Join(s.dir, "config.yaml"))
	s.lbToken = filepath.Join(s.dir, "lb.token")
	if err := os.WriteFile(s.lbToken, []byte("e2e-"+strings.Repeat("7f", 16)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"lb-a", "lb-b"} {
		n := &nginxInstance{Name: name, Dir: filepath.Join(s.dir, name), Listen: testenv.FreeAddr(t, "127.0.0.1"), Admin: testenv.FreeAddr(t, "127.0.0.1"), TokenFile: s.lbToken}
		n.ModuleDir, n.StateDir = filepath.Join(n.Dir, "switchyard"), filepath.Join(n.Dir, "state")
		if err := os.MkdirAll(n.StateDir, 0o755); err != nil {
			t.Fatal(err)
		}
		s.run("lb", "render", "--out", n.ModuleDir, "--admin-listen", n.Admin, "--admin-token-file", s.lbToken,
			"--state-dir", n.StateDir, "--backends-cidr", "127.0.0.0/8", "--backends-cidr", s.podCIDR)
		n.writeConf(t)
		n.start(t)
		t.Cleanup(n.stop)
		s.lbs = append(s.lbs, n)
	}
	kc := namespacedKubeconfig(t, l.Kubeconfig, ns, s.dir)
	args := []string{"config", "set-context", "prod",
		"--marathon-url", l.MarathonURL, "--marathon-auth", "dcos-token", "--marathon-token-file", l.Config.MarathonTokenPath(),
		"--mesos-url", l.MesosURL, "--kubeconfig", kc, "--namespace", ns, "--journal", filepath.Join(s.dir, "journal.db"),
		"--lb-backends-cidr", "127.0.0.0/8", "--lb-backends-cidr", s.podCIDR}
	for _, n := range s.lbs {
		args = append(args, "--lb-instance", fmt.Sprintf("%s=%s,tokenFile=%s", n.Name, n.AdminURL(), s.lbToken))
	}
	s.run(args...)
	s.run("config", "use-context", "prod")
	return s
}

// cleanEnv drops every variable that would point a command elsewhere than
// the context.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "SWITCHYARD_LAB_ID", "SWITCHYARD_LAB_DIR", "MARATHON_URL", "DCOS_URL", "DCOS_ACS_TOKEN", "MESOS_MASTER_URL",
			"KUBECONFIG", "SWITCHYARD_LB", "SWITCHYARD_LB_ADMIN", "SWITCHYARD_LB_TOKEN_FILE", "SWITCHYARD_JOURNAL", "SWITCHYARD_CONFIG":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// run runs a switchyard command and fails the test when it fails.
func (s *site) run(args ...string) string {
	s.t.Helper()
	out, err := s.try(3*time.Minute, args...)
	if err != nil {
		s.t.Fatalf("switchyard %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// try runs a switchyard command and returns its output and error.
func (s *site) try(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.bin, args...)
	cmd.Env, cmd.Dir = s.env, s.dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// start runs a switchyard command in the background; wait returns its
// output and error.
func (s *site) start(args ...string) (wait func() (string, error)) {
	cmd := exec.Command(s.bin, args...)
	cmd.Env, cmd.Dir = s.env, s.dir
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	s.t.Cleanup(func() { _ = cmd.Process.Kill() })
	return func() (string, error) {
		select {
		case err := <-done:
			return out.String(), err
		case <-time.After(6 * time.Minute):
			_ = cmd.Process.Kill()
			return out.String(), fmt.Errorf("switchyard %s did not finish in 6 minutes", strings.Join(args, " "))
		}
	}
}

// writeApp writes apps/NAME/app.yaml.
func (s *site) writeApp(name, body string) {
	d := filepath.Join(s.appsDir, name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		s.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, "app.yaml"), []byte(body), 0o644); err != nil {
		s.t.Fatal(err)
	}
}

// statusRow is the part of `switchyard status -o json` the tests read.
type statusRow struct {
	App        string `json:"app"`
	Phase      string `json:"phase"`
	Kubernetes int    `json:"kubernetesPercent"`
	Reason     string `json:"reason"`
}

func (s *site) status(app string) (statusRow, error) {
	out, err := s.try(30*time.Second, "status", "-o", "json")
	if err != nil {
		return statusRow{}, fmt.Errorf("%v: %s", err, out)
	}
	var rows []statusRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		return statusRow{}, fmt.Errorf("status -o json: %v: %s", err, out)
	}
	for _, r := range rows {
		if r.App == app {
			return r, nil
		}
	}
	return statusRow{}, fmt.Errorf("no status row for %s", app)
}

// waitStatus polls status until ok says so.
func (s *site) waitStatus(app string, timeout time.Duration, what string, ok func(statusRow) bool) statusRow {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	var last statusRow
	var err error
	for time.Now().Before(deadline) {
		if last, err = s.status(app); err == nil && ok(last) {
			return last
		}
		time.Sleep(200 * time.Millisecond)
	}
	s.t.Fatalf("%s: not reached in %s (last status %+v, %v)", what, timeout, last, err)
	return last
}

// get fetches a URL and returns status and body.
func get(u string) (int, string, error) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(u)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// adminGet reads an admin API path of an instance with the token.
func (s *site) adminGet(n *nginxInstance, path string) (int, string) {
	tok, _ := os.ReadFile(s.lbToken)
	req, _ := http.NewRequest(http.MethodGet, n.AdminURL()+path, nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

type routingState struct {
	Version int64 `json:"version"`
	Routes  []struct {
		Name       string `json:"name"`
		PathPrefix string `json:"pathPrefix"`
		Owner      string `json:"owner"`
		Backends   []struct {
			Address  string `json:"address"`
			Weight   int    `json:"weight"`
			Platform string `json:"platform"`
		} `json:"backends"`
	} `json:"routes"`
}

func (s *site) routes(n *nginxInstance) routingState {
	s.t.Helper()
	code, body := s.adminGet(n, "/routes")
	if code != 200 {
		s.t.Fatalf("%s GET /routes: %d %s", n.Name, code, body)
	}
	var st routingState
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		s.t.Fatal(err)
	}
	return st
}

// platformsOf returns the platforms with weight in the named route.
func (st routingState) platformsOf(route string) map[string]int {
	out := map[string]int{}
	for _, r := range st.Routes {
		if r.Name != route {
			continue
		}
		for _, b := range r.Backends {
			if b.Weight > 0 {
				out[b.Platform] += b.Weight
			}
		}
	}
	return out
}

// load runs keep-alive load on path at addr (4 connections, one POST in
// three, 150 req/s, no retries) until Stop, at the latest when t ends.
func load(t *testing.T, addr, path string) *loadgen.Load {
	l := loadgen.Start(context.Background(), loadgen.Config{Target: addr, Path: path, Conns: 4, PostEvery: 3, Rate: 150})
	t.Cleanup(func() { l.Stop() })
	return l
}

const shopfrontApp = `name: shopfront
owner: e2e
type: marathon
marathon:
  id: /prod/shopfront
  instances: 2
  cpus: 0.05
  mem: 32
  container: {type: DOCKER, docker: {image: "switchyard/demo-app:1"}}
  portDefinitions: [{port: 0, protocol: tcp, name: http}]
  env: {DEMO_VERSION: marathon}
  healthChecks:
    - {protocol: HTTP, path: /health, portIndex: 0, gracePeriodSeconds: 10, intervalSeconds: 1, timeoutSeconds: 2, maxConsecutiveFailures: 3}
  taskKillGracePeriodSeconds: 3
route:
  path: /shopfront
  port: http
resources:
  requests: {cpu: 20m, memory: 16Mi}
migration:
  steps: [25, 50, 100]
  pausePerStep: 3s
  soak: 2s
  maxErrorRate: 0.01
  minRequests: 5
`

// TestProductionMigrateThroughContext: deploy then migrate through a
// context under keep-alive GET+POST load on both nginx instances; one
// instance is SIGKILLed and restarted mid-shift: it comes back with the
// current weights, the migration holds meanwhile, then finishes; no request
// fails on the other instance. Then the Finalized app rolls back to
// Marathon under load, again with no failed request.
func TestProductionMigrateThroughContext(t *testing.T) {
	s := newSite(t, "prod-apps")
	a, b := s.lbs[0], s.lbs[1]
	s.writeApp("shopfront", shopfrontApp)
	t.Log(s.run("deploy", filepath.Join(s.appsDir, "shopfront", "app.yaml")))
	for _, n := range s.lbs {
		if code, body, err := get(n.URL() + "/shopfront/"); err != nil || code != 200 {
			t.Fatalf("%s: /shopfront/ answered %d %v: %s", n.Name, code, err, body)
		}
		if code, body, err := get(n.URL() + "/operator/health"); err != nil || code != 200 || !strings.Contains(body, "operator ok") {
			t.Fatalf("%s: the operator's own location answered %d %v: %s", n.Name, code, err, body)
		}
	}

	resA, resB := load(t, a.Listen, "/shopfront/"), load(t, b.Listen, "/shopfront/")
	time.Sleep(2 * time.Second)
	wait := s.start("migrate", "shopfront", "--apps", s.appsDir)

	s.waitStatus("shopfront", 3*time.Minute, "shifting at 25%", func(r statusRow) bool {
		return strings.HasPrefix(r.Phase, "Shifting") && r.Kubernetes >= 25
	})
	resB.Begin() // lb-b is killed
	b.kill()
	held := s.waitStatus("shopfront", time.Minute, "migration held while lb-b is down", func(r statusRow) bool {
		return strings.Contains(r.Phase, "held") || strings.Contains(strings.ToLower(r.Reason), "lb-b")
	})
	t.Logf("held: %+v", held)
	time.Sleep(2 * time.Second)
	b.start(t)
	resB.End() // lb-b is back
	// Back with the current weights: the same routing state as lb-a once
	// the fleet caught it up.
	deadline := time.Now().Add(30 * time.Second)
	for {
		sa, sb := s.routes(a), s.routes(b)
		if sa.Version == sb.Version {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lb-b did not catch up: version %d, lb-a %d", sb.Version, sa.Version)
		}
		time.Sleep(100 * time.Millisecond)
	}
	out, err := wait()
	t.Logf("migrate:\n%s", out)
	if err != nil {
		t.Fatalf("migrate: %v", err)
	}
	time.Sleep(time.Second)
	la, lb := resA.Stop(), resB.Stop()
	t.Logf("lb-a:\n%s", la)
	t.Logf("lb-b (\"during\" from its kill at %s to its restart at %s):\n%s", lb.Begin.Format("15:04:05.000"), lb.End.Format("15:04:05.000"), lb)
	if err := la.ZeroFailed(500); err != nil {
		t.Fatalf("lb-a: %v", err)
	}
	if after := lb.Between(lb.End.Add(2*time.Second), time.Now()); after.Failed != 0 {
		t.Fatalf("lb-b: %d requests failed after its restart: %s", after.Failed, after)
	}
	if r, err := s.status("shopfront"); err != nil || r.Phase != "Finalized" {
		t.Fatalf("status after migrate: %+v %v", r, err)
	}
	for _, n := range s.lbs {
		if p := s.routes(n).platformsOf("shopfront"); p["marathon"] != 0 || p["kubernetes"] == 0 {
			t.Fatalf("%s: route shopfront after the migration: %v", n.Name, p)
		}
	}

	// Back to Marathon, under load, with the same gates.
	resA, resB = load(t, a.Listen, "/shopfront/"), load(t, b.Listen, "/shopfront/")
	time.Sleep(time.Second)
	out = s.run("rollback", "shopfront", "--apps", s.appsDir)
	t.Logf("rollback:\n%s", out)
	time.Sleep(time.Second)
	la, lb = resA.Stop(), resB.Stop()
	t.Logf("rollback lb-a:\n%s\nlb-b:\n%s", la, lb)
	for name, p := range map[string]loadgen.Phases{"lb-a": la, "lb-b": lb} {
		if err := p.ZeroFailed(1); err != nil {
			t.Fatalf("rollback of a Finalized app, %s: %v", name, err)
		}
	}
	for _, n := range s.lbs {
		if p := s.routes(n).platformsOf("shopfront"); p["kubernetes"] != 0 || p["marathon"] == 0 {
			t.Fatalf("%s: route shopfront after the rollback: %v", n.Name, p)
		}
	}
	if r, err := s.status("shopfront"); err != nil || r.Phase != "RolledBack" {
		t.Fatalf("status after rollback: %+v %v", r, err)
	}
}

// TestOwnChartMigrates: a team that brings its own chart (app.yaml
// type: helm with helm.path) migrates from its Marathon app onto that
// chart: the chart is rendered, the Service behind route.port found and
// gated on, under load on both instances with no failed request.
func TestOwnChartMigrates(t *testing.T) {
	s := newSite(t, "own-apps")
	marathonSide := strings.NewReplacer("shopfront", "ownweb", "/prod/", "/own/").Replace(shopfrontApp)
	s.writeApp("ownweb", marathonSide)
	t.Log(s.run("deploy", filepath.Join(s.appsDir, "ownweb", "app.yaml")))
	// The team adds its chart and switches the app to Helm.
	if out, err := exec.Command("cp", "-r", filepath.Join("..", "..", "examples", "apps", "shop", "chart"), filepath.Join(s.appsDir, "ownweb", "chart")).CombinedOutput(); err != nil {
		t.Fatalf("copy the chart: %v: %s", err, out)
	}
	s.writeApp("ownweb", strings.Replace(marathonSide, "type: marathon\n",
		"type: helm\nhelm: {path: chart, release: ownweb, values: {replicas: 2, version: own-chart}}\n", 1))

	resA, resB := load(t, s.lbs[0].Listen, "/ownweb/"), load(t, s.lbs[1].Listen, "/ownweb/")
	time.Sleep(time.Second)
	out := s.run("migrate", "ownweb", "--apps", s.appsDir)
	t.Logf("migrate:\n%s", out)
	time.Sleep(time.Second)
	la, lb := resA.Stop(), resB.Stop()
	t.Logf("lb-a:\n%s\nlb-b:\n%s", la, lb)
	for name, p := range map[string]loadgen.Phases{"lb-a": la, "lb-b": lb} {
		if err := p.ZeroFailed(300); err != nil {
			t.Fatalf("own-chart migration, %s: %v", name, err)
		}
	}
	if r, err := s.status("ownweb"); err != nil || r.Phase != "Finalized" {
		t.Fatalf("status: %+v %v", r, err)
	}
	for _, n := range s.lbs {
		code, body, err := get(n.URL() + "/ownweb/")
		if err != nil || code != 200 || !strings.Contains(body, "own-chart") {
			t.Fatalf("%s: /ownweb/ after the migration answered %d %v: %s (want the own chart's pods)", n.Name, code, err, body)
		}
	}
}
