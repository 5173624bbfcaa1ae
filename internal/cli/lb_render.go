package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// newLBRenderCmd is `switchyard lb render` (placeholder until package lb lands).
func newLBRenderCmd() *cobra.Command {
	return &cobra.Command{Use: "render", Short: "Write the nginx module files", RunE: func(*cobra.Command, []string) error {
		return errors.New("lb render: not built yet")
	}}
}
