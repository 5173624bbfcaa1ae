package labtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/testenv"
	"github.com/switchyard/switchyard/internal/wanterr"
	"github.com/switchyard/switchyard/lab"
	"github.com/switchyard/switchyard/lab/labconfig"
	"github.com/switchyard/switchyard/lab/proc"
)

// theLab is this package's lab: the lab's Marathon with the sample apps, and
// the shared nginx.
var theLab *Lab

var labOptions = Options{Nginx: true, Demo: true}

func TestMain(m *testing.M) { os.Exit(Main(m, labOptions, &theLab)) }

func TestConfigIsUniquePerLab(t *testing.T) {
	a, err := Config(t.TempDir(), Options{Kubernetes: true, Nginx: true})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Config(t.TempDir(), Options{Kubernetes: true, Nginx: true, Nodes: 5})
	if err != nil {
		t.Fatal(err)
	}
	if a.ID == b.ID || len(a.ID) > 11 {
		t.Errorf("IDs %q and %q: want distinct and short (they prefix interface names)", a.ID, b.ID)
	}
	if len(b.Nodes) != 5 {
		t.Errorf("%d nodes, want 5", len(b.Nodes))
	}
	seen := map[string]string{}
	for _, c := range []struct {
		name string
		cfg  labconfig.Config
	}{{"a", a}, {"b", b}} {
		cfg := c.cfg
		for _, u := range lab.Ports(cfg, nil) {
			if prev, dup := seen[u.Addr]; dup {
				t.Errorf("%s of lab %s uses %s, already used by %s", u.Field, c.name, u.Addr, prev)
			}
			seen[u.Addr] = c.name + " " + u.Field
			if ap := netip.MustParseAddrPort(u.Addr); !ap.Addr().IsLoopback() {
				t.Errorf("%s listens on %s, not loopback", u.Field, u.Addr)
			}
		}
		for _, n := range cfg.Nodes {
			if prev, dup := seen[n.Address]; dup {
				t.Errorf("node address %s used twice (%s)", n.Address, prev)
			}
			seen[n.Address] = c.name + " " + n.Name
			if strings.HasPrefix(n.Address, "127.0.") {
				t.Errorf("node %s on %s collides with the default lab's block", n.Name, n.Address)
			}
		}
	}
	if a.Kubernetes.PodCIDR == b.Kubernetes.PodCIDR && a.Nodes[0].Address == b.Nodes[0].Address {
		t.Errorf("two labs got the same pod CIDR and node block")
	}
	pa, pb := netip.MustParsePrefix(a.Kubernetes.PodCIDR), netip.MustParsePrefix(a.Kubernetes.ServiceCIDR)
	if pa.Overlaps(pb) {
		t.Errorf("pod CIDR %s overlaps service CIDR %s", pa, pb)
	}
}

func TestRoutedPrefixes(t *testing.T) {
	ps := routedPrefixes()
	if len(ps) == 0 {
		testenv.Missing(t, "no IPv4 route readable in /proc/net/route")
	}
	for _, p := range ps {
		if !p.IsValid() || p.Addr() != p.Masked().Addr() {
			t.Errorf("route %v is not a network prefix", p)
		}
	}
	r, err := freePodBlock()
	if err != nil {
		t.Fatal(err)
	}
	p := netip.MustParsePrefix(fmt.Sprintf("10.%d.0.0/16", r))
	for _, q := range ps {
		if q.Bits() > 0 && q.Overlaps(p) {
			t.Errorf("picked %v, which overlaps the route %v", p, q)
		}
	}
}

// TestPortTakenIsRefusedUpFront: `lab up` with the Marathon port taken by
// another process refuses before starting anything, naming the component,
// the port, the owner and the lab.yaml field.
func TestPortTakenIsRefusedUpFront(t *testing.T) {
	testenv.SkipIfShort(t, "switchyard lab up")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	var cfg labconfig.Config
	_, err = Start(Options{Nginx: true, Configure: func(c *labconfig.Config) { c.Marathon.Listen = addr; cfg = *c }})
	want := fmt.Sprintf("port %s for marathon is in use by another process (pid %d, ", addr, os.Getpid())
	wanterr.Check(t, err, want, "free it or change marathon.listen in "+cfg.Dir+"/lab.yaml", "nothing was started")
	defer os.RemoveAll(cfg.Dir)
	if ids := proc.FindByEnv(lab.Marker(cfg)); len(ids) > 0 {
		t.Errorf("processes of the refused lab run: %v", ids)
	}
	// The cleanup `lab down` rightly reports the foreign listener on the
	// lab's port instead of calling the lab clean.
	if !strings.Contains(err.Error(), fmt.Sprintf("ports still listening: %s (pid %d", addr, os.Getpid())) {
		t.Errorf("lab down did not report the foreign listener:\n%v", err)
	}
}

