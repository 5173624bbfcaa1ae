package marathon

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/testenv"
	"github.com/switchyard/switchyard/lab/labconfig"
	"github.com/switchyard/switchyard/lab/proc"
)

// TestServer is a lab Marathon running in-process for other packages'
// integration tests: real scheduler, real task processes, real HTTP on
// ephemeral loopback ports.
type TestServer struct {
	// Server is the running lab Marathon.
	*Server
	// Config is the lab config it runs with (listen addresses filled in).
	Config labconfig.Config
	// URL is the Marathon API base URL, e.g. http://127.0.0.1:41234.
	URL string
	// MesosURL is the Mesos master view base URL.
	MesosURL string

	t       testing.TB
	opts    Options
	cancel  context.CancelFunc
	done    chan error
	stopped bool
	mu      sync.Mutex
}

// TestConfig returns a lab config for tests: n nodes on random loopback
// addresses (127.a.b.c, so tests running at once do not share ports), each
// with 4 cpus, 4096 MiB, 10 GiB disk and ports 20000-20999, attributes rack
// (r1/r2 alternating) and zone; Kubernetes and nginx disabled; a unique lab
// ID; the directory a fresh t.TempDir().
func TestConfig(t testing.TB, n int) labconfig.Config {
	t.Helper()
	cfg := labconfig.Default()
	// The test process's pid in the ID lets SweepOrphans find the tasks of
	// a test process that was killed before its cleanups ran.
	cfg.ID = fmt.Sprintf("%s%d-%08x", testIDPrefix, os.Getpid(), rand.Uint32())
	cfg.Dir = t.TempDir()
	// Run as root, the lab's tasks run as its unprivileged task user, who
	// must be able to pass through the test's temporary directory.
	if os.Geteuid() == 0 {
		if err := os.Chmod(filepath.Dir(cfg.Dir), 0o711); err != nil {
			t.Fatal(err)
		}
	}
	cfg.Kubernetes.Enabled = false
	cfg.Nginx.Enabled = false
	cfg.Nodes = nil
	a, b := 2+rand.IntN(250), 1+rand.IntN(250)
	for i := 1; i <= n; i++ {
		cfg.Nodes = append(cfg.Nodes, labconfig.Node{
			Name:       fmt.Sprintf("node-%d", i),
			Address:    fmt.Sprintf("127.%d.%d.%d", a, b, i),
			Resources:  labconfig.Resources{CPUs: 4, Mem: 4096, Disk: 10240},
			Ports:      []labconfig.PortRange{{Begin: 20000, End: 20999}},
			Attributes: map[string]string{"rack": fmt.Sprintf("r%d", (i-1)%2+1), "zone": "test"},
		})
	}
	return cfg
}

// StartForTest starts the lab Marathon for cfg (see TestConfig) on
// ephemeral ports of 127.0.0.1 (cfg's listen addresses are replaced; the
// TestServer's Config and URLs carry the real ones). The test's cleanup
// stops the server and every process the lab started (found by the lab
// marker). Under -short it skips the test.
func StartForTest(t testing.TB, cfg labconfig.Config) *TestServer {
	t.Helper()
	return StartForTestWith(t, cfg, Options{TickInterval: 50 * time.Millisecond, HealthRetry: 200 * time.Millisecond, Logf: t.Logf})
}

// StartForTestWith is StartForTest with explicit Options. Under -short it
// skips the test: the server runs its tasks as real processes.
func StartForTestWith(t testing.TB, cfg labconfig.Config, opts Options) *TestServer {
	t.Helper()
	testenv.SkipIfShort(t, "a lab Marathon (its tasks are real processes)")
	ts := &TestServer{t: t, opts: opts, Config: cfg}
	ts.start(false)
	t.Cleanup(func() {
		ts.Stop()
		proc.Sweep(labconfig.MarkerEnv+"="+ts.Config.ID, 2*time.Second, nil, nil)
		// A killed process's sockets close as it exits: give that a moment.
		left := Leftovers(ts.Config)
		for deadline := time.Now().Add(5 * time.Second); len(left) > 0 && time.Now().Before(deadline); left = Leftovers(ts.Config) {
			time.Sleep(50 * time.Millisecond)
		}
		if len(left) > 0 {
			t.Errorf("lab marathon test server %s left behind:\n  %s", ts.Config.ID, strings.Join(left, "\n  "))
			for _, id := range proc.FindByCwd(ts.Config.Dir) {
				proc.StopID(id, time.Second, nil)
			}
		}
	})
	return ts
}

