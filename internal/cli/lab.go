package cli

import "github.com/spf13/cobra"

// TODO(lab helper): replace with the real `lab` command tree.
func newLabCmd() *cobra.Command {
	return &cobra.Command{Use: "lab", Short: "Run the local lab: Marathon, Mesos view, Kubernetes and nginx on loopback"}
}
