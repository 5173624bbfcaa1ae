// Package labtest starts a real lab for a test package: it builds the
// switchyard binary once per test process (or uses $SWITCHYARD_BIN), writes
// a lab config in a temporary directory with its own ephemeral ports, its own
// loopback node block (127.R.S.N), its own pod CIDR (10.R.0.0/16) and a
// unique ID, so several test packages can each run a lab at the same time,
// starts it with `switchyard lab up` and stops it with `switchyard lab down`,
// checking that nothing of it is left. Every command it runs (Start, Run)
// and Env use SWITCHYARD_CONFIG=<lab dir>/switchyard-config.yaml
// (Lab.SwitchyardConfig), where `lab up` writes the lab's context: tests
// never read or write the developer's switchyard config.
//
// One lab per test package, from TestMain:
//
//	var theLab *labtest.Lab
//
//	func TestMain(m *testing.M) { os.Exit(labtest.Main(m, labtest.Options{}, &theLab)) }
//
//	func TestSomething(t *testing.T) {
//		l := labtest.Need(t, theLab)
//		... l.MarathonURL ...
//	}
package labtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/internal/testenv"
	"github.com/switchyard/switchyard/lab"
	labkube "github.com/switchyard/switchyard/lab/kube"
	"github.com/switchyard/switchyard/lab/labconfig"
	labnginx "github.com/switchyard/switchyard/lab/nginx"
	labnodeagent "github.com/switchyard/switchyard/lab/nodeagent"
	"github.com/switchyard/switchyard/lab/proc"
)

// Options chooses what the lab runs.
type Options struct {
	// Nodes is the number of lab nodes (default 3).
	Nodes int
	// Kubernetes starts the control plane and node agents.
	Kubernetes bool
	// Nginx starts the shared nginx.
	Nginx bool
	// KwokNodes adds simulated nodes (needs Kubernetes).
	KwokNodes int
	// Demo deploys the sample apps from examples/ (`lab up --demo`).
	Demo bool
	// MarathonToken makes the lab Marathon require its token
	// (marathon.auth: token); Lab.MarathonToken holds it once the lab is up.
	MarathonToken bool
	// Configure adjusts the generated config before it is written.
	Configure func(*labconfig.Config)
	// UpTimeout bounds `lab up` (default 10 minutes).
	UpTimeout time.Duration
	// Log receives the output of `lab up` and `lab down` (default: kept in
	// Lab.UpOutput and in errors only).
	Log io.Writer
}

// Lab is a running test lab.
type Lab struct {
	// Bin is the switchyard binary that runs the lab.
	Bin string
	// Dir is the lab directory; ConfigPath its lab.yaml.
	Dir, ConfigPath string
	// Config is the lab's configuration (Dir absolute).
	Config labconfig.Config
	// MarathonURL, MesosURL, LBURL and LBAdminURL are http:// URLs.
	MarathonURL, MesosURL, LBURL, LBAdminURL string
	// LBTokenFile holds the bearer token of LBAdminURL (lab/nginx creates it).
	LBTokenFile string
	// Kubeconfig is the admin kubeconfig ("" without Kubernetes).
	Kubeconfig string
	// MarathonToken is the lab Marathon's token ("" unless Options.MarathonToken).
	MarathonToken string
	// SwitchyardConfig is the switchyard config file (SWITCHYARD_CONFIG) of
	// every command the lab runs and of Env: it lies inside the lab
	// directory, so tests never read or write the developer's own config.
	// `lab up` writes the lab's context there and makes it current.
	SwitchyardConfig string
	// UpOutput is what `lab up` printed; UpDuration how long it took.
	UpOutput   string
	UpDuration time.Duration

	opts    Options
	stopped bool
}

