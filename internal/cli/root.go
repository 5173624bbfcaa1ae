// Package cli builds switchyard's cobra command tree. Each command lives in its
// own file with an Options type (Complete/Validate/Run, in the kubectl style:
// Complete resolves the context, defaults and files, Validate checks the flags
// without I/O, Run does the work); its RunE is runE(o), which calls the three
// in that order. Domain logic lives in the domain packages, never here.
package cli

import (
	"github.com/spf13/cobra"
)

// NewRoot returns the root `switchyard` command with every sub-command attached.
func NewRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "switchyard",
		Short:         "Move live workloads from Mesos + Marathon to Kubernetes on the same nodes",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	addContextFlags(root) // context.go: --context, --config
	root.AddCommand(
		newVersionCmd(),
		newMarathonCmd(), // marathon.go: validate, and later client sub-commands
		newLabCmd(),      // lab.go: up, status, down, logs, env, and hidden run daemons
		newDemoAppCmd(),  // demoapp.go: the demo workload
		newConvertCmd(),  // convert.go: Marathon -> Kubernetes manifests or a Helm chart
		newDeployCmd(),   // deploy.go: deploy app.yaml to Marathon or Helm
		newDiffCmd(),     // diff.go: what deploy would change
		newCapacityCmd(), // capacity*.go: capacity, plan, watch
		newMigrateCmd(),  // migrate*.go: live migration Marathon -> Kubernetes
		newRollbackCmd(), // rollback*.go: move apps back to Marathon
		newStatusCmd(),   // status*.go: migrations in the journal
		newJournalCmd(),  // journal.go: backup and check the migration journal
		newPlanCmd(),     // plan*.go: migration waves checked against capacity
		newLBCmd(),       // lb*.go: the load-balancer module (render) and route follower (sync)
		newConfigCmd(),   // config.go: contexts
		newServeCmd(),    // serve.go: the controller as a service (API, events, metrics, HA on etcd)
		newBundleCmd(),   // bundle*.go: offline bundles (create, verify, install, keygen)

		newKubeletWrapperCmd(), // kubeletwrapper*.go: the kubelet wrapper a Marathon app runs
	)
	return root
}
