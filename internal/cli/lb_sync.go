package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// newLBSyncCmd is `switchyard lb sync` (placeholder until package lbsync lands).
func newLBSyncCmd() *cobra.Command {
	return &cobra.Command{Use: "sync", Short: "Keep every route's pool in step with the platforms", RunE: func(*cobra.Command, []string) error {
		return errors.New("lb sync: not built yet")
	}}
}
