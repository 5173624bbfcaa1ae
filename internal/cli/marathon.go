package cli

import "github.com/spf13/cobra"

// newMarathonCmd groups the commands that work with Marathon definitions
// (validate, in marathon_validate.go) and with a running Marathon's API
// (ping, info, apps..., in marathon_api.go).
func newMarathonCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "marathon", Short: "Work with Marathon definitions and APIs"}
	cmd.AddCommand(newMarathonValidateCmd())
	cmd.AddCommand(newMarathonAPICmds()...)
	return cmd
}
