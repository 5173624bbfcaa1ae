package cli

import "github.com/spf13/cobra"

// labRunCommands lists the daemons registered under the hidden `lab run`
// parent; each lab helper provides its constructor in labrun_<name>.go.
func labRunCommands() []*cobra.Command {
	return []*cobra.Command{
		newLabRunMarathonCmd(),  // labrun_marathon.go: the lab's Marathon and Mesos view
		newLabRunNodeAgentCmd(), // labrun_nodeagent.go: one lab node as a Kubernetes Node
	}
}
