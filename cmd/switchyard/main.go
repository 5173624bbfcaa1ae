// Command switchyard is the CLI and control plane for moving live workloads
// from Mesos + Marathon to Kubernetes on shared nodes.
package main

import (
	"fmt"
	"os"

	"github.com/switchyard/switchyard/internal/cli"
	"github.com/switchyard/switchyard/lab/nodeagent"
)

func main() {
	// The lab node agent's mount shim runs between `ip netns exec` and a
	// pod's container (lab/nodeagent/mountexec.go): it needs no CLI.
	if len(os.Args) > 1 && os.Args[1] == nodeagent.MountExecArg {
		err := nodeagent.MountExec(os.Args[2:])
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(127)
	}
	if err := cli.NewRoot().Execute(); err != nil {
		if cli.Report(err) {
			fmt.Fprintln(os.Stderr, "error:", err)
		}
		os.Exit(cli.ExitCode(err))
	}
}
