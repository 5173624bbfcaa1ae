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
//   - Free loopback ports for the servers a test starts: FreePorts,
//     FreeAddr, FreePort.
//
// It starts nothing and reads nothing but the environment; only tests and
// test-support packages (lab/labtest, lab/nginx/nginxtest, ...) import it.
package testenv

import (
	"flag"
	"fmt"
	"net"
	"os"
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
// moment ago (held open together while chosen, so they differ). Another
// process may take one before the caller listens on it: a server that can
// listen on port 0 itself should.
func FreePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("pick a free port on 127.0.0.1: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// FreeAddr returns ip:port with a TCP port that was free on ip a moment
// ago; t fails when there is none.
func FreeAddr(t testing.TB, ip string) string {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatalf("pick a free port on %s: %v", ip, err)
	}
	defer l.Close()
	return l.Addr().String()
}

// FreePort returns a TCP port that was free on 127.0.0.1 a moment ago; t
// fails when there is none.
func FreePort(t testing.TB) int {
	t.Helper()
	ports, err := FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	return ports[0]
}
