// Package proc starts and stops the local processes that stand in for Mesos
// tasks, pod containers and lab components. Each process gets its own process
// group (so a stop reaches its children), its output appended to a log file,
// and an identity (PID plus kernel start time) that survives a restart of the
// process that started it, so it can be re-adopted later.
package proc

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Spec says what to run.
type Spec struct {
	// Argv is the program and its arguments. When Shell is set, Argv must be empty.
	Argv []string
	// Shell is a command line run with /bin/sh -c (Marathon's "cmd").
	Shell string
	// Env is the complete environment of the process (KEY=VALUE); the caller
	// decides what it inherits.
	Env []string
	// Dir is the working directory ("" = current).
	Dir string
	// LogPath receives stdout and stderr (appended; created with its parent dirs).
	// Empty discards the output.
	LogPath string
	// Wrap, when set, is prepended to the final argv (e.g. "ip netns exec NS").
	Wrap []string
	// User, when set, is who the process runs as (the caller runs as root);
	// nil keeps the caller's identity.
	User *User
}

// ID identifies a process across restarts of its supervisor: a PID alone can
// be reused, a PID with its start time cannot.
type ID struct {
	PID       int    `json:"pid"`
	StartTime uint64 `json:"startTime"` // clock ticks since boot, from /proc/PID/stat
}

// Exit is how a process ended.
type Exit struct {
	// Code is the exit status, or -1 when killed by a signal or unknown (adopted).
	Code int
	// Signal is the terminating signal, if any.
	Signal syscall.Signal
	// Err describes a wait failure.
	Err error
}

// String renders the exit for logs and task status messages.
func (e Exit) String() string {
	switch {
	case e.Err != nil:
		return e.Err.Error()
	case e.Signal != 0:
		return "killed by signal " + strconv.Itoa(int(e.Signal)) + " (" + e.Signal.String() + ")"
	case e.Code == -1:
		return "exited (status unknown: adopted process)"
	default:
		return "exited with status " + strconv.Itoa(e.Code)
	}
}

// Process is a running (or finished) process.
type Process struct {
	id   ID
	done chan struct{}
	mu   sync.Mutex
	exit Exit
}

// ID returns the process's identity.
func (p *Process) ID() ID { return p.id }

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exit returns how the process ended; valid after Done is closed.
func (p *Process) Exit() Exit {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exit
}

// Start runs the process in a new session (its own process group), detached
// from the caller's terminal.
func Start(spec Spec) (*Process, error) {
	argv := spec.Argv
	if spec.Shell != "" {
		if len(argv) > 0 {
			return nil, errors.New("proc: set either Argv or Shell, not both")
		}
		argv = []string{"/bin/sh", "-c", spec.Shell}
	}
	if len(argv) == 0 {
		return nil, errors.New("proc: nothing to run (empty command)")
	}
	argv = append(append([]string{}, spec.Wrap...), argv...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = spec.Env
	cmd.Dir = spec.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: spec.User.credential()}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return nil, fmt.Errorf("proc: %w", err)
	}
	defer devnull.Close()
	cmd.Stdin = devnull
	if spec.LogPath != "" {
		if err := os.MkdirAll(filepath.Dir(spec.LogPath), 0o755); err != nil {
			return nil, fmt.Errorf("proc: log dir: %w", err)
		}
		f, err := os.OpenFile(spec.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("proc: log file: %w", err)
		}
		defer f.Close()
		cmd.Stdout, cmd.Stderr = f, f
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	st, _ := startTime(cmd.Process.Pid)
	p := &Process{id: ID{PID: cmd.Process.Pid, StartTime: st}, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		ex := Exit{}
		var ee *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &ee):
			ex.Code = ee.ExitCode()
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				ex.Signal = ws.Signal()
				ex.Code = -1
			}
		default:
			ex.Code, ex.Err = -1, err
		}
		p.mu.Lock()
		p.exit = ex
		p.mu.Unlock()
		close(p.done)
	}()
	return p, nil
}

