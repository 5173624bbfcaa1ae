package wrapper

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/switchyard/switchyard/capacity"
)

// Options configure a wrapper run.
type Options struct {
	// Node is the Kubernetes node name.
	Node string
	// Total is the node's total.
	Total capacity.Resources
	// Overhead is the kubeReserved/evictionHard policy.
	Overhead capacity.Overhead
	// Task is the task environment (TaskFromEnv).
	Task Task
	// Kubelet is the kubelet program; KubeletArgs its arguments (see KubeletArgv).
	Kubelet     string
	KubeletArgs []string
	// ConfigDir is where kubelet-config.yaml is written (default Task.Sandbox, else ".").
	ConfigDir string
	// Drainer drains the node on SIGTERM (nil: no drain).
	Drainer *Drainer
	// DrainTimeout bounds the drain (default 120s); keep it below the app's
	// taskKillGracePeriodSeconds.
	DrainTimeout time.Duration
	// StopGrace is how long kubelet gets after SIGTERM before SIGKILL (default 10s).
	StopGrace time.Duration
	// Backoff is the first restart delay (default 1s, doubling up to MaxBackoff, default 30s).
	Backoff, MaxBackoff time.Duration
	// MaxFailures is how many quick consecutive crashes make the wrapper give
	// up (default 5); a run longer than StableAfter (default 60s) resets the count.
	MaxFailures int
	StableAfter time.Duration
	// Signals delivers the wrapper's signals: SIGTERM/SIGINT drain and stop,
	// others are forwarded to kubelet.
	Signals <-chan os.Signal
	// Stdout and Stderr receive kubelet's output (default the wrapper's).
	Stdout, Stderr io.Writer
	// Logger receives the wrapper's log (default slog.Default).
	Logger *slog.Logger
	// OnReady is called once the config is written and kubelet started.
	OnReady func(Setup)
	// LockDir holds the per-node lock file kubelet-wrapper-<node>.lock:
	// a wrapper waits for the previous wrapper of its node to finish
	// draining and exit before it starts kubelet (Marathon may launch the
	// replacement while the old task is still being killed). Empty: no lock.
	LockDir string
}