// ErrPrerequisite marks a missing prerequisite (a program the lab needs).
var ErrPrerequisite = errors.New("lab prerequisite missing")

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// Binary returns the switchyard binary for tests: $SWITCHYARD_BIN when set,
// else one built from this module once per test process.
func Binary() (string, error) {
	buildOnce.Do(func() {
		if b := os.Getenv("SWITCHYARD_BIN"); b != "" {
			if _, err := os.Stat(b); err != nil {
				buildErr = fmt.Errorf("SWITCHYARD_BIN=%s: %w (run `make build`, or unset it to build in the test)", b, err)
				return
			}
			builtBin, buildErr = filepath.Abs(b)
			return
		}
		builtBin, buildErr = build()
	})
	return builtBin, buildErr
}

// build compiles the switchyard binary into a shared directory, named by its
// content, so concurrent test processes of one tree share one file and no
// binary is left per process; binaries unused for a day are pruned.
func build() (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(os.TempDir(), "switchyard-labtest-bin")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(dir, ".build-*")
	if err != nil {
		return "", err
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	cmd := exec.Command("go", "build", "-o", tmp.Name(), "./cmd/switchyard")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build switchyard: %w\n%s", err, out)
	}
	f, err := os.Open(tmp.Name())
	if err != nil {
		return "", err
	}
	h := sha256.New()
	_, err = io.Copy(h, f)
	f.Close()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "switchyard-"+hex.EncodeToString(h.Sum(nil)[:8]))
	if err := os.Rename(tmp.Name(), bin); err != nil {
		return "", err
	}
	now := time.Now()
	_ = os.Chtimes(bin, now, now) // mark it used
	if ents, err := os.ReadDir(dir); err == nil {
		for _, e := range ents {
			if info, err := e.Info(); err == nil && now.Sub(info.ModTime()) > 24*time.Hour {
				os.Remove(filepath.Join(dir, e.Name()))
			}
		}
	}
	return bin, nil
}

func moduleRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("labtest: no go.mod above the working directory; set SWITCHYARD_BIN")
		}
	}
}

// Config generates a lab config that cannot collide with another lab on this
// machine: a random ID, ephemeral free ports, a random loopback node block and
// pod CIDR. dir is the lab directory.
func Config(dir string, o Options) (labconfig.Config, error) {
	cfg := labconfig.Default()
	cfg.ID = fmt.Sprintf("lt-%08x", rand.Uint32())
	cfg.Dir = dir
	nodes := o.Nodes
	if nodes <= 0 {
		nodes = 3
	}
	ports, err := testenv.FreePorts(7)
	if err != nil {
		return cfg, err
	}
	lo := func(p int) string { return fmt.Sprintf("127.0.0.1:%d", p) }
	cfg.Marathon.Listen, cfg.Mesos.Listen = lo(ports[0]), lo(ports[1])
	cfg.Nginx.Listen, cfg.Nginx.Admin = lo(ports[2]), lo(ports[3])
	k := &cfg.Kubernetes
	k.Enabled, cfg.Nginx.Enabled = o.Kubernetes, o.Nginx
	if o.MarathonToken {
		cfg.Marathon.Auth = labconfig.MarathonAuthToken
	}
	k.KwokNodes = o.KwokNodes
	k.APIServerPort, k.ControllerManagerPort, k.SchedulerPort = ports[4], ports[5], ports[6]
	// etcd's two ports and the node agents' ports are consecutive blocks.
	if k.EtcdClientPort, err = testenv.FreeBlock(2); err != nil {
		return cfg, err
	}
	k.EtcdPeerPort = k.EtcdClientPort + 1
	if k.NodeAgentBasePort, err = testenv.FreeBlock(nodes + 1); err != nil {
		return cfg, err
	}
	r, err := freePodBlock()
	if err != nil {
		return cfg, err
	}
	k.PodCIDR = fmt.Sprintf("10.%d.0.0/16", r)
	k.ServiceCIDR = fmt.Sprintf("10.96.%d.0/24", r)
	a, b := 2+rand.IntN(253), rand.IntN(256)
	tmpl := cfg.Nodes[0]
	cfg.Nodes = nil
	for i := 1; i <= nodes; i++ {
		n := tmpl
		n.Name = fmt.Sprintf("node-%d", i)
		n.Address = fmt.Sprintf("127.%d.%d.%d", a, b, i)
		n.Ports = []labconfig.PortRange{{Begin: 31000 + (i-1)*1000, End: 31999 + (i-1)*1000}}
		n.Attributes = map[string]string{"rack": fmt.Sprintf("r%d", (i+1)/2), "zone": "lab"}
		share := *tmpl.KubernetesShare
		n.KubernetesShare = &share
		cfg.Nodes = append(cfg.Nodes, n)
	}
	if o.Configure != nil {
		o.Configure(&cfg)
	}
	return cfg, cfg.Validate()
}

