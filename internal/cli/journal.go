package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/switchyard/switchyard/journal"
	"github.com/switchyard/switchyard/migrate/control"
)

// newJournalCmd is `switchyard journal backup|check`: the migration
// journal found as status finds it (the context's journal.path, --journal).
func newJournalCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "journal",
		Short: "Back up or check the migration journal",
	}
	cmd.AddCommand(newJournalBackupCmd(), newJournalCheckCmd())
	return cmd
}

// journalBackupOptions are the options of `switchyard journal backup DEST`.
type journalBackupOptions struct {
	journalCmdOptions
	dest string
}

// Complete resolves the context's journal and makes DEST absolute.
func (o *journalBackupOptions) Complete(cmd *cobra.Command, args []string) error {
	if err := o.journalCmdOptions.Complete(cmd, args); err != nil {
		return err
	}
	dest, err := filepath.Abs(args[0])
	if err != nil {
		return fmt.Errorf("journal backup: %w", err)
	}
	o.dest = dest
	return nil
}

// Run backs the journal up and says where to.
func (o *journalBackupOptions) Run(ctx context.Context, out io.Writer) error {
	if err := o.backup(ctx, o.dest); err != nil {
		return err
	}
	fmt.Fprintf(out, "journal %s backed up to %s\n", o.journalPath, o.dest)
	return nil
}

func newJournalBackupCmd() *cobra.Command {
	o := &journalBackupOptions{}
	cmd := &cobra.Command{
		Use:   "backup DEST",
		Short: "Write a consistent copy of the journal to DEST (mode 0600), also while a migrate runs",
		Long: `Backup writes a consistent copy of the migration journal to DEST: one read transaction, to a temporary
file next to DEST, synced, then renamed over it (mode 0600). While a ` + "`switchyard migrate`" + ` runs (it holds the
journal), the copy is made by that executor, asked over its control socket; appends go on meanwhile.
Restore a corrupt journal by copying a backup over it while no migrate runs.`,
		Args: cobra.ExactArgs(1),
		RunE: runE(o),
	}
	o.bind(cmd, false)
	return cmd
}

// backup copies the journal to dest: itself when no executor holds it,
// else through the running executor.
func (o *migrateOptions) backup(ctx context.Context, dest string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if o.etcd {
		return errEtcdJournal("backup", o)
	}
	j, err := journal.OpenReadOnly(o.journalPath, time.Second)
	if err == nil {
		defer j.Close()
		return j.Backup(dest)
	}
	if !errors.Is(err, journal.ErrLocked) {
		return fmt.Errorf("journal backup: %w", err)
	}
	sock, serr := o.socketPath()
	if serr != nil {
		return fmt.Errorf("journal backup: %w (and the running executor cannot be reached: %v)", err, serr)
	}
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := control.Call(cctx, sock, control.Request{Op: control.OpBackup, Path: dest}); err != nil {
		return fmt.Errorf("journal backup through the running executor: %w", err)
	}
	return nil
}

// journalCheckOptions are the options of `switchyard journal check`.
type journalCheckOptions struct {
	journalCmdOptions
}

// Run checks the journal file and prints "ok" or the problems (exit 1).
func (o *journalCheckOptions) Run(_ context.Context, out io.Writer) error {
	if o.etcd {
		return errEtcdJournal("check", &o.migrateOptions)
	}
	problems, err := journal.Check(o.journalPath, time.Second)
	if errors.Is(err, journal.ErrLocked) {
		return &ExitError{Code: 1, Err: fmt.Errorf("journal check: %w (a running migrate holds it: check a backup of it)", err)}
	}
	if err != nil {
		return &ExitError{Code: 1, Err: fmt.Errorf("journal check: %w", err)}
	}
	if len(problems) == 0 {
		fmt.Fprintf(out, "journal %s: ok\n", o.journalPath)
		return nil
	}
	fmt.Fprintf(out, "journal %s: %d problem(s):\n", o.journalPath, len(problems))
	for _, p := range problems {
		fmt.Fprintf(out, "  %s\n", p)
	}
	return &ExitError{Code: 1, Err: &journal.CorruptError{Path: o.journalPath, Problems: problems}}
}

func newJournalCheckCmd() *cobra.Command {
	o := &journalCheckOptions{}
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check the journal's consistency (exit 1 with the problems found)",
		Long: `Check opens the migration journal read-only and runs bbolt's consistency check over it (meta pages,
page tree, freelist, key order). It prints "ok", or the problems and exits 1. A running migrate holds the
journal: check a backup instead (` + "`switchyard journal backup DEST`, then `switchyard journal check --journal DEST`" + `).`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
	o.bind(cmd, false)
	return cmd
}

// errEtcdJournal refuses a file operation on a journal that lives in etcd.
func errEtcdJournal(op string, o *migrateOptions) error {
	return fmt.Errorf("journal %s: the context's journal is in %s, not a file: use etcd's own tools (etcdctl snapshot save, etcdctl get --prefix %s)", op, o.journalName(), o.ctx.Journal.Prefix)
}
