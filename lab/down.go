package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/lab/component"
	"github.com/switchyard/switchyard/lab/labconfig"
	"github.com/switchyard/switchyard/lab/proc"
)

// sweepGrace is how long a leftover process (a Marathon task, a pod
// container) gets between SIGTERM and SIGKILL during the sweep.
const sweepGrace = 5 * time.Second

// LeftoverError lists what `lab down` found still running after stopping the lab.
type LeftoverError struct {
	Processes []string // "pid (command)"
	Listeners []string // "addr (pid N, command)"
}

// Error lists the leftovers.
func (e *LeftoverError) Error() string {
	var parts []string
	if len(e.Processes) > 0 {
		parts = append(parts, "processes still running: "+strings.Join(e.Processes, ", "))
	}
	if len(e.Listeners) > 0 {
		parts = append(parts, "ports still listening: "+strings.Join(e.Listeners, ", "))
	}
	return strings.Join(parts, "; ")
}

// Down stops the lab: components in reverse start order (SIGTERM, their
// StopGrace, SIGKILL) and their Cleanup, then every process still carrying
// the lab's marker (Marathon tasks, pod containers). It then verifies that no
// process of the lab and no listening port of the lab is left, and returns a
// *LeftoverError when something is.
func Down(ctx context.Context, cfg labconfig.Config, specs []component.Spec, out io.Writer, opts ...Option) error {
	ordered, err := Order(specs)
	if err != nil {
		return fmt.Errorf("lab down: %w", err)
	}
	unlock, err := lock(cfg, out)
	if err != nil {
		return fmt.Errorf("lab down: %w", err)
	}
	defer unlock()
	recs, err := readRecords(cfg)
	if err != nil {
		return fmt.Errorf("lab down: %w", err)
	}
	var errs []error
	var addrs []string
	// Recorded processes that are no longer in the config go first.
	var extra []string
	for name := range recs {
		if _, ok := indexOf(ordered, name); !ok {
			extra = append(extra, name)
		}
	}
	// Newest first, as they were presumably started in dependency order.
	sort.Slice(extra, func(i, j int) bool { return recs[extra[i]].StartedAt.After(recs[extra[j]].StartedAt) })
	for _, name := range extra {
		stopRecord(recs[name], out)
		addrs = append(addrs, hostPort(recs[name].Address))
		removeRecord(cfg, name)
	}
	for i := len(ordered) - 1; i >= 0; i-- {
		s := ordered[i]
		if r := recs[s.Name]; r != nil {
			stopRecord(r, out)
			addrs = append(addrs, hostPort(r.Address))
		}
		if s.Cleanup != nil {
			if err := s.Cleanup(context.WithoutCancel(ctx)); err != nil {
				errs = append(errs, fmt.Errorf("cleanup of %s: %w", s.Name, err))
			}
		}
		removeRecord(cfg, s.Name)
	}
	if n := sweep(Marker(cfg), out); n > 0 {
		fmt.Fprintf(out, "  stopped %d leftover process(es) carrying %s\n", n, Marker(cfg))
	}
	if err := verifyGone(cfg, ordered, addrs); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("lab down: %w", errors.Join(errs...))
	}
	fmt.Fprintf(out, "lab %s is down: no process and no port of it is left\n", cfg.ID)
	return nil
}

func stopRecord(r *Record, out io.Writer) {
	if !proc.Alive(r.Process) {
		return
	}
	grace := r.StopGrace
	if grace <= 0 {
		grace = DefaultStopGrace
	}
	t0 := time.Now()
	proc.StopID(r.Process, grace, nil)
	fmt.Fprintf(out, "  %-24s stopped (pid %d) in %s\n", r.Name, r.Process.PID, time.Since(t0).Round(10*time.Millisecond))
}

// sweep stops every process carrying marker (proc.Sweep) but this
// command's callers, and returns how many it stopped.
func sweep(marker string, out io.Writer) int {
	return proc.Sweep(marker, sweepGrace, ancestors(), func(id proc.ID) {
		fmt.Fprintf(out, "  sweeping pid %d (%s)\n", id.PID, proc.Comm(id.PID))
	})
}

// ancestors are the processes above this one: a `lab down` run from a shell
// or tool that carries the marker must not stop its own caller.
func ancestors() map[int]bool {
	out := map[int]bool{}
	for pid := os.Getppid(); pid > 1 && !out[pid]; {
		out[pid] = true
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			break
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 2 {
			break
		}
		pid, _ = strconv.Atoi(f[1])
	}
	return out
}

// verifyGone checks that no process carries the lab's marker and nothing
// listens on the lab's ports or on its nodes' addresses.
func verifyGone(cfg labconfig.Config, specs []component.Spec, extraAddrs []string) error {
	le := &LeftoverError{}
	skip := ancestors()
	for _, id := range proc.FindByEnv(Marker(cfg)) {
		if skip[id.PID] {
			continue
		}
		le.Processes = append(le.Processes, fmt.Sprintf("%d (%s)", id.PID, proc.Comm(id.PID)))
	}
	for _, a := range Leftovers(cfg, specs, extraAddrs) {
		le.Listeners = append(le.Listeners, a)
	}
	if len(le.Processes) == 0 && len(le.Listeners) == 0 {
		return nil
	}
	return le
}

// Leftovers lists listeners that belong to the lab by address: its
// components' ports and anything on its nodes' loopback addresses, each as
// "addr (pid N, command)". Empty when the lab is fully down.
func Leftovers(cfg labconfig.Config, specs []component.Spec, extraAddrs []string) []string {
	ips := map[netip.Addr]bool{}
	for _, n := range cfg.Nodes {
		if a, err := netip.ParseAddr(n.Address); err == nil {
			ips[a] = true
		}
	}
	want := map[netip.AddrPort]bool{}
	for _, u := range Ports(cfg, specs) {
		extraAddrs = append(extraAddrs, u.Addr)
	}
	for _, a := range extraAddrs {
		if ap, err := netip.ParseAddrPort(a); err == nil {
			want[ap] = true
		}
	}
	var out []string
	seen := map[netip.AddrPort]bool{}
	for _, l := range proc.Listeners() {
		{
			a := l.Addr
			if seen[a] {
				continue
			}
			hit := ips[a.Addr()] || want[a]
			if !hit && a.Addr().IsUnspecified() {
				for w := range want {
					if w.Port() == a.Port() {
						hit = true
					}
				}
			}
			if hit {
				seen[a] = true
				desc := a.String()
				if pid := proc.ListenerPID(a.String()); pid > 0 {
					desc += " (pid " + strconv.Itoa(pid) + ", " + proc.Comm(pid) + ")"
				}
				out = append(out, desc)
			}
		}
	}
	sort.Strings(out)
	return out
}
