package proc

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/testenv"
)

func marker() string { return fmt.Sprintf("PROC_TEST_MARKER=%08x", rand.Uint32()) }

func startT(t *testing.T, spec Spec) *Process {
	t.Helper()
	p, err := Start(spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop(time.Second) })
	return p
}

func waitDone(t *testing.T, p *Process, d time.Duration) Exit {
	t.Helper()
	select {
	case <-p.Done():
		return p.Exit()
	case <-time.After(d):
		t.Fatalf("process %d did not exit within %s", p.ID().PID, d)
	}
	return Exit{}
}

func waitFile(t *testing.T, path string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 && strings.HasSuffix(string(b), "\n") {
			return strings.TrimSpace(string(b))
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not written within 5s", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStartRecordsExitAndLog(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "sub", "out.log")
	tests := []struct {
		name     string
		spec     Spec
		want     Exit
		wantStr  string
		wantLog  string
		startErr string
	}{
		{name: "argv exit 0", spec: Spec{Argv: []string{"/bin/echo", "hello"}, LogPath: log}, want: Exit{Code: 0}, wantStr: "exited with status 0", wantLog: "hello\n"},
		{name: "shell exit 3 with env and dir", spec: Spec{Shell: `echo "$FOO in $(pwd)" >&2; exit 3`, Env: []string{"FOO=bar"}, Dir: dir, LogPath: log},
			want: Exit{Code: 3}, wantStr: "exited with status 3", wantLog: "bar in " + dir + "\n"},
		{name: "killed by signal", spec: Spec{Shell: "kill -9 $$"}, want: Exit{Code: -1, Signal: syscall.SIGKILL}, wantStr: "killed by signal 9 (killed)"},
		{name: "wrap", spec: Spec{Argv: []string{"hi"}, Wrap: []string{"/bin/echo", "wrapped"}, LogPath: log}, wantStr: "exited with status 0", wantLog: "wrapped hi\n"},
		{name: "both argv and shell", spec: Spec{Argv: []string{"x"}, Shell: "y"}, startErr: "set either Argv or Shell"},
		{name: "empty", spec: Spec{}, startErr: "nothing to run"},
		{name: "missing program", spec: Spec{Argv: []string{"/nonexistent/prog"}}, startErr: "start /nonexistent/prog"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os.Remove(log)
			p, err := Start(tt.spec)
			if tt.startErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.startErr) {
					t.Fatalf("Start err = %v, want %q", err, tt.startErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ex := waitDone(t, p, 5*time.Second)
			if ex.Code != tt.want.Code || ex.Signal != tt.want.Signal {
				t.Errorf("exit %+v, want %+v", ex, tt.want)
			}
			if ex.String() != tt.wantStr {
				t.Errorf("exit string %q, want %q", ex.String(), tt.wantStr)
			}
			if tt.wantLog != "" {
				b, _ := os.ReadFile(log)
				if string(b) != tt.wantLog {
					t.Errorf("log %q, want %q", b, tt.wantLog)
				}
			}
			if Alive(p.ID()) {
				t.Error("Alive after exit")
			}
		})
	}
}

func TestLogIsAppended(t *testing.T) {
	log := filepath.Join(t.TempDir(), "a.log")
	for _, w := range []string{"one", "two"} {
		p, err := Start(Spec{Argv: []string{"/bin/echo", w}, LogPath: log})
		if err != nil {
			t.Fatal(err)
		}
		waitDone(t, p, 5*time.Second)
	}
	if b, _ := os.ReadFile(log); string(b) != "one\ntwo\n" {
		t.Fatalf("log %q", b)
	}
}

// TestOwnProcessGroup: the process leads its own session and group, so Stop
// reaches its children too.
func TestOwnProcessGroupAndStopReachesChildren(t *testing.T) {
	dir := t.TempDir()
	childPid := filepath.Join(dir, "child")
	p := startT(t, Spec{Shell: fmt.Sprintf("sleep 300 & echo $! > %s; wait", childPid)})
	pid := p.ID().PID
	pgid, err := syscall.Getpgid(pid)
	if err != nil || pgid != pid {
		t.Fatalf("pgid %d (%v), want %d", pgid, err, pid)
	}
	if sid, _ := getsid(pid); sid != pid {
		t.Errorf("sid %d, want %d (own session)", sid, pid)
	}
	child, _ := strconv.Atoi(waitFile(t, childPid))
	p.Stop(2 * time.Second)
	if Alive(p.ID()) {
		t.Fatal("leader alive after Stop")
	}
	waitGoneT(t, child)
}

// TestStopGraceThenKill: a process that ignores SIGTERM is killed after the
// grace; one that handles it exits within the grace.
func TestStopGraceThenKill(t *testing.T) {
	dir := t.TempDir()
	ready := filepath.Join(dir, "ready")
	p := startT(t, Spec{Shell: fmt.Sprintf("trap '' TERM; echo ok > %s; while :; do sleep 0.05; done", ready)})
	waitFile(t, ready)
	t0 := time.Now()
	p.Stop(400 * time.Millisecond)
	d := time.Since(t0)
	if d < 400*time.Millisecond {
		t.Errorf("stopped after %s, before the grace ended", d)
	}
	if ex := waitDone(t, p, time.Second); ex.Signal != syscall.SIGKILL {
		t.Errorf("exit %v, want SIGKILL", ex)
	}

	ready2 := filepath.Join(dir, "ready2")
	termed := filepath.Join(dir, "termed")
	q := startT(t, Spec{Shell: fmt.Sprintf("trap 'echo term > %s; exit 0' TERM; echo ok > %s; while :; do sleep 0.05; done", termed, ready2)})
	waitFile(t, ready2)
	t0 = time.Now()
	q.Stop(10 * time.Second)
	if d := time.Since(t0); d > 5*time.Second {
		t.Errorf("graceful stop took %s", d)
	}
	if waitFile(t, termed) != "term" {
		t.Error("SIGTERM handler did not run")
	}
	if ex := q.Exit(); ex.Code != 0 || ex.Signal != 0 {
		t.Errorf("exit %v, want status 0 from the TERM handler", ex)
	}
}

// TestAdopt: a process known only by its identity (a restarted supervisor)
// is adopted, its end noticed, and it can be stopped; a reused PID with
// another start time is not it.
func TestAdopt(t *testing.T) {
	p := startT(t, Spec{Argv: []string{"sleep", "300"}})
	id := p.ID()
	if id.StartTime == 0 {
		t.Fatal("no start time recorded")
	}
	if _, err := Adopt(ID{PID: id.PID, StartTime: id.StartTime + 1}); err == nil {
		t.Error("adopted a process with the wrong start time")
	}
	if Alive(ID{PID: id.PID, StartTime: id.StartTime + 1}) {
		t.Error("Alive with the wrong start time")
	}
	a, err := Adopt(id)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Signal(syscall.SIGCONT); err != nil {
		t.Errorf("Signal: %v", err)
	}
	StopID(id, time.Second, nil)
	select {
	case <-a.Done():
	case <-time.After(3 * time.Second):
		t.Fatal("adopted process's end not noticed")
	}
	if ex := a.Exit(); ex.Code != -1 || !strings.Contains(ex.String(), "status unknown") {
		t.Errorf("adopted exit %+v %q", ex, ex.String())
	}
	if err := a.Signal(syscall.SIGCONT); err == nil {
		t.Error("Signal to a gone process succeeded")
	}
	if _, err := Adopt(id); err == nil {
		t.Error("adopted a gone process")
	}
	if Alive(ID{}) {
		t.Error("the zero ID is alive")
	}
}

func TestFindByEnv(t *testing.T) {
	m := marker()
	a := startT(t, Spec{Argv: []string{"sleep", "300"}, Env: []string{m}})
	b := startT(t, Spec{Argv: []string{"sleep", "300"}, Env: []string{m + "x"}}) // a different value
	c := startT(t, Spec{Argv: []string{"sleep", "300"}, Env: []string{"OTHER=1", m}})
	got := map[int]bool{}
	for _, id := range FindByEnv(m) {
		got[id.PID] = true
		if !Alive(id) {
			t.Errorf("found %d with a start time that does not match", id.PID)
		}
	}
	if !got[a.ID().PID] || !got[c.ID().PID] || got[b.ID().PID] || len(got) != 2 {
		t.Fatalf("FindByEnv found %v; want %d and %d only", got, a.ID().PID, c.ID().PID)
	}
	a.Stop(time.Second)
	c.Stop(time.Second)
	if ids := FindByEnv(m); len(ids) != 0 {
		t.Fatalf("stopped processes still found: %v", ids)
	}
}

func waitGoneT(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, state, err := stat(pid)
		if err != nil || state == "Z" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d still alive", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func getsid(pid int) (int, error) {
	r, _, errno := syscall.RawSyscall(syscall.SYS_GETSID, uintptr(pid), 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}

// TestSweepInRounds: a process that starts another when it is told to stop
// (in a process group of its own, which stopping the first does not reach)
// is caught by the next round; skipped pids are left alone.
func TestSweepInRounds(t *testing.T) {
	m := marker()
	armed := filepath.Join(t.TempDir(), "armed")
	spawner := startT(t, Spec{Env: []string{m},
		Shell: `trap 'setsid sleep 300 & exit 0' TERM; touch ` + armed + `; sleep 300 & wait`})
	kept := startT(t, Spec{Argv: []string{"sleep", "300"}, Env: []string{m}})
	// Sweep only once the trap is set (a TERM before it would just end the
	// shell).
	testenv.EventuallyNil(t, 5*time.Second, 10*time.Millisecond, "the spawner's trap", func() error { _, err := os.Stat(armed); return err })
	var seen []int
	n := Sweep(m, 2*time.Second, map[int]bool{kept.ID().PID: true}, func(id ID) { seen = append(seen, id.PID) })
	if left := FindByEnv(m); len(left) != 1 || left[0].PID != kept.ID().PID {
		t.Errorf("after the sweep %v carry the marker, want only the skipped %d", left, kept.ID().PID)
	}
	if n < 2 || n != len(seen) {
		t.Errorf("Sweep stopped %d (told of %v), want the spawner's group and then what it started", n, seen)
	}
	if Alive(spawner.ID()) {
		t.Error("the spawner survived")
	}
	kept.Stop(time.Second)
}
