package cli

import "github.com/spf13/cobra"

// labRunCommands lists the daemons registered under the hidden `lab run`
// parent; each lab helper provides its constructor in labrun_<name>.go.
func labRunCommands() []*cobra.Command {
	return []*cobra.Command{}
}
