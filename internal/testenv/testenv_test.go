package testenv

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fakeTB records how a helper ended a test: Fatalf and Skipf end the
// goroutine, as they do in a real test.
type fakeTB struct {
	testing.TB
	outcome, msg string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatal(args ...any) {
	f.outcome, f.msg = "fail", fmt.Sprint(args...)
	runtime.Goexit()
}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.outcome, f.msg = "fail", fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (f *fakeTB) Skipf(format string, args ...any) {
	f.outcome, f.msg = "skip", fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run calls fn with a fakeTB in its own goroutine and returns the fake.
func run(fn func(testing.TB)) *fakeTB {
	f := &fakeTB{outcome: "pass"}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	return f
}

func TestPrerequisite(t *testing.T) {
	missing := errors.New("/usr/sbin/nginx missing (Debian package nginx)")
	for _, tc := range []struct {
		name, ci    string
		call        func(testing.TB)
		wantOutcome string
		wantMsg     string
	}{
		{name: "present", ci: "", call: func(tb testing.TB) { Prerequisite(tb, nil) }, wantOutcome: "pass"},
		{name: "present under CI", ci: "true", call: func(tb testing.TB) { Prerequisite(tb, nil) }, wantOutcome: "pass"},
		{name: "missing skips", ci: "", call: func(tb testing.TB) { Prerequisite(tb, missing) }, wantOutcome: "skip", wantMsg: "Debian package nginx"},
		{name: "missing fails under CI", ci: "true", call: func(tb testing.TB) { Prerequisite(tb, missing) }, wantOutcome: "fail", wantMsg: "CI is set and a prerequisite is missing: /usr/sbin/nginx"},
		{name: "Missing skips", ci: "", call: func(tb testing.TB) { Missing(tb, "wrk is not installed (%s)", "Debian package wrk") }, wantOutcome: "skip", wantMsg: "wrk is not installed (Debian package wrk)"},
		{name: "Missing fails under CI", ci: "1", call: func(tb testing.TB) { Missing(tb, "needs root") }, wantOutcome: "fail", wantMsg: "needs root"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			f := run(tc.call)
			if f.outcome != tc.wantOutcome || !strings.Contains(f.msg, tc.wantMsg) {
				t.Fatalf("got %s %q, want %s with %q", f.outcome, f.msg, tc.wantOutcome, tc.wantMsg)
			}
		})
	}
}

func TestMayRunWithout(t *testing.T) {
	for _, tc := range []struct {
		ci   string
		want bool
	}{{"", true}, {"true", false}} {
		t.Run("CI="+tc.ci, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			if got := MayRunWithout(errors.New("etcd missing")); got != tc.want {
				t.Fatalf("MayRunWithout = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSkipIfShort(t *testing.T) {
	want := "pass"
	if testing.Short() {
		want = "skip"
	}
	if f := run(func(tb testing.TB) { SkipIfShort(tb, "a lab") }); f.outcome != want {
		t.Fatalf("short=%v: got %s %q, want %s", testing.Short(), f.outcome, f.msg, want)
	}
	if Short() != testing.Short() { // flags are parsed in a test: the same answer
		t.Fatal("Short differs from testing.Short")
	}
}

// TestFreePortsAndBlocks: the ports are distinct, free, and a block's are
// consecutive below the ephemeral range.
func TestFreePortsAndBlocks(t *testing.T) {
	block := func(n int) ([]int, error) {
		base, err := FreeBlock(n)
		var ports []int
		for p := base; err == nil && p < base+n; p++ {
			ports = append(ports, p)
		}
		return ports, err
	}
	for _, tc := range []struct {
		name     string
		pick     func(n int) ([]int, error)
		n        int
		min, max int
	}{
		{"FreePorts 0", FreePorts, 0, 1, 65535},
		{"FreePorts 1", FreePorts, 1, 1, 65535},
		{"FreePorts 7", FreePorts, 7, 1, 65535},
		{"FreeBlock 1", block, 1, 20000, 29999},
		{"FreeBlock 4", block, 4, 20000, 29999},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ports, err := tc.pick(tc.n)
			if err != nil {
				t.Fatal(err)
			}
			if len(ports) != tc.n {
				t.Fatalf("got %d ports, want %d", len(ports), tc.n)
			}
			seen := map[int]bool{}
			for _, p := range ports {
				if p < tc.min || p > tc.max || seen[p] {
					t.Fatalf("ports %v: %d outside %d-%d or repeated", ports, p, tc.min, tc.max)
				}
				seen[p] = true
				if !CanListen(net.JoinHostPort("127.0.0.1", strconv.Itoa(p))) {
					t.Fatalf("port %d is not free", p)
				}
			}
		})
	}
}

func TestCanListen(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{addr: held.Addr().String(), want: false},
		{addr: FreeAddr(t, "127.0.0.1"), want: true},
		{addr: "192.0.2.1:80", want: false}, // not an address of this machine
	} {
		if got := CanListen(tc.addr); got != tc.want {
			t.Errorf("CanListen(%s) = %v, want %v", tc.addr, got, tc.want)
		}
	}
}

// TestPortsAreNeverHandedOutTwice: the kernel may offer a closed port again
// at once; FreePorts, FreeAddr, FreePort and FreeBlock never return it twice.
func TestPortsAreNeverHandedOutTwice(t *testing.T) {
	seen := map[int]string{}
	note := func(p int, how string) {
		t.Helper()
		if prev, dup := seen[p]; dup {
			t.Fatalf("port %d handed out by %s, already by %s", p, how, prev)
		}
		seen[p] = how
	}
	for i := range 50 {
		ports, err := FreePorts(10)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ports {
			note(p, fmt.Sprintf("FreePorts call %d", i))
		}
		_, port, _ := net.SplitHostPort(FreeAddr(t, "127.0.0.1"))
		p, _ := strconv.Atoi(port)
		note(p, fmt.Sprintf("FreeAddr call %d", i))
		note(FreePort(t), fmt.Sprintf("FreePort call %d", i))
		base, err := FreeBlock(3)
		if err != nil {
			t.Fatal(err)
		}
		for p := base; p < base+3; p++ {
			note(p, fmt.Sprintf("FreeBlock call %d", i))
		}
	}
}

func TestFreeAddrAndPort(t *testing.T) {
	for _, ip := range []string{"127.0.0.1", "127.0.0.2"} {
		t.Run(ip, func(t *testing.T) {
			a := FreeAddr(t, ip)
			host, _, err := net.SplitHostPort(a)
			if err != nil || host != ip {
				t.Fatalf("FreeAddr(%s) = %q (%v)", ip, a, err)
			}
			if !CanListen(a) {
				t.Fatalf("%s is not free", a)
			}
		})
	}
	if p := FreePort(t); !CanListen("127.0.0.1:" + strconv.Itoa(p)) {
		t.Fatalf("port %d is not free", p)
	}
	if f := run(func(tb testing.TB) { FreeAddr(tb, "192.0.2.1") }); f.outcome != "fail" || !strings.Contains(f.msg, "192.0.2.1") {
		t.Fatalf("FreeAddr on an address not on this machine: %s %q, want a failure naming it", f.outcome, f.msg)
	}
}

func TestEventually(t *testing.T) {
	n := 0
	Eventually(t, 5*time.Second, time.Millisecond, "three polls", func() (bool, string) { n++; return n == 3, "" })
	if n != 3 {
		t.Fatalf("cond called %d times, want 3", n)
	}
	f := run(func(tb testing.TB) {
		EventuallyNil(tb, 20*time.Millisecond, time.Millisecond, "the impossible", func() error { return errors.New("still no") })
	})
	if f.outcome != "fail" || !strings.Contains(f.msg, "timed out after 20ms waiting for the impossible; last: still no") {
		t.Fatalf("a condition that never holds: %s, %q", f.outcome, f.msg)
	}
}