func TestStatusReportsEveryComponentHealthy(t *testing.T) {
	l := Need(t, theLab)
	out, err := l.Run("lab", "status", "-o", "json")
	if err != nil {
		t.Fatalf("lab status: %v\n%s", err, out)
	}
	var sts []lab.ComponentStatus
	if err := json.Unmarshal([]byte(out), &sts); err != nil {
		t.Fatalf("status JSON: %v\n%s", err, out)
	}
	names := map[string]bool{}
	for _, s := range sts {
		names[s.Name] = true
		if s.State != lab.StateHealthy && s.State != lab.StateRunning {
			t.Errorf("%s is %s: %s", s.Name, s.State, s.Detail)
		}
		if s.PID <= 0 || !proc.Alive(proc.ID{PID: s.PID}) {
			t.Errorf("%s: pid %d is not running", s.Name, s.PID)
		}
	}
	for _, want := range []string{"marathon", "nginx"} {
		if !names[want] {
			t.Errorf("status lacks %s: %v", want, names)
		}
	}
}

func TestEnvWorksWithEval(t *testing.T) {
	l := Need(t, theLab)
	script := fmt.Sprintf(`eval "$(%q lab env --lab-dir %q)" && printf '%%s %%s %%s %%s' "$MARATHON_URL" "$MESOS_MASTER_URL" "$SWITCHYARD_LB" "$SWITCHYARD_LAB_DIR"`, l.Bin, l.Dir)
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Env = cleanEnv()
	got, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Join([]string{l.MarathonURL, l.MesosURL, l.LBURL, l.Dir}, " "); string(got) != want {
		t.Fatalf("eval of lab env gave %q, want %q", got, want)
	}
	// The exported Marathon URL is the live lab Marathon.
	if _, err := get(l.MarathonURL + "/v2/info"); err != nil {
		t.Fatalf("MARATHON_URL does not answer: %v", err)
	}
}

var answersRe = regexp.MustCompile(`^http://127\.[0-9.]+:[0-9]+/$`)

// TestDemoAppsAnswer: `lab up --demo` printed where the sample apps answer,
// and each answers HTTP.
func TestDemoAppsAnswer(t *testing.T) {
	l := Need(t, theLab)
	var urls []string
	for _, f := range strings.Fields(l.UpOutput[strings.Index(l.UpOutput, "ANSWERS AT"):]) {
		if answersRe.MatchString(f) {
			urls = append(urls, f)
		}
	}
	if len(urls) < 4 { // web x2, api, static
		t.Fatalf("lab up --demo printed %d task URLs, want at least 4:\n%s", len(urls), l.UpOutput)
	}
	versions := map[string]bool{}
	for _, u := range urls {
		body, err := get(u)
		if err != nil {
			t.Errorf("%s: %v", u, err)
			continue
		}
		var info struct{ Version, Platform string }
		if json.Unmarshal(body, &info) == nil && info.Version != "" {
			versions[info.Version] = true
			if info.Platform != "marathon" {
				t.Errorf("%s says platform %q", u, info.Platform)
			}
		}
	}
	if !versions["v1"] || !versions["v2"] {
		t.Errorf("versions seen %v, want v1 (web) and v2 (api)", versions)
	}

	// Every app also answers through the shared nginx, on its id as path
	// prefix; the two web instances share the traffic.
	routes := routedRe.FindAllStringSubmatch(l.UpOutput, -1)
	if len(routes) != 3 {
		t.Fatalf("lab up --demo routed %d apps through nginx, want 3:\n%s", len(routes), l.UpOutput)
	}
	for _, r := range routes {
		app, u := r[1], r[2]
		if !strings.HasPrefix(u, l.LBURL+app) {
			t.Errorf("%s routed at %s, not under %s", app, u, l.LBURL)
		}
		instances := map[string]bool{}
		for range 6 {
			body, err := get(u)
			if err != nil {
				t.Fatalf("%s through nginx: %v", app, err)
			}
			var info struct{ InstanceID string }
			if json.Unmarshal(body, &info) == nil {
				instances[info.InstanceID] = true
			}
		}
		if app == "/demo/web" && len(instances) != 2 {
			t.Errorf("/demo/web through nginx reached instances %v, want both", instances)
		}
	}
}

