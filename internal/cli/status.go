package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/switchyard/switchyard/internal/connect"
	"github.com/switchyard/switchyard/journal"
	"github.com/switchyard/switchyard/migrate"
	"github.com/switchyard/switchyard/migrate/control"
)

// statusRow is one app's migration as `switchyard status` shows it.
type statusRow struct {
	migrate.Summary
	// Live is true when the row came from a running executor (its control
	// socket) rather than from the journal file.
	Live bool `json:"live"`
}

// statusWait bounds how long status waits for a journal whose lock is
// held (an executor that just started holds it a moment before its
// control socket answers).
var statusWait = 6 * time.Second

// latestEntries returns the latest journal entry of every app: from the
// running executor over its control socket when one runs (it holds the
// journal's lock), else from the journal itself, opened read-only (never
// created nor written; a missing journal is no migration). Only a held
// lock is waited for; any other error (a corrupt journal) is answered at
// once.
func (o *migrateOptions) latestEntries(ctx context.Context) ([]journal.Entry, bool, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	// Without a safe socket path the journal is still readable.
	sock, sockErr := o.socketPath()
	deadline := time.Now().Add(statusWait)
	for {
		if sockErr == nil {
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			resp, err := control.Call(cctx, sock, control.Request{Op: control.OpStatus})
			cancel()
			if err == nil {
				return resp.Entries, true, nil
			}
			if !errors.Is(err, control.ErrNotRunning) {
				return nil, false, fmt.Errorf("status from the running executor: %w", err)
			}
		}
		if o.etcd {
			j, err := connect.JournalReader(ctx, o.ctx)
			if err != nil {
				return nil, false, err
			}
			defer j.Close()
			es, err := j.LoadAll()
			return es, false, err
		}
		j, err := journal.OpenReadOnly(o.journalPath, 500*time.Millisecond)
		switch {
		case err == nil:
			defer j.Close()
			es, err := j.LoadAll()
			return es, false, err
		case errors.Is(err, os.ErrNotExist):
			return nil, false, nil
		case !errors.Is(err, journal.ErrLocked):
			return nil, false, err
		}
		if time.Now().After(deadline) {
			if sockErr != nil {
				return nil, false, fmt.Errorf("%w (a running `switchyard migrate` holds it; its control socket: %v)", err, sockErr)
			}
			return nil, false, fmt.Errorf("%w (a running `switchyard migrate` holds the journal but does not answer on %s)", err, sock)
		}
		select {
		case <-ctx.Done():
			return nil, false, fmt.Errorf("status: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// statusOptions are the options of `switchyard status`.
type statusOptions struct {
	journalCmdOptions
}

// Run prints every app's latest journaled state (live from a running
// executor when one runs).
func (o *statusOptions) Run(ctx context.Context, out io.Writer) error {
	rows, err := o.rows(ctx)
	if err != nil {
		return err
	}
	return Print(out, o.output, rows, func(w io.Writer) error {
		if len(rows) == 0 {
			where := o.journalName()
			if o.server != nil {
				where = "the journal of " + o.server.URL()
			}
			fmt.Fprintf(w, "no migration in %s\n", where)
			return nil
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "APP\tPHASE\tK8S\tMARATHON\tERRORS\tP99\tSINCE\tREASON")
		for _, r := range rows {
			fmt.Fprintf(tw, "%s\t%s\t%d%%\t%d%%\t%.2f%%\t%s\t%s\t%s\n", r.App, r.Phase, r.Kubernetes, r.Marathon,
				100*r.ErrorRate, r.P99, r.Time.Format("2006-01-02 15:04:05"), r.Reason)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		return nil
	})
}

// rows are the apps' summaries: from the context's server when it names
// one, else from the running executor or the journal.
func (o *statusOptions) rows(ctx context.Context) ([]statusRow, error) {
	var rows []statusRow
	if o.server != nil {
		st, err := o.server.Status(ctx)
		if err != nil {
			return nil, remoteError(o.ctx, "status", err)
		}
		for _, s := range st.Apps {
			rows = append(rows, statusRow{Summary: s, Live: true})
		}
		return rows, nil
	}
	es, live, err := o.latestEntries(ctx)
	if err != nil {
		return nil, err
	}
	for _, e := range es {
		sum, err := migrate.Summarize(e)
		if err != nil {
			return nil, err
		}
		rows = append(rows, statusRow{Summary: sum, Live: live})
	}
	return rows, nil
}

func newStatusCmd() *cobra.Command {
	o := &statusOptions{}
	o.remote = true
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show every app's migration: phase, weights, last step's error rate and p99 (live from a running migrate, else from the journal)",
		Args:  cobra.NoArgs,
		RunE:  runE(o),
	}
	o.bind(cmd, false)
	cmd.Flags().StringVarP(&o.output, "output", "o", "table", "output format: table, json or yaml")
	return cmd
}
