package cli

import "github.com/spf13/cobra"

// newMarathonCmd groups the commands that work with Marathon definitions and APIs.
func newMarathonCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "marathon", Short: "Work with Marathon definitions and APIs"}
	cmd.AddCommand(newMarathonValidateCmd())
	return cmd
}
