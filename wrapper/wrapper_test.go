package wrapper

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchyard/switchyard/capacity"
	"github.com/switchyard/switchyard/internal/testenv"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestTaskFromEnv(t *testing.T) {
	full := map[string]string{"MARATHON_APP_RESOURCE_CPUS": "2", "MARATHON_APP_RESOURCE_MEM": "4096.0", "MARATHON_APP_RESOURCE_DISK": "10240",
		"HOST": "127.0.1.1", "MESOS_TASK_ID": "t1", "MESOS_SANDBOX": "/sb", "PORT0": "31000"}
	tk, err := TaskFromEnv(env(full))
	if err != nil || tk.Share != (capacity.Resources{CPUs: 2, Mem: 4096, Disk: 10240}) || tk.Host != "127.0.1.1" || tk.HealthPort != 31000 || tk.Sandbox != "/sb" || tk.TaskID != "t1" {
		t.Fatalf("task = %+v, %v", tk, err)
	}
	for _, tc := range []struct{ drop, set, val, want string }{
		{drop: "MARATHON_APP_RESOURCE_CPUS", want: "MARATHON_APP_RESOURCE_CPUS is not set"},
		{set: "MARATHON_APP_RESOURCE_MEM", val: "-1", want: `MARATHON_APP_RESOURCE_MEM="-1": want a number >= 0`},
		{set: "PORT0", val: "x", want: `PORT0="x": not a port`},
	} {
		m := map[string]string{}
		for k, v := range full {
			m[k] = v
		}
		delete(m, tc.drop)
		if tc.set != "" {
			m[tc.set] = tc.val
		}
		if _, err := TaskFromEnv(env(m)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("err = %v, want %q", err, tc.want)
		}
	}
}

func TestComputeMatchesThePlan(t *testing.T) {
	total := capacity.Resources{CPUs: 4, Mem: 8192, Disk: 20480}
	share := capacity.Resources{CPUs: 2, Mem: 4096, Disk: 10240}
	p, err := Compute("node-1", total, Task{Share: share}, capacity.DefaultOverhead())
	if err != nil {
		t.Fatal(err)
	}
	want, _ := capacity.ShareAllocatable("node-1", total, share, capacity.DefaultOverhead())
	if !p.Allocatable.Equal(want) || !p.Allocatable.Equal(capacity.Resources{CPUs: 1.9, Mem: 3740, Disk: 9216}) {
		t.Errorf("allocatable = %v, want %v", p.Allocatable, want)
	}
	back, err := capacity.ParseKubeletConfig(p.KubeletConfig)
	if err != nil || !back.SystemReserved.Equal(capacity.Resources{CPUs: 2, Mem: 4096, Disk: 10240}) {
		t.Errorf("config systemReserved = %v, %v", back.SystemReserved, err)
	}
	zero, err := Compute("node-1", total, Task{}, capacity.DefaultOverhead())
	if err != nil || !zero.Allocatable.IsZero() {
		t.Errorf("zero share: allocatable %v, %v", zero.Allocatable, err)
	}
	if _, err := Compute("node-1", total, Task{Share: capacity.Resources{CPUs: 8}}, capacity.DefaultOverhead()); err == nil || !strings.Contains(err.Error(), "node node-1: cpus") {
		t.Errorf("share over total: %v", err)
	}
	if _, err := Compute("node-1", capacity.Resources{}, Task{}, capacity.DefaultOverhead()); err == nil || !strings.Contains(err.Error(), "--total") {
		t.Errorf("no total: %v", err)
	}
}

func TestKubeletArgv(t *testing.T) {
	got := KubeletArgv("/bin/kubelet", []string{"--hostname-override={node}"}, "n1", "/c.yaml")
	if strings.Join(got, " ") != "/bin/kubelet --hostname-override=n1 --config=/c.yaml" {
		t.Errorf("argv = %v", got)
	}
	got = KubeletArgv("sy", []string{"lab", "--kubelet-config={kubelet-config}"}, "n1", "/c.yaml")
	if strings.Join(got, " ") != "sy lab --kubelet-config=/c.yaml" {
		t.Errorf("argv = %v", got)
	}
}

// script writes an executable shell script standing in for kubelet.
func script(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "kubelet.sh")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func baseOptions(t *testing.T, kubelet string) Options {
	return Options{
		Node: "n1", Total: capacity.Resources{CPUs: 4, Mem: 8192, Disk: 100},
		Overhead: capacity.DefaultOverhead(), Task: Task{Share: capacity.Resources{CPUs: 1, Mem: 1024}},
		Kubelet: kubelet, ConfigDir: t.TempDir(), Backoff: 10 * time.Millisecond, MaxBackoff: 40 * time.Millisecond,
		StopGrace: 2 * time.Second, Logger: slog.New(slog.DiscardHandler), Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{},
	}
}

