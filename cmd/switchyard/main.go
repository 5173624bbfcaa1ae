// Command switchyard is the CLI and control plane for moving live workloads
// from Mesos + Marathon to Kubernetes on shared nodes.
package main

import (
	"fmt"
	"os"

	"github.com/switchyard/switchyard/internal/cli"
)

func main() {
	if err := cli.NewRoot().Execute(); err != nil {
		if cli.Report(err) {
			fmt.Fprintln(os.Stderr, "error:", err)
		}
		os.Exit(cli.ExitCode(err))
	}
}
