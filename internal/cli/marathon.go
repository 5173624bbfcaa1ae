package cli

import "github.com/spf13/cobra"

// TODO(model helper): replace with the real `marathon` command tree.
func newMarathonCmd() *cobra.Command {
	return &cobra.Command{Use: "marathon", Short: "Work with Marathon definitions and APIs"}
}