// TestRunGivesUpOnCrashLoop: a kubelet that exits at once is restarted with
// backoff and the wrapper gives up after MaxFailures quick crashes.
func TestRunGivesUpOnCrashLoop(t *testing.T) {
	dir := t.TempDir()
	k := script(t, "echo run >> "+dir+"/runs\nexit 3\n")
	o := baseOptions(t, k)
	o.MaxFailures = 4
	start := time.Now()
	err := Run(context.Background(), o)
	var gu *GiveUpError
	if !errors.As(err, &gu) || gu.Failures != 4 || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("err = %v", err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "runs"))
	if n := strings.Count(string(b), "run"); n != 4 {
		t.Errorf("kubelet ran %d times, want 4", n)
	}
	// Backoff 10+20+40 ms at least between the four runs.
	if el := time.Since(start); el < 70*time.Millisecond {
		t.Errorf("no backoff: 4 runs in %v", el)
	}
}

// TestRunSupervises: the config is written and passed to kubelet, /healthz
// reports it, a crash is followed by a restart, SIGHUP is forwarded, and
// SIGTERM stops kubelet and returns.
func TestRunSupervises(t *testing.T) {
	dir := t.TempDir()
	// First run crashes, later runs wait; HUP is recorded.
	k := script(t, fmt.Sprintf(`echo "$@" > %[1]s/args
n=$(cat %[1]s/count 2>/dev/null || echo 0); n=$((n+1)); echo $n > %[1]s/count
[ $n -eq 1 ] && exit 1
trap 'echo hup >> %[1]s/signals' HUP
trap 'echo term >> %[1]s/signals; exit 0' TERM
while true; do sleep 0.05; done
`, dir))
	o := baseOptions(t, k)
	o.KubeletArgs = []string{"--node={node}"}
	port := testenv.FreePort(t)
	o.Task.Host, o.Task.HealthPort = "127.0.0.1", port
	sigs := make(chan os.Signal, 1)
	o.Signals = sigs
	ready := make(chan Setup, 1)
	o.OnReady = func(p Setup) { ready <- p }
	done := make(chan error, 1)
	go func() { done <- Run(context.Background(), o) }()
	p := <-ready
	if !p.Allocatable.Equal(capacity.Resources{CPUs: 0.9, Mem: 668}) {
		t.Errorf("allocatable = %v", p.Allocatable)
	}
	waitFor(t, "restart after the crash", func() bool { b, _ := os.ReadFile(dir + "/count"); return strings.TrimSpace(string(b)) == "2" })
	args, _ := os.ReadFile(dir + "/args")
	cfg := filepath.Join(o.ConfigDir, "kubelet-config.yaml")
	if strings.TrimSpace(string(args)) != "--node=n1 --config="+cfg {
		t.Errorf("kubelet args = %q", args)
	}
	if b, err := os.ReadFile(cfg); err != nil || !strings.Contains(string(b), "kind: KubeletConfiguration") {
		t.Errorf("config: %v %s", err, b)
	}
	waitFor(t, "healthz 200", func() bool {
		r, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/healthz")
		if err != nil {
			return false
		}
		r.Body.Close()
		return r.StatusCode == 200
	})
	time.Sleep(100 * time.Millisecond) // let the script install its traps
	sigs <- syscall.SIGHUP
	waitFor(t, "SIGHUP forwarded", func() bool { b, _ := os.ReadFile(dir + "/signals"); return strings.Contains(string(b), "hup") })
	sigs <- syscall.SIGTERM
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("wrapper did not stop on SIGTERM")
	}
	if b, _ := os.ReadFile(dir + "/signals"); !strings.Contains(string(b), "term") {
		t.Errorf("kubelet did not get SIGTERM: %q", b)
	}
}

func waitFor(t *testing.T, what string, f func() bool) {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, 20*time.Millisecond, what, func() (bool, string) { return f(), "" })
}

// TestNodeLock: a second wrapper of the same node waits for the first to
// release the lock; a SIGTERM while waiting gives up without starting.
func TestNodeLock(t *testing.T) {
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	unlock1, err := lockNode(context.Background(), dir, "n1", nil, log)
	if err != nil || unlock1 == nil {
		t.Fatal(err)
	}
	got := make(chan func(), 1)
	go func() {
		u, _ := lockNode(context.Background(), dir, "n1", nil, log)
		got <- u
	}()
	select {
	case <-got:
		t.Fatal("second wrapper got the lock while the first holds it")
	case <-time.After(200 * time.Millisecond):
	}
	unlock1()
	select {
	case u := <-got:
		if u == nil {
			t.Fatal("no lock")
		}
		sigs := make(chan os.Signal, 1)
		sigs <- syscall.SIGTERM
		if u3, err := lockNode(context.Background(), dir, "n1", sigs, log); u3 != nil || err != nil {
			t.Errorf("waiting wrapper ignored SIGTERM: got a lock (%v), err %v", u3 != nil, err)
		}
		u()
	case <-time.After(5 * time.Second):
		t.Fatal("second wrapper never got the lock")
	}
	// Another node's lock is independent.
	u, err := lockNode(context.Background(), dir, "n2", nil, log)
	if err != nil || u == nil {
		t.Fatal(err)
	}
	u()
}
