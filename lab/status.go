package lab

import (
	"context"
	"fmt"
	"io"
	"sort"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/switchyard/switchyard/lab/component"
	"github.com/switchyard/switchyard/lab/labconfig"
	"github.com/switchyard/switchyard/lab/proc"
)

// Component states reported by Status.
const (
	StateHealthy    = "healthy"     // running and its Ready probe passes
	StateRunning    = "running"     // running; the component has no probe
	StateUnhealthy  = "unhealthy"   // running but its probe fails
	StateCrashed    = "crashed"     // it was started and is gone
	StateNotStarted = "not started" // no record of it
)

// ComponentStatus is one component's line in `lab status`.
type ComponentStatus struct {
	Name      string     `json:"name"`
	State     string     `json:"state"`
	PID       int        `json:"pid,omitempty"`
	Address   string     `json:"address,omitempty"`
	StartedAt *time.Time `json:"startedAt,omitempty"`
	// Detail is the failing probe's error or how a crashed component ended.
	Detail string `json:"detail,omitempty"`
	Log    string `json:"log"`
	// LogTail holds the last log lines of a crashed or unhealthy component.
	LogTail []string `json:"logTail,omitempty"`
}

// Status reports every component's state: the lab's components in start
// order, then any recorded process that is no longer part of the config.
func Status(ctx context.Context, cfg labconfig.Config, specs []component.Spec) ([]ComponentStatus, error) {
	ordered, err := Order(component.Runnable(specs))
	if err != nil {
		return nil, fmt.Errorf("lab status: %w", err)
	}
	recs, err := readRecords(cfg)
	if err != nil {
		return nil, fmt.Errorf("lab status: %w", err)
	}
	out := make([]ComponentStatus, len(ordered))
	var wg sync.WaitGroup
	for i, s := range ordered {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = statusOf(ctx, cfg, s, recs[s.Name])
		}()
	}
	wg.Wait()
	var extra []string
	for name := range recs {
		if _, ok := indexOf(ordered, name); !ok {
			extra = append(extra, name)
		}
	}
	sort.Strings(extra)
	for _, name := range extra {
		st := statusOf(ctx, cfg, component.Spec{Name: name}, recs[name])
		st.Detail = "no longer part of the lab config; `switchyard lab down` stops it"
		out = append(out, st)
	}
	return out, nil
}

func statusOf(ctx context.Context, cfg labconfig.Config, s component.Spec, r *Record) ComponentStatus {
	st := ComponentStatus{Name: s.Name, Address: s.Address, Log: LogPath(cfg, s.Name)}
	if r == nil {
		st.State = StateNotStarted
		return st
	}
	if st.Address == "" {
		st.Address = r.Address
	}
	t := r.StartedAt
	st.StartedAt = &t
	st.PID = r.Process.PID
	if !proc.Alive(r.Process) {
		st.State = StateCrashed
		st.Detail = "exited (status unknown: the process was killed or the machine restarted)"
		if e, ok := readExit(cfg, s.Name); ok {
			st.Detail = e.String()
		}
		st.LogTail = tail(st.Log, logTailLines)
		return st
	}
	if s.Ready == nil {
		st.State = StateRunning
		return st
	}
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := s.Ready(pctx); err != nil {
		st.State = StateUnhealthy
		st.Detail = err.Error()
		st.LogTail = tail(st.Log, logTailLines)
		return st
	}
	st.State = StateHealthy
	return st
}

func indexOf(specs []component.Spec, name string) (int, bool) {
	for i, s := range specs {
		if s.Name == name {
			return i, true
		}
	}
	return -1, false
}

// PrintStatus renders statuses as a table, followed by the log tails of the
// components that are not well.
func PrintStatus(w io.Writer, sts []ComponentStatus) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "COMPONENT\tPID\tADDRESS\tSTATE\tUPTIME\tDETAIL")
	for _, s := range sts {
		pid, up := "-", "-"
		if s.PID > 0 {
			pid = fmt.Sprint(s.PID)
		}
		if s.StartedAt != nil && (s.State == StateHealthy || s.State == StateRunning || s.State == StateUnhealthy) {
			up = time.Since(*s.StartedAt).Round(time.Second).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, pid, dash(s.Address), s.State, up, s.Detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range sts {
		if len(s.LogTail) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s is %s; last lines of %s:\n", s.Name, s.State, s.Log)
		for _, l := range s.LogTail {
			fmt.Fprintf(w, "  | %s\n", l)
		}
	}
	return nil
}