// Adopt attaches to a process started earlier (by this or a previous
// supervisor). It fails when no process with that identity is alive. An
// adopted process is not our child: its end is noticed by polling, and its
// exit code is unknown.
func Adopt(id ID) (*Process, error) {
	if !Alive(id) {
		return nil, fmt.Errorf("process %d (start time %d) is not running", id.PID, id.StartTime)
	}
	p := &Process{id: id, done: make(chan struct{})}
	go func() {
		for Alive(id) {
			time.Sleep(200 * time.Millisecond)
		}
		p.mu.Lock()
		p.exit = Exit{Code: -1}
		p.mu.Unlock()
		close(p.done)
	}()
	return p, nil
}

// Alive reports whether the process with this identity is running (a zombie
// counts as not running).
func Alive(id ID) bool {
	if id.PID <= 0 {
		return false
	}
	st, state, err := stat(id.PID)
	if err != nil || state == "Z" || state == "X" {
		return false
	}
	return id.StartTime == 0 || st == id.StartTime
}

// Stop sends SIGTERM to the process group, waits up to grace for the process
// to exit, then sends SIGKILL to the group. It returns when the process is gone.
func (p *Process) Stop(grace time.Duration) {
	StopID(p.id, grace, p.done)
}

// StopID stops a process known only by its identity (see Stop). done may be
// nil; then the process is polled.
func StopID(id ID, grace time.Duration, done <-chan struct{}) {
	if !Alive(id) {
		return
	}
	signalGroup(id.PID, syscall.SIGTERM)
	if waitGone(id, grace, done) {
		// The leader is gone; make sure its group is too.
		signalGroup(id.PID, syscall.SIGKILL)
		return
	}
	signalGroup(id.PID, syscall.SIGKILL)
	waitGone(id, 5*time.Second, done)
}

// Signal sends sig to the process (not its group).
func (p *Process) Signal(sig syscall.Signal) error {
	if !Alive(p.id) {
		return errors.New("process is not running")
	}
	return syscall.Kill(p.id.PID, sig)
}

func signalGroup(pid int, sig syscall.Signal) {
	// Negative pid: the whole process group (the process is its group leader).
	if err := syscall.Kill(-pid, sig); err != nil {
		_ = syscall.Kill(pid, sig)
	}
}

func waitGone(id ID, d time.Duration, done <-chan struct{}) bool {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if done != nil {
			select {
			case <-done:
				return true
			default:
			}
		} else if !Alive(id) {
			return true
		}
		select {
		case <-deadline.C:
			return false
		case <-tick.C:
		case <-done:
			return true
		}
	}
}

func startTime(pid int) (uint64, error) {
	st, _, err := stat(pid)
	return st, err
}

// stat reads the start time (field 22) and state (field 3) of /proc/PID/stat.
func stat(pid int) (uint64, string, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, "", err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, "", fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0, "", fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	st, err := strconv.ParseUint(f[19], 10, 64)
	return st, f[0], err
}

// FindByEnv returns the identities of running processes whose environment
// contains the exact KEY=VALUE entry (used to sweep a lab's leftovers).
func FindByEnv(entry string) []ID {
	return find(func(pid int) bool { return HasEnv(pid, entry) })
}

// Sweep stops every process carrying the environment entry marker (and
// not in skip), in rounds: a process may start another while it is being
// stopped, and the next round finds that one. Each
// process gets grace between SIGTERM and SIGKILL; found, when set, is told
// of each before it is stopped. It returns how many it stopped.
func Sweep(marker string, grace time.Duration, skip map[int]bool, found func(ID)) int {
	total := 0
	for round := 0; round < 5; round++ {
		var ids []ID
		for _, id := range FindByEnv(marker) {
			if !skip[id.PID] {
				ids = append(ids, id)
			}
		}
		if len(ids) == 0 {
			break
		}
		var wg sync.WaitGroup
		for _, id := range ids {
			if found != nil {
				found(id)
			}
			wg.Add(1)
			go func() { defer wg.Done(); StopID(id, grace, nil) }()
		}
		wg.Wait()
		total += len(ids)
	}
	return total
}

// find returns the running processes (not zombies, not this one) for which
// match is true.
func find(match func(pid int) bool) []ID {
	ents, _ := os.ReadDir("/proc")
	var ids []ID
	self := os.Getpid()
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self || !match(pid) {
			continue
		}
		ids = append(ids, FindByPID(pid)...)
	}
	return ids
}