var routedRe = regexp.MustCompile(`routed (\S+) through nginx: (\S+)`)

func TestLogsShowsAComponentsLog(t *testing.T) {
	l := Need(t, theLab)
	out, err := l.Run("lab", "logs", "marathon", "--tail", "1000")
	if err != nil || !strings.Contains(out, "=== switchyard lab: starting marathon at ") {
		t.Fatalf("lab logs marathon: %v\n%s", err, out)
	}
	out, err = l.Run("lab", "logs", "nope")
	if err == nil || !strings.Contains(out, `no component "nope" in this lab (components: marathon`) {
		t.Fatalf("lab logs nope: %v\n%s", err, out)
	}
}

func TestUpAgainKeepsTheLab(t *testing.T) {
	l := Need(t, theLab)
	before := pids(t, l)
	out, err := l.Run("lab", "up")
	if err != nil {
		t.Fatalf("second lab up: %v\n%s", err, out)
	}
	if !strings.Contains(out, "running (kept)") {
		t.Errorf("second lab up did not keep the components:\n%s", out)
	}
	if after := pids(t, l); fmt.Sprint(before) != fmt.Sprint(after) {
		t.Errorf("pids changed: %v -> %v", before, after)
	}
}

// TestDownLeavesNothingBehind runs a second, whole lab (Marathon, Kubernetes
// with node agents, nginx, the sample apps on both platforms) next to the
// package's lab, so two labs coexist; then it stops it and checks that no
// process, listening port or network namespace of it is left, while the
// package's lab is untouched.
func TestDownLeavesNothingBehind(t *testing.T) {
	Need(t, theLab)
	before := pids(t, theLab)
	l, err := Start(Options{Kubernetes: true, Nginx: true, Demo: true})
	if errors.Is(err, ErrPrerequisite) {
		testenv.Prerequisite(t, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	checkKubernetesDemo(t, l)
	// While it runs, Leftovers sees it: the check below is not vacuous.
	left := strings.Join(Leftovers(l.Config), "\n")
	for _, want := range []string{"process ", "still listening: ", "pod network namespace left: ", "pod bridge left: "} {
		if !strings.Contains(left, want) {
			t.Errorf("Leftovers of a running whole lab lacks %q:\n%s", want, left)
		}
	}
	t.Logf("second lab up in %s", l.UpDuration.Round(time.Millisecond))
	if len(proc.FindByEnv(lab.Marker(l.Config))) < 3 {
		t.Fatalf("the second lab runs fewer processes than expected")
	}
	crashAndRecover(t, l)
	if err := l.Stop(); err != nil {
		t.Fatal(err)
	}
	if left := Leftovers(l.Config); len(left) > 0 {
		t.Fatalf("left behind: %v", left)
	}
	for _, u := range lab.Ports(l.Config, nil) {
		ln, err := net.Listen("tcp", u.Addr)
		if err != nil {
			t.Errorf("port %s (%s) is still taken after lab down: %v", u.Addr, u.Field, err)
			continue
		}
		ln.Close()
	}
	if after := pids(t, theLab); fmt.Sprint(before) != fmt.Sprint(after) {
		t.Errorf("stopping the second lab touched the first: %v -> %v", before, after)
	}
}

// checkKubernetesDemo: the Kubernetes sample app answers from its pods and
// through nginx, next to the Marathon apps.
func checkKubernetesDemo(t *testing.T, l *Lab) {
	t.Helper()
	m := routedRe.FindAllStringSubmatch(l.UpOutput, -1)
	var shop string
	for _, r := range m {
		if r[1] == "/demo/shop" {
			shop = r[2]
		}
	}
	if shop == "" || len(m) != 4 {
		t.Fatalf("lab up --demo on a whole lab routed %d apps (want 4, /demo/shop among them):\n%s", len(m), l.UpOutput)
	}
	seen := map[string]bool{}
	for range 6 {
		body, err := get(shop)
		if err != nil {
			t.Fatalf("/demo/shop through nginx: %v", err)
		}
		var info struct{ Platform, TaskID string }
		if err := json.Unmarshal(body, &info); err != nil || info.Platform != "kubernetes" {
			t.Fatalf("/demo/shop answered %s", body)
		}
		seen[info.TaskID] = true
	}
	if len(seen) != 2 {
		t.Errorf("/demo/shop through nginx reached pods %v, want both replicas", seen)
	}
}

// crashAndRecover kills the lab Marathon's program: `lab status` must report
// it crashed (exit status 3) with how it ended and its log, and `lab up` must
// start it again.
func crashAndRecover(t *testing.T, l *Lab) {
	t.Helper()
	shim := pids(t, l)["marathon"]
	kids, err := exec.Command("pgrep", "-P", fmt.Sprint(shim)).Output()
	if err != nil {
		t.Fatalf("find marathon's process under pid %d: %v", shim, err)
	}
	var child int
	fmt.Sscan(string(kids), &child)
	if err := syscall.Kill(child, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for proc.Alive(proc.ID{PID: shim}) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	out, err := l.Run("lab", "status")
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Errorf("lab status with a crashed component: %v, want exit status 3", err)
	}
	for _, want := range []string{"crashed", "killed by signal 9", "marathon is crashed; last lines of"} {
		if !strings.Contains(out, want) {
			t.Errorf("lab status lacks %q:\n%s", want, out)
		}
	}
	out, err = l.Run("lab", "up")
	if err != nil || !strings.Contains(out, "marathon                 was killed by signal 9") {
		t.Fatalf("lab up after the crash: %v\n%s", err, out)
	}
	if _, err := get(l.MarathonURL + "/v2/info"); err != nil {
		t.Fatalf("restarted Marathon does not answer: %v", err)
	}
}

func pids(t *testing.T, l *Lab) map[string]int {
	t.Helper()
	out, err := l.Run("lab", "status", "-o", "json")
	if err != nil {
		t.Fatalf("lab status: %v\n%s", err, out)
	}
	var sts []lab.ComponentStatus
	if err := json.Unmarshal([]byte(out), &sts); err != nil {
		t.Fatal(err)
	}
	m := map[string]int{}
	for _, s := range sts {
		m[s.Name] = s.PID
	}
	return m
}

func get(u string) ([]byte, error) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return b, fmt.Errorf("%s: %s", u, resp.Status)
	}
	return b, nil
}

