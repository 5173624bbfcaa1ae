package cli

import "github.com/spf13/cobra"

// TODO(lab helper): replace with the real demo-app command.
func newDemoAppCmd() *cobra.Command {
	return &cobra.Command{Use: "demo-app", Short: "Run the demo HTTP workload"}
}
