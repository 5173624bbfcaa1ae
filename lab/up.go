package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/switchyard/switchyard/lab/component"
	"github.com/switchyard/switchyard/lab/labconfig"
	"github.com/switchyard/switchyard/lab/proc"
)

// Defaults applied when a Spec leaves them zero.
const (
	DefaultReadyTimeout = 60 * time.Second
	DefaultStopGrace    = 10 * time.Second
	// logTailLines is how much of a failed component's log Up and Status show.
	logTailLines = 20
)

// Option adjusts Up, Status and Down.
type Option func(*options)

type options struct {
	configPath string
}

// WithConfigPath names the lab config file in messages (default <dir>/lab.yaml).
func WithConfigPath(p string) Option { return func(o *options) { o.configPath = p } }

func newOptions(cfg labconfig.Config, opts []Option) options {
	o := options{configPath: cfg.Path("lab.yaml")}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// Marker is the MarkerEnv entry carried by every process of this lab.
func Marker(cfg labconfig.Config) string { return labconfig.MarkerEnv + "=" + cfg.ID }

type action int

const (
	actStart action = iota
	actRestart
	actKeep
)

type step struct {
	spec   component.Spec
	rec    *Record
	action action
	was    string // for restarts: how the previous process ended
}

// Up starts the lab's components in dependency order and waits for each to
// be ready. It is idempotent: a running component with the same
// configuration is kept, a dead one is started again, and a running one
// whose configuration changed makes Up refuse (before anything is started).
// When a component fails to start, Up prints its log tail and a fix, stops
// what this call started, and returns the error. It ends by printing what
// runs where.
func Up(ctx context.Context, cfg labconfig.Config, specs []component.Spec, out io.Writer, opts ...Option) error {
	o := newOptions(cfg, opts)
	ordered, err := Order(component.Runnable(specs))
	if err != nil {
		return fmt.Errorf("lab up: %w", err)
	}
	if err := ensureDirs(cfg); err != nil {
		return fmt.Errorf("lab up: %w", err)
	}
	unlock, err := lock(cfg, out)
	if err != nil {
		return fmt.Errorf("lab up: %w", err)
	}
	defer unlock()

	steps, err := plan(cfg, ordered)
	if err != nil {
		return err
	}
	if len(steps) == 0 {
		return errors.New("lab up: the lab config enables no component (or none is wired into this build)")
	}
	kept := map[string]bool{}
	restarting := map[string]component.Spec{}
	for _, s := range steps {
		switch s.action {
		case actKeep:
			kept[s.spec.Name] = true
		case actRestart:
			restarting[s.spec.Name] = s.spec
		}
	}
	var portErrs []error
	for _, u := range Ports(cfg, ordered) {
		if kept[u.Component] {
			continue
		}
		err := checkPort(u, Marker(cfg), o.configPath)
		if s, ok := restarting[u.Component]; ok && err != nil && s.Cleanup != nil {
			// A crashed component may have left children holding its port
			// (nginx workers outlive a killed master): its Cleanup stops them.
			if cerr := s.Cleanup(ctx); cerr != nil {
				fmt.Fprintf(out, "warning: cleanup of crashed %s: %v\n", u.Component, cerr)
			}
			err = checkPort(u, Marker(cfg), o.configPath)
		}
		if err != nil {
			portErrs = append(portErrs, err)
		}
	}
	if len(portErrs) > 0 {
		return fmt.Errorf("lab up: nothing was started:\n  %w", joinLines(portErrs))
	}

	fmt.Fprintf(out, "lab %s in %s\n", cfg.ID, cfg.Dir)
	var started []Record
	states := map[string]string{}
	for _, s := range steps {
		name := s.spec.Name
		if s.action == actKeep {
			if err := waitReady(ctx, s.spec, nil); err != nil {
				return failUp(ctx, cfg, ordered, started, name, fmt.Errorf("running (pid %d) but not ready: %w", s.rec.Process.PID, err), out)
			}
			if err := configure(ctx, s.spec); err != nil {
				return failUp(ctx, cfg, ordered, started, name, err, out)
			}
			states[name] = "running (kept)"
			fmt.Fprintf(out, "  %-24s already running (pid %d)\n", name, s.rec.Process.PID)
			continue
		}
		if s.rec != nil {
			fmt.Fprintf(out, "  %-24s was %s; starting it again\n", name, s.was)
			removeRecord(cfg, name)
		}
		t0 := time.Now()
		rec, p, err := start(ctx, cfg, s.spec)
		if rec != nil {
			started = append(started, *rec)
		}
		if err == nil {
			err = waitReady(ctx, s.spec, p)
		}
		if err == nil {
			err = configure(ctx, s.spec)
		}
		if err != nil {
			return failUp(ctx, cfg, ordered, started, name, err, out)
		}
		d := time.Since(t0).Round(10 * time.Millisecond)
		states[name] = fmt.Sprintf("started, ready in %s", d)
		if s.action == actRestart {
			states[name] = fmt.Sprintf("restarted, ready in %s", d)
		}
		fmt.Fprintf(out, "  %-24s ready in %s\n", name, d)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "COMPONENT\tPID\tADDRESS\tSTATE")
	for _, s := range steps {
		r, _ := readRecord(cfg, s.spec.Name)
		pid := "-"
		if r != nil {
			pid = fmt.Sprint(r.Process.PID)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.spec.Name, pid, dash(s.spec.Address), states[s.spec.Name])
	}
	return tw.Flush()
}

// plan decides, per component, whether to keep, start or restart it, and
// refuses when running components no longer match the config.
func plan(cfg labconfig.Config, ordered []component.Spec) ([]step, error) {
	hash := configHash(cfg)
	var steps []step
	var refusals []string
	known := map[string]bool{}
	for _, s := range ordered {
		known[s.Name] = true
		rec, err := readRecord(cfg, s.Name)
		if err != nil {
			return nil, fmt.Errorf("lab up: %w", err)
		}
		switch {
		case rec == nil:
			steps = append(steps, step{spec: s, action: actStart})
		case proc.Alive(rec.Process):
			if d := drift(rec, s, hash); d != "" {
				refusals = append(refusals, fmt.Sprintf("%s (pid %d) runs with an older configuration: %s", s.Name, rec.Process.PID, d))
				continue
			}
			steps = append(steps, step{spec: s, rec: rec, action: actKeep})
		default:
			was := "stopped (exit status unknown)"
			if e, ok := readExit(cfg, s.Name); ok {
				was = e.String()
			}
			steps = append(steps, step{spec: s, rec: rec, action: actRestart, was: was})
		}
	}
	recs, err := readRecords(cfg)
	if err != nil {
		return nil, fmt.Errorf("lab up: %w", err)
	}
	for name, r := range recs {
		if !known[name] && proc.Alive(r.Process) {
			refusals = append(refusals, fmt.Sprintf("%s (pid %d) runs but is no longer part of the lab configuration", name, r.Process.PID))
		}
	}
	if len(refusals) > 0 {
		return nil, fmt.Errorf("lab up: the lab in %s is running with a different configuration:\n  - %s\n"+
			"nothing was started or stopped; to apply the change run `switchyard lab down`, then `switchyard lab up`",
			cfg.Dir, strings.Join(refusals, "\n  - "))
	}
	return steps, nil
}

// start prepares and launches one component and records it.
func start(ctx context.Context, cfg labconfig.Config, s component.Spec) (*Record, *proc.Process, error) {
	if s.Prepare != nil {
		if err := s.Prepare(ctx); err != nil {
			return nil, nil, fmt.Errorf("prepare: %w", err)
		}
	}
	if len(s.Argv) == 0 {
		return nil, nil, errors.New("the component has no command (empty Argv)")
	}
	logPath := LogPath(cfg, s.Name)
	if f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err == nil {
		fmt.Fprintf(f, "=== switchyard lab: starting %s at %s: %s\n", s.Name, time.Now().UTC().Format(time.RFC3339), strings.Join(s.Argv, " "))
		f.Close()
	}
	_ = os.Remove(exitPath(cfg, s.Name))
	p, err := proc.Start(proc.Spec{
		Argv:    shimArgv(exitPath(cfg, s.Name), s.Argv),
		Env:     processEnv(cfg, s.Env),
		Dir:     absDir(cfg, s.Dir),
		LogPath: logPath,
	})
	if err != nil {
		return nil, nil, err
	}
	grace := s.StopGrace
	if grace <= 0 {
		grace = DefaultStopGrace
	}
	rec := &Record{Name: s.Name, Argv: s.Argv, Env: s.Env, Dir: s.Dir, Address: s.Address, Process: p.ID(),
		StartedAt: time.Now().UTC(), ConfigHash: configHash(cfg), StopGrace: grace, Log: logPath}
	if err := writeRecord(cfg, rec); err != nil {
		return rec, p, err
	}
	return rec, p, nil
}

// processEnv is the supervisor's environment (without another lab's marker)
// plus the spec's env, the lab directory and this lab's marker.
func processEnv(cfg labconfig.Config, extra []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, labconfig.MarkerEnv+"=") && !strings.HasPrefix(kv, "SWITCHYARD_LAB_DIR=") {
			env = append(env, kv)
		}
	}
	env = append(env, extra...)
	return append(env, "SWITCHYARD_LAB_DIR="+cfg.Dir, Marker(cfg))
}

