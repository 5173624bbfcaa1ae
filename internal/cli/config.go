package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// newConfigCmd is `switchyard config` (placeholder until package config lands).
func newConfigCmd() *cobra.Command {
	return &cobra.Command{Use: "config", Short: "Contexts: which Marathon, Kubernetes and load balancers a command works on", RunE: func(*cobra.Command, []string) error {
		return errors.New("config: not built yet")
	}}
}
