package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/switchyard/switchyard/migrate"
	"github.com/switchyard/switchyard/serve"
)

// rollbackOptions are the options of `switchyard rollback`.
type rollbackOptions struct {
	migrateOptions
	// names are the apps to roll back.
	names []string
}

// Complete resolves the context and loads the app specs.
func (o *rollbackOptions) Complete(cmd *cobra.Command, args []string) error {
	if err := o.complete(cmd, true); err != nil {
		return err
	}
	o.names = args
	return nil
}

// Validate checks -o (cobra checks that apps are named).
func (o *rollbackOptions) Validate() error { return ValidateFormat(o.output) }

// Run rolls the apps back and reports each one (rolled back is success).
func (o *rollbackOptions) Run(ctx context.Context, out io.Writer) error {
	if o.server != nil {
		return remoteRun(ctx, out, o.ctx, o.server, o.output, o.detach, func(ctx context.Context) (serve.Accepted, error) {
			acc := serve.Accepted{Op: "rollback"}
			for _, app := range o.names {
				a, err := o.server.Command(ctx, app, "rollback", "")
				if err != nil {
					return acc, fmt.Errorf("%s: %w", app, err)
				}
				acc.Apps, acc.Replica = append(acc.Apps, app), a.Replica
			}
			return acc, nil
		}, migrate.RolledBack)
	}
	ctx, cancel := signalContext(context.Background())
	defer cancel()
	start := time.Now()
	rs, err := o.run(ctx, out, o.names, migrate.Event{Kind: migrate.EvRollback, Reason: "operator: switchyard rollback"})
	if err != nil {
		return err
	}
	var rb *migrate.RolledBackError
	for i := range rs {
		if errors.As(rs[i].Err, &rb) {
			rs[i].Err = nil // rolled back is what was asked
		}
	}
	return report(out, o.output, rs, time.Since(start))
}

func newRollbackCmd() *cobra.Command {
	o := &rollbackOptions{migrateOptions: migrateOptions{onRestart: string(migrate.ResumeContinue), remote: true}}
	cmd := &cobra.Command{
		Use:   "rollback APP...",
		Short: "Move apps back to Marathon: weights first, Marathon healthy, then the Kubernetes release removed",
		Long: `Rollback takes each app's migration from the journal and rolls it back: all weight returns to Marathon
(after scaling it back up when it was scaled down), Marathon is checked healthy at its original instance count,
then the Kubernetes objects are removed. Each step is journaled. A finalized migration (Marathon app removed)
moves back: the Marathon app is created again from the definition journaled when the migration started,
traffic shifts back step by step judged on Marathon's requests, then the Kubernetes release is removed; a
failed gate on the way leaves the app on Kubernetes (Marathon app removed again). The journal is locked while
a migrate command runs: stop it first (Ctrl-C journals where it stood). When the context names a server, the
rollback runs there and this command follows it (--detach: does not).`,
		Args: cobra.MinimumNArgs(1),
		RunE: runE(o),
	}
	o.bind(cmd, true)
	cmd.Flags().StringVarP(&o.output, "output", "o", "table", "result format: table, json or yaml")
	cmd.Flags().BoolVar(&o.detach, "detach", false, "with a context's server: return once the server accepted the rollback")
	return cmd
}
