// Package testenv owns what a test may assume of the machine it runs on, in
// one place (as the standard library's internal/testenv does for Go's own
// tests):
//
//   - A missing prerequisite (nginx, wrk, the cached Kubernetes binaries,
//     root, the ../shared data) skips the test on a developer's machine and
//     fails it under CI, where .ci/run installs everything and a skip would
//     hide a test that never ran: Prerequisite and Missing in a test,
//     MayRunWithout in a TestMain.
//   - -short (`go test -short ./...`, the fast loop) skips every test that
//     starts a lab or another real server process (nginx, etcd,
//     kube-apiserver, the lab Marathon and its tasks, wrk): SkipIfShort in a
//     test or a test helper, Short in a TestMain.
//   - Free loopback ports for the servers a test starts, never the same
//     twice in a process: FreePorts, FreeAddr, FreePort, FreeBlock; and
//     CanListen, whether a port is free now.
//   - Waiting for an outcome: Eventually and EventuallyNil poll a
//     condition until a deadline (tests never sleep a guess and assert).
//
// It starts no process and opens listeners only to find free ports; only
// tests and test-support packages (lab/labtest, lab/nginx/nginxtest,
// etcdtest, ...) import it.
package testenv

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
)

// CI reports whether the tests run under continuous integration: the
// environment variable CI is non-empty (.ci/run runs with CI=true).
func CI() bool { return os.Getenv("CI") != "" }

// Prerequisite does nothing when err is nil. Otherwise err says what t
// needs and is missing (and how to install it): under CI the test fails,
// elsewhere it is skipped.
func Prerequisite(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if CI() {
		t.Fatalf("CI is set and a prerequisite is missing: %v", err)
	}
	t.Skipf("skipped, prerequisite missing (CI runs it): %v", err)
}

// Missing is Prerequisite for a reason given as a format: t needs something
// that is not there.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	Prerequisite(t, fmt.Errorf(format, args...))
}

// MayRunWithout is Prerequisite for a TestMain, which has no testing.TB:
// err says what the package's shared setup (a lab, a control plane) lacks.
// Outside CI it prints err and returns true: the package runs on and the
// tests that need the setup skip (the TestMain keeps err for them). Under
// CI it returns false, and the TestMain fails the run.
func MayRunWithout(err error) bool {
	if CI() {
		return false
	}
	fmt.Fprintf(os.Stderr, "prerequisite missing, the tests that need it skip (CI runs them): %v\n", err)
	return true
}

// SkipIfShort skips t under -short: it starts what (a lab, nginx, a
// Kubernetes control plane, lab Marathon tasks, wrk), which the fast loop
// never does; the full suite (make test, CI) runs it.
func SkipIfShort(t testing.TB, what string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("-short: starts %s (make test runs it)", what)
	}
}

// Short is testing.Short for a TestMain: it parses the command line first
// when nothing has yet (testing.Short panics before, and m.Run is what
// parses it otherwise).
func Short() bool {
	if !flag.Parsed() {
		flag.Parse()
	}
	return testing.Short()
}

// FreePorts returns n distinct TCP ports that were free on 127.0.0.1 a
// moment ago and that this process has not handed out before (two labs
// configured one after the other never share a port). Another process may
// take one before the caller listens on it: a server that can listen on
// port 0 itself should.
func FreePorts(n int) ([]int, error) { return freePorts("127.0.0.1", n) }

// FreeAddr returns ip:port with a TCP port that was free on ip a moment ago
// and not handed out before; t fails when there is none.
func FreeAddr(t testing.TB, ip string) string {
	t.Helper()
	ports, err := freePorts(ip, 1)
	if err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort(ip, strconv.Itoa(ports[0]))
}

// FreePort returns a TCP port that was free on 127.0.0.1 a moment ago and
// not handed out before; t fails when there is none.
func FreePort(t testing.TB) int {
	t.Helper()
	ports, err := FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	return ports[0]
}

// FreeBlock returns the first of n consecutive TCP ports that were free on
// 127.0.0.1 a moment ago, below the ephemeral range (20000-29999, where
// the kernel hands out no port of its own), and that this process has not
// handed out before (for servers that take a base port and the ones after
// it, such as etcd's client and peer ports).
func FreeBlock(n int) (int, error) {
	handedOut.Lock()
	defer handedOut.Unlock()
	for try := range 400 {
		if try == 200 { // nearly every block was handed out: start over
			handedOut.ports = map[int]bool{}
		}
		base := 20000 + rand.IntN(10000-n)
		ok := true
		for p := base; p < base+n && ok; p++ {
			ok = !handedOut.ports[p] && CanListen(net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		}
		if ok {
			for p := base; p < base+n; p++ {
				handedOut.ports[p] = true
			}
			return base, nil
		}
	}
	return 0, fmt.Errorf("no block of %d free ports found on 127.0.0.1 in 20000-29999", n)
}

// CanListen reports whether a TCP listener on addr (host:port) can be
// opened now: the port is free (e.g. a stopped server let go of it).
func CanListen(addr string) bool {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// handedOut are the ports FreePorts, FreeAddr, FreePort and FreeBlock
// returned in this process (the kernel may offer a port again once its
// listener is closed), until nearly all were: then it starts over.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// freePorts picks n ports on ip: it listens on port 0, holding every
// listener until it returns so that the kernel offers a new port each time,
// and skips the ports handed out before.
func freePorts(ip string, n int) ([]int, error) {
	handedOut.Lock()
	defer handedOut.Unlock()
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for len(ports) < n {
		if len(ls) == n+1000 { // nearly every port was handed out: start over
			handedOut.ports = map[int]bool{}
		}
		l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			return nil, fmt.Errorf("pick a free port on %s: %w", ip, err)
		}
		ls = append(ls, l)
		if p := l.Addr().(*net.TCPAddr).Port; !handedOut.ports[p] {
			ports = append(ports, p)
		}
	}
	for _, p := range ports {
		handedOut.ports[p] = true
	}
	return ports, nil
}

// NobodyUID is the uid (and gid) tests use for "another local user".
const NobodyUID = 65534

// TestAsNobody returns a command that runs this test binary's test run
// (a -test.run pattern) as uid and gid NobodyUID, in a copy of the binary
// placed where that user can reach it (the build cache is not): a fresh
// directory of mode 0755 under the system's temporary directory, removed
// when t ends, which is also the command's working directory. The
// caller sets the environment and starts it; only root can.
func TestAsNobody(t testing.TB, run string) *exec.Cmd {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "as-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, filepath.Base(self))
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run="+run)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: NobodyUID, Gid: NobodyUID}}
	return cmd
}