// freePodBlock picks R for a pod CIDR 10.R.0.0/16 that no route on this
// machine overlaps (another lab's bridge), avoiding the default lab's 10.244.
func freePodBlock() (int, error) {
	routes := routedPrefixes()
	for range 200 {
		r := 100 + rand.IntN(150)
		if r == 244 {
			continue
		}
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(r), 0, 0}), 16)
		free := true
		for _, q := range routes {
			if q.Bits() > 0 && p.Overlaps(q) {
				free = false
				break
			}
		}
		if free {
			return r, nil
		}
	}
	return 0, errors.New("labtest: no free 10.R.0.0/16 pod network left on this machine")
}

// routedPrefixes reads the IPv4 routing table (/proc/net/route).
func routedPrefixes() []netip.Prefix {
	b, err := os.ReadFile("/proc/net/route")
	if err != nil {
		return nil
	}
	var out []netip.Prefix
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		dst, err1 := strconv.ParseUint(f[1], 16, 32)
		mask, err2 := strconv.ParseUint(f[7], 16, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		// Little-endian words: the first byte of the address is the lowest.
		a := netip.AddrFrom4([4]byte{byte(dst), byte(dst >> 8), byte(dst >> 16), byte(dst >> 24)})
		bits := 0
		for m := mask; m != 0; m >>= 1 {
			bits += int(m & 1)
		}
		out = append(out, netip.PrefixFrom(a, bits))
	}
	return out
}

// Prerequisites says which programs the lab needs and are missing.
func Prerequisites(cfg labconfig.Config) error {
	var missing []string
	if cfg.Nginx.Enabled {
		bin := cfg.Nginx.Binary
		if bin == "" {
			bin = "/usr/sbin/nginx"
		}
		if _, err := os.Stat(bin); err != nil {
			missing = append(missing, bin+" (Debian package nginx)")
		}
	}
	if cfg.Kubernetes.Enabled {
		if _, err := exec.LookPath("ip"); err != nil {
			missing = append(missing, "ip (Debian package iproute2)")
		}
		for _, b := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"} {
			if _, err := labkube.Binary(cfg.Kubernetes.Version, b); err != nil {
				missing = append(missing, err.Error())
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s; run `make deps`", ErrPrerequisite, strings.Join(missing, ", "))
	}
	return nil
}

// Start writes a fresh lab config into a new temporary directory and runs
// `switchyard lab up` on it. When up fails, whatever started is stopped.
func Start(o Options) (*Lab, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "switchyard-lab-")
	if err != nil {
		return nil, err
	}
	cfg, err := Config(dir, o)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("labtest: generated config is invalid: %w", err)
	}
	if err := Prerequisites(cfg); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}

	file := cfg
	file.Dir = "."
	b, err := file.Marshal()
	if err != nil {
		return nil, err
	}
	l := &Lab{Bin: bin, Dir: dir, ConfigPath: filepath.Join(dir, "lab.yaml"), Config: cfg, opts: o,
		MarathonURL: cfg.Marathon.URL(), MesosURL: cfg.Mesos.URL(), SwitchyardConfig: filepath.Join(dir, "switchyard-config.yaml")}
	if cfg.Nginx.Enabled {
		l.LBURL, l.LBAdminURL = "http://"+cfg.Nginx.Listen, "http://"+cfg.Nginx.Admin
		l.LBTokenFile = labnginx.LayoutFor(cfg).TokenFile
	}
	if cfg.Kubernetes.Enabled {
		l.Kubeconfig = lab.Kubeconfig(cfg)
	}
	if err := os.WriteFile(l.ConfigPath, b, 0o644); err != nil {
		return nil, err
	}
	args := []string{"lab", "up"}
	if o.Demo {
		root, err := moduleRoot()
		if err != nil {
			return nil, err
		}
		args = append(args, "--demo", "--examples", filepath.Join(root, "examples"))
	}
	timeout := o.UpTimeout
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	t0 := time.Now()
	out, err := l.run(timeout, args...)
	l.UpDuration = time.Since(t0)
	l.UpOutput = out
	if err != nil {
		// lab up stops what it started; lab down makes sure, and the
		// directory goes when nothing is left (its log tails are in out).
		downOut, derr := l.run(2*time.Minute, "lab", "down")
		if derr == nil && len(Leftovers(cfg)) == 0 {
			os.RemoveAll(dir)
		}
		return nil, fmt.Errorf("labtest: lab up in %s failed: %w\n--- lab up:\n%s--- lab down (%v):\n%s", dir, err, out, derr, downOut)
	}
	if l.MarathonToken, err = cfg.MarathonToken(); err != nil {
		l.Stop()
		return nil, fmt.Errorf("labtest: %w", err)
	}
	return l, nil
}