// configure runs the component's Configure step, if it has one.
func configure(ctx context.Context, s component.Spec) error {
	if s.Configure == nil {
		return nil
	}
	if err := s.Configure(ctx); err != nil {
		return fmt.Errorf("ready, but configuring it failed: %w", err)
	}
	return nil
}

// waitReady probes the component until it is ready, its process exits (p
// may be nil for a component started earlier) or its ReadyTimeout passes.
func waitReady(ctx context.Context, s component.Spec, p *proc.Process) error {
	timeout := s.ReadyTimeout
	if timeout <= 0 {
		timeout = DefaultReadyTimeout
	}
	var exited <-chan struct{}
	if p != nil {
		exited = p.Done()
	}
	if s.Ready == nil {
		// Nothing to probe: it is ready if it is still running shortly after start.
		select {
		case <-exited:
			return fmt.Errorf("exited right after start (%s)", p.Exit())
		case <-time.After(300 * time.Millisecond):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	interval := 50 * time.Millisecond
	var last error
	for {
		pctx, cancel := context.WithTimeout(ctx, min(5*time.Second, timeout))
		last = s.Ready(pctx)
		cancel()
		if last == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("exited during start (%s)", p.Exit())
		case <-deadline.C:
			return fmt.Errorf("not ready after %s (last probe: %v)", timeout, last)
		case <-ctx.Done():
			return fmt.Errorf("interrupted while waiting for it to be ready: %w", ctx.Err())
		case <-time.After(interval):
		}
		interval = min(interval*2, 500*time.Millisecond)
	}
}

// failUp reports a component that did not start, stops everything this call
// started (newest first) and returns the error.
func failUp(ctx context.Context, cfg labconfig.Config, specs []component.Spec, started []Record, name string, cause error, out io.Writer) error {
	logPath := LogPath(cfg, name)
	fmt.Fprintf(out, "\n%s failed to start: %v\n", name, cause)
	lines := tail(logPath, logTailLines)
	if len(lines) > 0 {
		fmt.Fprintf(out, "last lines of %s:\n", logPath)
		for _, l := range lines {
			fmt.Fprintf(out, "  | %s\n", l)
		}
	}
	fix := fixHint(lines, cause, name)
	fmt.Fprintf(out, "fix: %s\n", fix)
	bySpec := map[string]component.Spec{}
	for _, s := range specs {
		bySpec[s.Name] = s
	}
	cctx := context.WithoutCancel(ctx)
	var stopped []string
	for i := len(started) - 1; i >= 0; i-- {
		r := started[i]
		proc.StopID(r.Process, r.StopGrace, nil)
		if s := bySpec[r.Name]; s.Cleanup != nil {
			if err := s.Cleanup(cctx); err != nil {
				fmt.Fprintf(out, "warning: cleanup of %s: %v\n", r.Name, err)
			}
		}
		removeRecord(cfg, r.Name)
		stopped = append(stopped, r.Name)
	}
	if len(stopped) > 0 {
		fmt.Fprintf(out, "stopped what this `lab up` started: %s\n", strings.Join(stopped, ", "))
	}
	if left := runningNames(cfg); len(left) > 0 {
		fmt.Fprintf(out, "still running from an earlier `lab up`: %s (stop them with `switchyard lab down`)\n", strings.Join(left, ", "))
	} else {
		fmt.Fprintln(out, "the lab is not running")
	}
	return fmt.Errorf("lab up: %s failed to start: %w", name, cause)
}

func runningNames(cfg labconfig.Config) []string {
	recs, _ := readRecords(cfg)
	var out []string
	for name, r := range recs {
		if proc.Alive(r.Process) {
			out = append(out, name)
		}
	}
	return out
}

// fixHint suggests a fix from the failure and the log's last lines.
func fixHint(lines []string, cause error, name string) string {
	text := strings.ToLower(strings.Join(lines, "\n") + "\n" + cause.Error())
	switch {
	case strings.Contains(text, "address already in use"):
		return "a port it needs is taken: find the owner with `ss -ltnp`, free it or change the port in lab.yaml, then run `switchyard lab up` again"
	case strings.Contains(text, "executable file not found") || strings.Contains(text, "no such file or directory") ||
		strings.Contains(text, ": not found") || strings.Contains(text, "exited with status 127"):
		return "a program or file it needs is missing: run `make deps` (installs the lab's packages and binaries), then `switchyard lab up` again"
	case strings.Contains(text, "permission denied") || strings.Contains(text, "operation not permitted"):
		return "it lacks a permission: the lab runs as root (network namespaces, nginx); run `switchyard lab up` as root"
	case strings.Contains(text, "not ready after"):
		return fmt.Sprintf("it started but never became ready: read its log (`switchyard lab logs %s`), fix the cause and run `switchyard lab up` again", name)
	}
	return fmt.Sprintf("read the log above (all of it: `switchyard lab logs %s`), fix the cause and run `switchyard lab up` again", name)
}

// lock takes the lab's exclusive lock, waiting (and saying so) when another
// `lab up`/`lab down` holds it.
func lock(cfg labconfig.Config, out io.Writer) (func(), error) {
	if err := ensureDirs(cfg); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(cfg.Path("run", "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock the lab: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		fmt.Fprintf(out, "waiting for another `switchyard lab up/down` on %s to finish...\n", cfg.Dir)
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			f.Close()
			return nil, fmt.Errorf("lock the lab: %w", err)
		}
	}
	return func() { f.Close() }, nil
}

func joinLines(errs []error) error {
	var b []string
	for _, e := range errs {
		b = append(b, e.Error())
	}
	return errors.New(strings.Join(b, "\n  "))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
