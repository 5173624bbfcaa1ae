package cli

import (
	"context"
	"errors"
	"io"

	"github.com/spf13/cobra"

	"github.com/switchyard/switchyard/appspec"
	"github.com/switchyard/switchyard/deploy"
)

func newDiffCmd() *cobra.Command {
	o := &DeployOptions{}
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
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Path = args[0]
			return o.RunDiff(cmd.Context(), cmd, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	o.addFlags(cmd, false)
	return cmd
}

// errChanges is the exit status 2 of diff when something would change.
var errChanges = errors.New("deploying would change something")

// RunDiff loads the apps and prints their diffs.
func (o *DeployOptions) RunDiff(ctx context.Context, cmd *cobra.Command, out, errOut io.Writer) error {
	specs, err := appspec.LoadPath(o.Path)
	if err != nil {
		return err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	d, err := o.Deployer(ctx, cmd, errOut)
	if err != nil {
		return err
	}
	ctx, cancel := signalContext(ctx)
	defer cancel()
	var diffs []*deploy.Diff
	var errs []error
	for _, s := range specs {
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