// Run runs `switchyard ARGS --lab-dir DIR` and returns its combined output.
func (l *Lab) Run(args ...string) (string, error) {
	return l.run(5*time.Minute, args...)
}

func (l *Lab) run(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, l.Bin, append(args, "--lab-dir", l.Dir)...)
	cmd.Env = append(cleanEnv(), config.EnvConfig+"="+l.SwitchyardConfig)
	var buf bytes.Buffer
	var w io.Writer = &buf
	if l.opts.Log != nil {
		w = io.MultiWriter(&buf, l.opts.Log)
	}
	cmd.Stdout, cmd.Stderr = w, w
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s timed out after %s", strings.Join(args, " "), timeout)
	}
	return buf.String(), err
}

// contextEnv are the variables that choose or override a switchyard
// context (besides the lab's own, which cleanEnv also drops).
var contextEnv = map[string]bool{config.EnvConfig: true, config.EnvJournal: true, config.EnvLBTokenFile: true,
	"DCOS_URL": true, "DCOS_ACS_TOKEN": true, "DCOS_SSL_VERIFY": true}

// cleanEnv is the test's environment without another lab's settings, nor
// the variables that choose or override a switchyard context.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if contextEnv[k] {
			continue
		}
		switch k {
		case labconfig.MarkerEnv, "SWITCHYARD_LAB_DIR", "MARATHON_URL", "MESOS_MASTER_URL", "KUBECONFIG", "SWITCHYARD_LB", "SWITCHYARD_LB_ADMIN", "SWITCHYARD_LB_TOKEN_FILE":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// Env returns the environment a client of this lab runs with: the test's
// environment plus what `lab env` exports (DCOS_ACS_TOKEN included when the
// lab Marathon requires a token) and SWITCHYARD_CONFIG=l.SwitchyardConfig.
func (l *Lab) Env() []string {
	env := append(cleanEnv(), config.EnvConfig+"="+l.SwitchyardConfig)
	for _, v := range lab.Env(l.Config) {
		env = append(env, v.Name+"="+v.Value)
	}
	return env
}

// Stop runs `switchyard lab down` and checks that nothing of the lab is left:
// no process carrying its marker, no listener on its ports or node addresses,
// no network namespace named after it. The lab directory is removed when
// everything is gone.
func (l *Lab) Stop() error {
	if l == nil || l.stopped {
		return nil
	}
	l.stopped = true
	out, err := l.run(5*time.Minute, "lab", "down")
	var problems []string
	if err != nil {
		problems = append(problems, fmt.Sprintf("lab down failed: %v\n%s", err, out))
	}
	problems = append(problems, Leftovers(l.Config)...)
	if len(problems) > 0 {
		// Do not leave a broken lab running after the test process.
		for _, id := range proc.FindByEnv(lab.Marker(l.Config)) {
			proc.StopID(id, time.Second, nil)
		}
		return fmt.Errorf("labtest: lab %s (%s) was not stopped cleanly:\n  %s", l.Config.ID, l.Dir, strings.Join(problems, "\n  "))
	}
	return os.RemoveAll(l.Dir)
}

// Leftovers lists what of the lab is still there: processes carrying its
// marker, listeners on its ports or node addresses, its pod network
// namespaces and its pod bridge.
func Leftovers(cfg labconfig.Config) []string {
	var out []string
	for _, id := range proc.FindLab(lab.Marker(cfg), cfg.Dir) {
		out = append(out, "process still runs: "+proc.Describe(id.PID))
	}
	for _, a := range lab.Leftovers(cfg, nil, nodeAgentAddrs(cfg)) {
		out = append(out, "still listening: "+a)
	}
	if cfg.Kubernetes.Enabled {
		if nw, err := labnodeagent.NetworkFor(cfg); err == nil {
			if ents, err := os.ReadDir("/run/netns"); err == nil {
				for _, e := range ents {
					if strings.HasPrefix(e.Name(), nw.NetnsPrefix) {
						out = append(out, "pod network namespace left: "+e.Name())
					}
				}
			}
			if _, err := os.Stat("/sys/class/net/" + nw.Bridge); err == nil {
				out = append(out, "pod bridge left: "+nw.Bridge)
			}
		}
	}
	return out
}

func nodeAgentAddrs(cfg labconfig.Config) []string {
	if !cfg.Kubernetes.Enabled {
		return nil
	}
	var out []string
	for i := range len(cfg.Nodes) + 1 {
		out = append(out, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(cfg.Kubernetes.NodeAgentBasePort+i)).String())
	}
	return out
}