// BenchmarkLabUp measures `lab up` of a Marathon-only lab and of the whole
// lab (Marathon, Kubernetes with node agents, nginx), with the Kubernetes
// binaries already cached: cold (a fresh lab directory: PKI, configs) and
// warm (`lab up` again after `lab down` in the same directory), and `lab down`.
func BenchmarkLabUp(b *testing.B) {
	testenv.SkipIfShort(b, "labs")
	for _, bc := range []struct {
		name string
		opts Options
	}{{"marathon", Options{}}, {"whole", Options{Kubernetes: true, Nginx: true}}} {
		b.Run(bc.name, func(b *testing.B) {
			var cold, warm, down time.Duration
			n := 0
			for b.Loop() {
				l, err := Start(bc.opts)
				if errors.Is(err, ErrPrerequisite) {
					testenv.Prerequisite(b, err)
				}
				if err != nil {
					b.Fatal(err)
				}
				cold += l.UpDuration
				if out, err := l.Run("lab", "down"); err != nil {
					b.Fatalf("lab down: %v\n%s", err, out)
				}
				t0 := time.Now()
				if out, err := l.Run("lab", "up"); err != nil {
					b.Fatalf("warm lab up: %v\n%s", err, out)
				}
				warm += time.Since(t0)
				t0 = time.Now()
				if err := l.Stop(); err != nil {
					b.Fatal(err)
				}
				down += time.Since(t0)
				n++
			}
			b.ReportMetric(cold.Seconds()/float64(n), "s/cold-up")
			b.ReportMetric(warm.Seconds()/float64(n), "s/warm-up")
			b.ReportMetric(down.Seconds()/float64(n), "s/down")
		})
	}
}
