package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/switchyard/switchyard/migrate"
	"github.com/switchyard/switchyard/migrate/control"
)

var controlHelp = map[string]string{
	control.OpPause:  "Hold a running migration at its current weights (no further step; traffic keeps flowing)",
	control.OpResume: "Continue a paused migration from the step it holds",
	control.OpAbort:  "Stop a running migration and roll it back (weights to Marathon, Marathon healthy, Kubernetes removed)",
}

// migrateControlOptions are the options of `switchyard migrate
// pause|resume|abort APP`.
type migrateControlOptions struct {
	journalCmdOptions
	op, app, reason string
	wait            time.Duration
}

// Complete resolves the context (the journal names the control socket)
// and takes the app.
func (o *migrateControlOptions) Complete(cmd *cobra.Command, args []string) error {
	if err := o.journalCmdOptions.Complete(cmd, args); err != nil {
		return err
	}
	o.app = args[0]
	return nil
}

// Run sends the command to the running executor (or the context's server)
// and waits for its effect.
func (o *migrateControlOptions) Run(ctx context.Context, out io.Writer) error {
	if o.server != nil {
		ctx, cancel := context.WithTimeout(ctx, o.wait+5*time.Second)
		defer cancel()
		acc, err := o.server.Command(ctx, o.app, o.op, o.reason)
		if err != nil {
			return remoteError(o.ctx, o.op+" "+o.app, err)
		}
		fmt.Fprintf(out, "%s sent to %s (server replica %s)\n", o.op, o.app, acc.Replica)
		return waitEffect(ctx, out, func(ctx context.Context) ([]migrate.Summary, error) {
			st, err := o.server.Status(ctx)
			return st.Apps, err
		}, o.op, o.app, o.wait)
	}
	sock, err := o.socketPath()
	if err != nil {
		return &ExitError{Code: 1, Err: fmt.Errorf("%s %s: %w", o.op, o.app, err)}
	}
	ctx, cancel := context.WithTimeout(ctx, o.wait+5*time.Second)
	defer cancel()
	if _, err := control.Call(ctx, sock, control.Request{Op: o.op, App: o.app, Reason: o.reason}); err != nil {
		return &ExitError{Code: 1, Err: fmt.Errorf("%s %s: %w", o.op, o.app, err)}
	}
	fmt.Fprintf(out, "%s sent to %s\n", o.op, o.app)
	return waitEffect(ctx, out, func(ctx context.Context) ([]migrate.Summary, error) {
		resp, err := control.Call(ctx, sock, control.Request{Op: control.OpStatus})
		if err != nil {
			return nil, err
		}
		out := make([]migrate.Summary, 0, len(resp.Entries))
		for _, e := range resp.Entries {
			s, err := migrate.Summarize(e)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	}, o.op, o.app, o.wait)
}

// newMigrateControlCmd is `switchyard migrate pause|resume|abort APP`: the
// command goes to the running `switchyard migrate` over its control socket
// and waits until the executor has journaled its effect.
func newMigrateControlCmd(op string) *cobra.Command {
	o := &migrateControlOptions{op: op}
	o.remote = true
	cmd := &cobra.Command{
		Use:   op + " APP",
		Short: controlHelp[op],
		Long: controlHelp[op] + `.

The running ` + "`switchyard migrate`" + ` (which holds the journal) receives the command on its control socket
(control.sock next to the journal), journals the transition and acts on it; this command waits (--wait) until the
journal shows the effect. When the context names a server, the command goes to it instead. A command that cannot
apply (pause while installing, resume when not paused, anything after the migration ended) is refused with the
reason.`,
		Args: cobra.ExactArgs(1),
		RunE: runE(o),
	}
	o.bind(cmd, false)
	cmd.Flags().StringVar(&o.reason, "reason", "", "reason journaled with the command (default \"operator: "+op+"\")")
	cmd.Flags().DurationVar(&o.wait, "wait", 30*time.Second, "how long to wait for the journal to show the effect (0: do not wait)")
	return cmd
}

// waitEffect polls the executor's status (load) until app's journaled
// state shows op's effect: paused (pause), running again (resume), rolling
// back or rolled back (abort).
func waitEffect(ctx context.Context, w io.Writer, load func(context.Context) ([]migrate.Summary, error), op, app string, wait time.Duration) error {
	if wait <= 0 {
		return nil
	}
	deadline := time.Now().Add(wait)
	last := ""
	for {
		sums, err := load(ctx)
		if err != nil {
			if op == control.OpAbort || op == control.OpResume {
				// The executor may have finished the migration and exited.
				fmt.Fprintf(w, "%s: the executor stopped answering (%v); see `switchyard status`\n", app, err)
				return nil
			}
			return fmt.Errorf("%s %s: %w", op, app, err)
		}
		for _, s := range sums {
			if s.App != app {
				continue
			}
			last = s.Phase
			phase := s.BasePhase()
			done := false
			switch op {
			case control.OpPause:
				done = s.Paused || phase.Terminal()
			case control.OpResume:
				done = !s.Paused
			case control.OpAbort:
				done = phase == migrate.RollingBack || phase == migrate.RolledBack
			}
			if done {
				fmt.Fprintf(w, "%s: %s (journal entry %d%s)\n", app, s.Phase, s.Seq, reasonOf(s.Reason))
				return nil
			}
		}
		if time.Now().After(deadline) {
			return &ExitError{Code: 1, Err: fmt.Errorf("%s %s: sent, but after %s the journal still shows %s (an action in progress finishes first; check `switchyard status`)", op, app, wait, last)}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func reasonOf(r string) string {
	if r = strings.TrimSpace(r); r == "" {
		return ""
	}
	return ": " + r
}