// Main starts one lab for the test package, runs its tests and stops the
// lab (failing the run when something was left behind). *dst is the lab, or
// nil under -short (no lab is started) or when a prerequisite is missing
// outside CI (under CI that fails the run); tests then skip via Need. Use it
// as os.Exit(labtest.Main(m, opts, &theLab)).
func Main(m *testing.M, o Options, dst **Lab) int {
	if testenv.Short() {
		skipReason = "-short: no lab started (make test runs it)"
		return m.Run()
	}
	l, err := Start(o)
	if err != nil {
		if errors.Is(err, ErrPrerequisite) && testenv.MayRunWithout(err) {
			skipReason = err.Error()
			return m.Run()
		}
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	*dst = l
	code := m.Run()
	if err := l.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

var skipReason string

// Need returns l, or skips the test when Main started no lab: under -short,
// or because a prerequisite is missing (never in CI, where that fails).
func Need(t testing.TB, l *Lab) *Lab {
	t.Helper()
	if l == nil {
		if skipReason != "" {
			t.Skip("no lab: " + skipReason)
		}
		t.Fatal("no lab: call labtest.Main from TestMain")
	}
	return l
}

// StartT starts a lab for one test and stops it (checking that nothing is
// left) when the test ends. Under -short, or when a prerequisite is missing
// outside CI, it skips the test. Prefer one lab per package through Main.
func StartT(t testing.TB, o Options) *Lab {
	t.Helper()
	testenv.SkipIfShort(t, "a lab")
	l, err := Start(o)
	if errors.Is(err, ErrPrerequisite) {
		testenv.Prerequisite(t, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Stop(); err != nil {
			t.Error(err)
		}
	})
	return l
}
