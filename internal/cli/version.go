package cli

import (
	"context"
	"io"

	"github.com/spf13/cobra"

	"github.com/switchyard/switchyard/internal/version"
)

// versionOptions are the options of `switchyard version`.
type versionOptions struct {
	output string
}

// Complete has nothing to fill in.
func (o *versionOptions) Complete(*cobra.Command, []string) error { return nil }

// Validate has nothing to check (Print refuses an unknown -o).
func (o *versionOptions) Validate() error { return nil }

// Run prints the version, commit and Go version.
func (o *versionOptions) Run(_ context.Context, out io.Writer) error {
	info := version.Get()
	if o.output == "text" {
		_, err := out.Write([]byte(info.String() + "\n"))
		return err
	}
	return Print(out, o.output, info, nil)
}

func newVersionCmd() *cobra.Command {
	o := &versionOptions{}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print switchyard's version, commit and Go version",
		Args:  cobra.NoArgs,
		RunE:  runE(o),
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", "text", "output format: text|json|yaml")
	return cmd
}
