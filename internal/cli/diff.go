package cli

import (
	"context"
	"errors"
	"io"

	"github.com/spf13/cobra"

	"github.com/switchyard/switchyard/deploy"
)

// DiffOptions are the options of `switchyard diff`: deploy's, read only.
type DiffOptions struct {
	DeployOptions
}

// Complete loads the apps and resolves the context.
func (o *DiffOptions) Complete(cmd *cobra.Command, args []string) error {
	return o.complete(cmd, args)
}

// Validate checks -o.
func (o *DiffOptions) Validate() error { return o.validate() }

func newDiffCmd() *cobra.Command {
	o := &DiffOptions{}
	cmd := &cobra.Command{
		Use:   "diff APP.yaml|DIR",
		Short: "Show what deploying app.yaml files would change on Marathon or Kubernetes",
		Long: `Show what ` + "`switchyard deploy`" + ` would change, without changing anything:
for type: marathon the fields of the running Marathon app that differ from the
definition (fields the definition leaves out are Marathon's defaults and are
not shown); for type: helm the unified diff of the release's current manifest
against the rendered chart. Exit status 0 when nothing would change, 2 when
something would, 1 on error (as diff(1)).`,
		Args: cobra.ExactArgs(1),
		RunE: runE(o),
	}
	o.addFlags(cmd, false)
	return cmd
}

// errChanges is the exit status 2 of diff when something would change.
var errChanges = errors.New("deploying would change something")

// Run prints what deploying the apps would change (exit 2 when something
// would).
func (o *DiffOptions) Run(ctx context.Context, out io.Writer) error {
	d, err := o.Deployer(ctx, o.errOut)
	if err != nil {
		return err
	}
	ctx, cancel := signalContext(ctx)
	defer cancel()
	var diffs []*deploy.Diff
	var errs []error
	for _, s := range o.specs {
		df, err := d.Diff(ctx, s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		diffs = append(diffs, df)
	}
	if diffs == nil {
		diffs = []*deploy.Diff{}
	}
	if err := Print(out, o.Output, diffs, func(w io.Writer) error {
		for _, df := range diffs {
			if err := df.WriteText(w); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	for _, df := range diffs {
		if !df.Empty() {
			return &ExitError{Code: 2, Err: errChanges, Silent: true}
		}
	}
	return nil
}
