package cli

import (
	"github.com/spf13/cobra"

	"github.com/switchyard/switchyard/internal/version"
)

func newVersionCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print switchyard's version, commit and Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			info := version.Get()
			if output == "text" {
				_, err := cmd.OutOrStdout().Write([]byte(info.String() + "\n"))
				return err
			}
			return Print(cmd.OutOrStdout(), output, info, nil)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text|json|yaml")
	return cmd
}
