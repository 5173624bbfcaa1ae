package kube

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/testenv"
	"github.com/switchyard/switchyard/lab/component"
	"github.com/switchyard/switchyard/lab/labconfig"
	"github.com/switchyard/switchyard/lab/proc"
)

// testCluster is a control plane started by the tests themselves with the
// component Specs of this package (the lab supervisor lives elsewhere).
type testCluster struct {
	cfg     labconfig.Config
	specs   []component.Spec
	procs   map[string]*proc.Process
	started time.Duration            // start to all ready
	readyIn map[string]time.Duration // per component: process start to ready
}

// testConfig returns a lab config in dir with free loopback ports.
func testConfig(dir string, kwokNodes int) (labconfig.Config, error) {
	ports, err := testenv.FreePorts(5)
	if err != nil {
		return labconfig.Config{}, err
	}
	cfg := labconfig.Default()
	cfg.ID = "kube-test-" + strconv.Itoa(os.Getpid()) + "-" + filepath.Base(dir)
	cfg.Dir = dir
	cfg.Kubernetes.EtcdClientPort = ports[0]
	cfg.Kubernetes.EtcdPeerPort = ports[1]
	cfg.Kubernetes.APIServerPort = ports[2]
	cfg.Kubernetes.ControllerManagerPort = ports[3]
	cfg.Kubernetes.SchedulerPort = ports[4]
	cfg.Kubernetes.KwokNodes = kwokNodes
	return cfg, cfg.Validate()
}

// requireBinaries skips under -short (the callers start a control plane),
// and skips (or, in CI, fails) when the cached binaries or etcd are missing.
func requireBinaries(tb testing.TB, kwok bool) {
	tb.Helper()
	testenv.SkipIfShort(tb, "a Kubernetes control plane (etcd, kube-apiserver...)")
	names := append([]string{}, kubeBinaries...)
	names = append(names, "kubectl")
	if kwok {
		names = append(names, "kwok")
	}
	var errs []error
	for _, n := range names {
		if _, err := Binary(PinnedVersion, n); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		testenv.Missing(tb, "%v (run scripts/build-kube.sh)", err)
	}
}

// startCluster starts every component in order, waiting for each to be ready.
func startCluster(ctx context.Context, cfg labconfig.Config) (*testCluster, error) {
	specs, err := Components(cfg, "")
	if err != nil {
		return nil, err
	}
	c := &testCluster{cfg: cfg, specs: specs, procs: map[string]*proc.Process{}, readyIn: map[string]time.Duration{}}
	t0 := time.Now()
	for _, s := range specs {
		if err := c.startOne(ctx, s); err != nil {
			c.stop()
			return nil, err
		}
	}
	c.started = time.Since(t0)
	return c, nil
}

func (c *testCluster) startOne(ctx context.Context, s component.Spec) error {
	for _, dep := range s.After {
		if _, ok := c.procs[dep]; !ok {
			return fmt.Errorf("%s: dependency %s not started", s.Name, dep)
		}
	}
	if s.Prepare != nil {
		if err := s.Prepare(ctx); err != nil {
			return fmt.Errorf("%s: prepare: %w", s.Name, err)
		}
	}
	logPath := c.cfg.Path("logs", s.Name+".log")
	p, err := proc.Start(proc.Spec{Argv: s.Argv, Env: append(os.Environ(), s.Env...), Dir: c.cfg.Dir, LogPath: logPath})
	if err != nil {
		return fmt.Errorf("%s: %w", s.Name, err)
	}
	c.procs[s.Name] = p
	t0 := time.Now()
	timeout := s.ReadyTimeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	deadline := time.Now().Add(timeout)
	for {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := s.Ready(pctx)
		cancel()
		if err == nil {
			c.readyIn[s.Name] = time.Since(t0)
			if s.Configure != nil {
				if err := s.Configure(ctx); err != nil {
					return fmt.Errorf("%s: configure: %w", s.Name, err)
				}
			}
			return nil
		}
		select {
		case <-p.Done():
			return fmt.Errorf("%s exited (%s) before ready: %w\n%s", s.Name, p.Exit(), err, tail(logPath))
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s: %w\n%s", s.Name, timeout, err, tail(logPath))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop stops the components in reverse order.
func (c *testCluster) stop() {
	for i := len(c.specs) - 1; i >= 0; i-- {
		if p, ok := c.procs[c.specs[i].Name]; ok {
			p.Stop(10 * time.Second)
		}
	}
}

// rssMiB returns each component's resident memory in MiB.
func (c *testCluster) rssMiB() map[string]float64 {
	out := map[string]float64{}
	for name, p := range c.procs {
		data, err := os.ReadFile("/proc/" + strconv.Itoa(p.ID().PID) + "/status")
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
				kb, _ := strconv.ParseFloat(f[1], 64)
				out[name] = kb / 1024
			}
		}
	}
	return out
}

func tail(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > 25 {
		lines = lines[len(lines)-25:]
	}
	return "--- last lines of " + path + ":\n" + strings.Join(lines, "\n")
}

// The package's integration tests share one control plane with kwok nodes.
const sharedKwokNodes = 20

var shared struct {
	once    sync.Once
	dir     string
	cluster *testCluster
	err     error
}

// sharedCluster returns the package's control plane, starting it on first use.
func sharedCluster(t *testing.T) *testCluster {
	t.Helper()
	requireBinaries(t, true)
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "kube-test-")
		if shared.err != nil {
			return
		}
		cfg, err := testConfig(shared.dir, sharedKwokNodes)
		if err != nil {
			shared.err = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		shared.cluster, shared.err = startCluster(ctx, cfg)
		if shared.err == nil {
			t.Logf("control plane with %d kwok nodes ready in %s; RSS MiB: %v", sharedKwokNodes, shared.cluster.started.Round(time.Millisecond), shared.cluster.rssMiB())
		}
	})
	if shared.err != nil {
		t.Fatalf("start control plane: %v", shared.err)
	}
	return shared.cluster
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.cluster != nil {
		shared.cluster.stop()
	}
	if shared.dir != "" {
		if code != 0 {
			fmt.Fprintf(os.Stderr, "kube tests failed; control-plane logs kept in %s\n", filepath.Join(shared.dir, "logs"))
		} else {
			os.RemoveAll(shared.dir)
		}
	}
	os.Exit(code)
}