func (o *Options) defaults() {
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 120 * time.Second
	}
	if o.StopGrace <= 0 {
		o.StopGrace = 10 * time.Second
	}
	if o.Backoff <= 0 {
		o.Backoff = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	if o.MaxFailures <= 0 {
		o.MaxFailures = 5
	}
	if o.StableAfter <= 0 {
		o.StableAfter = 60 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	if o.ConfigDir == "" {
		o.ConfigDir = o.Task.Sandbox
	}
	if o.ConfigDir == "" {
		o.ConfigDir = "."
	}
}

// GiveUpError says kubelet kept crashing.
type GiveUpError struct {
	// Failures is the number of quick consecutive crashes; Last the last exit.
	Failures int
	Last     error
}

// Error says how often kubelet failed.
func (e *GiveUpError) Error() string {
	return fmt.Sprintf("kubelet failed %d times in a row (each within the stable period), giving up so Marathon reschedules the wrapper: last exit: %v", e.Failures, e.Last)
}

// Run computes and writes the kubelet config, starts kubelet, and
// supervises it until a SIGTERM/SIGINT (drain, then stop kubelet, return
// nil), ctx ending (stop kubelet without draining), or kubelet failing
// MaxFailures times in a row (a *GiveUpError).
func Run(ctx context.Context, o Options) error {
	o.defaults()
	log := o.Logger.With("node", o.Node)
	plan, err := Compute(o.Node, o.Total, o.Task, o.Overhead)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.ConfigDir, 0o755); err != nil {
		return fmt.Errorf("kubelet config dir: %w", err)
	}
	cfgPath, err := filepath.Abs(filepath.Join(o.ConfigDir, "kubelet-config.yaml"))
	if err != nil {
		return fmt.Errorf("kubelet config path: %w", err)
	}
	if err := os.WriteFile(cfgPath, plan.KubeletConfig, 0o644); err != nil {
		return fmt.Errorf("write kubelet config: %w", err)
	}
	argv := KubeletArgv(o.Kubelet, o.KubeletArgs, o.Node, cfgPath)
	log.Info("kubelet wrapper starting", "share", o.Task.Share.String(), "total", o.Total.String(),
		"systemReserved", plan.Reservations.SystemReserved.String(), "kubeReserved", plan.Reservations.KubeReserved.String(),
		"evictionHard", plan.Reservations.EvictionHard.String(), "allocatable", plan.Allocatable.String(), "config", cfgPath, "kubelet", argv)

	if o.LockDir != "" {
		unlock, err := lockNode(ctx, o.LockDir, o.Node, o.Signals, log)
		if err != nil || unlock == nil {
			return err
		}
		defer unlock()
	}
	var mu sync.Mutex
	var cur *exec.Cmd
	running := func() bool { mu.Lock(); defer mu.Unlock(); return cur != nil }
	if o.Task.HealthPort > 0 {
		stop, err := serveHealth(net.JoinHostPort(o.Task.Host, strconv.Itoa(o.Task.HealthPort)), running)
		if err != nil {
			return err
		}
		defer stop()
	}
	exited := make(chan error, 1)
	start := func() error {
		c := exec.Command(argv[0], argv[1:]...)
		c.Stdout, c.Stderr = o.Stdout, o.Stderr
		// Own process group: Marathon signals the wrapper's group, and kubelet
		// must keep running while the wrapper drains. Pdeathsig stops it if
		// the wrapper is killed outright.
		c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
		if err := c.Start(); err != nil {
			return fmt.Errorf("start kubelet %s: %w", argv[0], err)
		}
		mu.Lock()
		cur = c
		mu.Unlock()
		go func() {
			err := c.Wait()
			mu.Lock()
			cur = nil
			mu.Unlock()
			exited <- err
		}()
		return nil
	}
	stopKubelet := func() {
		mu.Lock()
		c := cur
		mu.Unlock()
		if c == nil {
			return
		}
		_ = syscall.Kill(-c.Process.Pid, syscall.SIGTERM)
		select {
		case err := <-exited:
			log.Info("kubelet stopped", "exit", fmt.Sprint(err))
		case <-time.After(o.StopGrace):
			_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
			log.Warn("kubelet did not stop in time, killed", "grace", o.StopGrace)
			<-exited
		}
	}
	if err := start(); err != nil {
		return err
	}
	if o.OnReady != nil {
		o.OnReady(plan)
	}
	if o.Drainer != nil {
		go uncordonWhenRegistered(ctx, *o.Drainer, o.Node, log)
	}
	failures, startedAt := 0, time.Now()
	var restart <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			stopKubelet()
			return nil
		case sig := <-o.Signals:
			if sig == syscall.SIGTERM || sig == os.Interrupt {
				log.Info("termination signal: draining the node before stopping kubelet", "signal", sig.String(), "deadline", o.DrainTimeout)
				if o.Drainer != nil {
					dctx, cancel := context.WithTimeout(ctx, o.DrainTimeout)
					res, err := o.Drainer.Drain(dctx, o.Node)
					cancel()
					if err != nil {
						log.Error("drain incomplete", "err", err, "evicted", len(res.Evicted), "remaining", res.Remaining)
					}
				}
				stopKubelet()
				return nil
			}
			mu.Lock()
			if cur != nil {
				_ = cur.Process.Signal(sig)
			}
			mu.Unlock()
		case err := <-exited:
			ran := time.Since(startedAt)
			if ran >= o.StableAfter {
				failures = 0
			}
			failures++
			if failures >= o.MaxFailures {
				return &GiveUpError{Failures: failures, Last: err}
			}
			delay := o.Backoff << (failures - 1)
			if delay > o.MaxBackoff || delay <= 0 {
				delay = o.MaxBackoff
			}
			log.Warn("kubelet exited, restarting", "exit", fmt.Sprint(err), "ran", ran.Round(time.Millisecond), "failures", failures, "delay", delay)
			restart = time.After(delay)
		case <-restart:
			restart = nil
			if err := start(); err != nil {
				return err
			}
			startedAt = time.Now()
		}
	}
}

// uncordonWhenRegistered undoes a previous wrapper's cordon once the node
// is registered (a share change restarts the wrapper after a drain).
func uncordonWhenRegistered(ctx context.Context, d Drainer, node string, log *slog.Logger) {
	for i := 0; i < 120; i++ {
		exists, err := d.UncordonOwn(ctx, node)
		if err != nil {
			log.Warn("uncordon", "err", err)
		}
		if exists && err == nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// serveHealth answers GET /healthz with 200 while kubelet runs, 503 otherwise.
func serveHealth(addr string, running func() bool) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("health endpoint %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if running() {
			_, _ = io.WriteString(w, "ok\n")
			return
		}
		http.Error(w, "kubelet is not running", http.StatusServiceUnavailable)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Default().Error("health endpoint", "err", err)
		}
	}()
	return func() { _ = srv.Close() }, nil
}

// lockNode takes the node's wrapper lock, waiting for a previous wrapper to
// release it; a SIGTERM/SIGINT or ctx ending while waiting returns (nil, nil).
func lockNode(ctx context.Context, dir, node string, sigs <-chan os.Signal, log *slog.Logger) (func(), error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("lock dir: %w", err)
	}
	path := filepath.Join(dir, "kubelet-wrapper-"+node+".lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("node lock: %w", err)
	}
	if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		log.Info("another wrapper of this node is still running (draining?): waiting for it to exit", "lock", path)
		got := make(chan error, 1)
		go func() { got <- syscall.Flock(int(f.Fd()), syscall.LOCK_EX) }()
		for waiting := true; waiting; {
			select {
			case err := <-got:
				if err != nil {
					f.Close()
					return nil, fmt.Errorf("node lock %s: %w", path, err)
				}
				waiting = false
			case <-ctx.Done():
				f.Close()
				return nil, nil
			case sig := <-sigs:
				if sig == syscall.SIGTERM || sig == os.Interrupt {
					log.Info("terminated while waiting for the node lock", "signal", sig.String())
					f.Close()
					return nil, nil
				}
			}
		}
	}
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}
