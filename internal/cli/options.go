package cli

import (
	"context"
	"io"

	"github.com/spf13/cobra"
)

// commandOptions is the shape every command's options take (kubectl's):
// Complete fills in what the flags leave open (the context, defaults,
// arguments, files to load), Validate checks the flag values and their
// combinations without any I/O, each error naming its flag, and Run does
// the work, writing its result to out.
type commandOptions interface {
	Complete(cmd *cobra.Command, args []string) error
	Validate() error
	Run(ctx context.Context, out io.Writer) error
}

// runE is the RunE of a command whose options are o: Complete, Validate,
// then Run with the command's context and standard output.
func runE(o commandOptions) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if err := o.Complete(cmd, args); err != nil {
			return err
		}
		if err := o.Validate(); err != nil {
			return err
		}
		return o.Run(cmdContext(cmd), cmd.OutOrStdout())
	}
}

// cmdContext is the command's context (Background when it has none, as
// when a test calls RunE directly).
func cmdContext(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}
