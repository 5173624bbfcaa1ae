package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/switchyard/switchyard/plan"
)

// planText prints a plan for people: a header, each wave's apps with their
// requests and placement, share changes, blockers and warnings.
func planText(w io.Writer, p *plan.Plan) error {
	apps := 0
	for _, wv := range p.Waves {
		apps += len(wv.Apps)
	}
	status := "OK"
	if !p.OK {
		status = fmt.Sprintf("UNSATISFIABLE (%d blocker(s))", len(p.Blockers))
	}
	fmt.Fprintf(w, "Plan: %d app(s) in %d wave(s): %s\n", apps, len(p.Waves), status)
	win := "for the next wave"
	switch {
	case p.Options.NoRollbackRoom:
		win = "none kept"
	case p.Options.RollbackWindow < 0:
		win = "until the end of the plan"
	case p.Options.RollbackWindow > 1:
		win = fmt.Sprintf("for the next %d waves", p.Options.RollbackWindow)
	}
	fmt.Fprintf(w, "Order: %s, at most %d app(s) per wave; rollback room: %s\n", p.Options.Order, p.Options.MaxWaveSize, win)
	for _, wv := range p.Waves {
		fmt.Fprintf(w, "\nWave %d\n", wv.Index)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  APP\tMARATHON ID\tPRIO\tPODS\tREQUESTS/POD\tLIMITS/POD\tFROM\tPLACEMENT\tROUTE\tSTEPS")
		for _, a := range wv.Apps {
			prio := strconv.Itoa(a.Priority)
			if a.EffectivePriority != a.Priority {
				prio += "→" + strconv.Itoa(a.EffectivePriority)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", a.Name, a.MarathonID, prio, a.Instances,
				fmtReq(a.Requests), fmtLim(a.Limits), a.RequestsFrom, fmtPlacement(a.Placement), a.Route.Path, fmtSteps(a.Gates))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if len(wv.ShareChanges) > 0 {
			fmt.Fprintln(w, "  Share changes (before the wave's pods start):")
			for _, c := range wv.ShareChanges {
				verb := "grow"
				if c.Joins {
					verb = "join Kubernetes:"
				}
				fmt.Fprintf(w, "    %s %s share %s → %s (allocatable %s) for %s\n", c.Node, verb, fmtReq(c.From), fmtReq(c.To), fmtReq(c.Allocatable), strings.Join(c.For, ", "))
			}
		}
		for _, b := range wv.Blockers {
			fmt.Fprintf(w, "  BLOCKED: %s\n", b.Message)
			for _, u := range b.Unblock {
				fmt.Fprintf(w, "    to unblock: %s\n", u)
			}
		}
		for _, m := range wv.Warnings {
			fmt.Fprintf(w, "  warning: %s\n", m)
		}
	}
	if len(p.Conflicts) > 0 {
		fmt.Fprintf(w, "\nHost-port conflicts between the platforms (%d):\n", len(p.Conflicts))
		for _, c := range p.Conflicts {
			fmt.Fprintf(w, "  %s\n", c.Message())
		}
	}
	var other []string
	for _, m := range p.Warnings {
		if !strings.HasPrefix(m, "port ") {
			other = append(other, m)
		}
	}
	if len(other) > 0 {
		fmt.Fprintln(w, "\nWarnings:")
		for _, m := range other {
			fmt.Fprintf(w, "  %s\n", m)
		}
	}
	return nil
}

func fmtReq(r plan.Resources) string {
	s := capFmt(r.CPUs) + " cpu " + fmtMiB(r.Mem)
	if r.Disk > 0 {
		s += " disk " + fmtMiB(r.Disk)
	}
	return s
}

func fmtLim(r plan.Resources) string {
	var parts []string
	if r.CPUs > 0 {
		parts = append(parts, capFmt(r.CPUs)+" cpu")
	}
	if r.Mem > 0 {
		parts = append(parts, fmtMiB(r.Mem))
	}
	if r.Disk > 0 {
		parts = append(parts, "disk "+fmtMiB(r.Disk))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}

func capFmt(v float64) string {
	return strconv.FormatFloat(float64(int64(v*1000+0.5))/1000, 'f', -1, 64)
}

func fmtPlacement(ps []plan.Placement) string {
	if len(ps) == 0 {
		return "-"
	}
	parts := make([]string, 0, len(ps))
	for i, p := range ps {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("+%d nodes", len(ps)-3))
			break
		}
		parts = append(parts, fmt.Sprintf("%s×%d", p.Node, p.Pods))
	}
	return strings.Join(parts, ",")
}

func fmtSteps(g plan.Gates) string {
	if len(g.Steps) == 0 {
		return "-"
	}
	s := make([]string, len(g.Steps))
	for i, v := range g.Steps {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, "/") + "% every " + time.Duration(g.PausePerStep).String()
}