// testIDPrefix starts the ID of every TestConfig lab: "sy-test-PID-RANDOM".
const testIDPrefix = "sy-test-"

// SweepOrphans stops the processes of test labs whose test process is gone
// (killed by a timeout or a signal, so its cleanups never ran) and returns
// what it stopped. A package's TestMain calls it first, so an interrupted
// run leaves nothing behind for longer than the next one.
func SweepOrphans() []string {
	var out []string
	orphaned := func(pid int) bool {
		owner, ok := testLabOwner(pid)
		return ok && owner != os.Getpid() && !processExists(owner)
	}
	for _, id := range proc.Find(orphaned) {
		out = append(out, "process "+proc.Describe(id.PID))
		proc.StopID(id, time.Second, nil)
	}
	return out
}

// testLabOwner returns the test process that started pid's test lab, from
// the lab marker in pid's environment (sy-test-OWNER-RANDOM).
func testLabOwner(pid int) (int, bool) {
	id, ok := proc.Getenv(pid, labconfig.MarkerEnv)
	rest, isTest := strings.CutPrefix(id, testIDPrefix)
	if !ok || !isTest {
		return 0, false
	}
	owner, _, ok := strings.Cut(rest, "-")
	if n, err := strconv.Atoi(owner); ok && err == nil && n > 0 {
		return n, true
	}
	return 0, false
}

func processExists(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// Leftovers lists what a stopped lab Marathon's tasks left running: a
// process carrying the lab's marker or working inside the lab directory
// (a task's sandbox), or a listener on one of the lab's node addresses.
func Leftovers(cfg labconfig.Config) []string {
	var out []string
	for _, id := range proc.FindLab(labconfig.MarkerEnv+"="+cfg.ID, cfg.Dir) {
		out = append(out, "process "+proc.Describe(id.PID))
	}
	nodes := map[string]bool{}
	for _, n := range cfg.Nodes {
		nodes[n.Address] = true
	}
	for _, l := range proc.Listeners() {
		if nodes[l.Addr.Addr().String()] {
			out = append(out, "listener "+l.Addr.String())
		}
	}
	return out
}

func (ts *TestServer) start(reuse bool) {
	t := ts.t
	t.Helper()
	listen := func(addr string) net.Listener {
		if !reuse {
			addr = "127.0.0.1:0"
		}
		var l net.Listener
		var err error
		for i := 0; i < 50; i++ {
			if l, err = net.Listen("tcp", addr); err == nil {
				return l
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("lab marathon test server: listen %s: %v", addr, err)
		return nil
	}
	ml, sl := listen(ts.Config.Marathon.Listen), listen(ts.Config.Mesos.Listen)
	ts.Config.Marathon.Listen, ts.Config.Mesos.Listen = ml.Addr().String(), sl.Addr().String()
	ts.URL, ts.MesosURL = ts.Config.Marathon.URL(), ts.Config.Mesos.URL()
	opts := ts.opts
	opts.AdvertiseURL = ts.URL
	srv, err := New(ts.Config, opts)
	if err != nil {
		ml.Close()
		sl.Close()
		t.Fatalf("lab marathon test server: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts.Server, ts.cancel, ts.done, ts.stopped = srv, cancel, make(chan error, 1), false
	go func() { ts.done <- srv.Serve(ctx, ml, sl) }()
}

// Stop stops the server as SIGTERM does: tasks keep running.
func (ts *TestServer) Stop() {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.stopped {
		return
	}
	ts.stopped = true
	ts.cancel()
	if err := <-ts.done; err != nil {
		ts.t.Logf("lab marathon test server: %v", err)
	}
}

// Restart stops the server and starts a new one on the same lab directory
// and addresses, which re-adopts the running tasks.
func (ts *TestServer) Restart() {
	ts.t.Helper()
	ts.Stop()
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.start(true)
}
