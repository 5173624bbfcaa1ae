package cli

import "github.com/spf13/cobra"

// newLBCmd is `switchyard lb`: the load-balancer module for the operator's
// own nginx fleet (render) and the long-running route follower (sync).
func newLBCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lb",
		Short: "The load-balancer module: render it for your nginx, keep every route in step with the platforms",
	}
	cmd.AddCommand(newLBRenderCmd(), newLBSyncCmd())
	return cmd
}
