package cli

import (
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/switchyard/switchyard/lab/kube"
	"github.com/switchyard/switchyard/lab/nodeagent"
)

// labRunNodeAgentOptions binds `lab run node-agent` flags.
type labRunNodeAgentOptions struct {
	node, kubeconfig string
	drain            bool
	workers          int
}

// newLabRunNodeAgentCmd is the hidden `lab run node-agent` daemon: one lab
// node registered as a Kubernetes Node, running its pods as local processes.
func newLabRunNodeAgentCmd() *cobra.Command {
	o := &labRunNodeAgentOptions{}
	cmd := &cobra.Command{
		Use:   "node-agent --config LAB.yaml --node NAME",
		Short: "Run the Kubernetes node agent of one lab node (started by `lab up`)",
		Long: `Register one lab node with the lab's Kubernetes API server (capacity = the node's total, allocatable = its
kubernetesShare, like a kubelet with --system-reserved), keep its Lease, and run the pods bound to it as local
processes in per-pod network namespaces. SIGTERM leaves the pods running for the next agent to re-adopt, unless
--drain-on-exit is set.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.node == "" {
				return errors.New("--node is required: the name of a lab node (nodes[].name in lab.yaml)")
			}
			lo := &labOptions{}
			if f := cmd.Flags().Lookup("config"); f != nil {
				lo.configFile = f.Value.String()
			}
			if f := cmd.Flags().Lookup("lab-dir"); f != nil {
				lo.labDir = f.Value.String()
			}
			if err := lo.load(false, cmd.ErrOrStderr()); err != nil {
				return err
			}
			n, ok := lo.cfg.NodeByName(o.node)
			if !ok {
				return fmt.Errorf("--node %s: no such node in %s (nodes[].name)", o.node, lo.configPath)
			}
			if n.KubernetesShare == nil {
				return fmt.Errorf("--node %s: the node has no kubernetesShare in %s, so it does not join Kubernetes (set kubernetesShare, 0 is allowed)", o.node, lo.configPath)
			}
			kc := o.kubeconfig
			if kc == "" {
				var err error
				if kc, err = kube.NodeKubeconfig(lo.cfg, o.node); err != nil {
					return err
				}
			}
			rc, err := clientcmd.BuildConfigFromFlags("", kc)
			if err != nil {
				return fmt.Errorf("node kubeconfig %s: %w", kc, err)
			}
			ctx, stop := signalContext(cmd.Context())
			defer stop()
			return nodeagent.Run(ctx, nodeagent.Options{
				ConfigPath: lo.configPath, Config: lo.cfg, Node: o.node, REST: rc, Self: lo.self,
				DrainOnExit: o.drain, Workers: o.workers,
				Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)),
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.node, "node", "", "lab node to register (nodes[].name)")
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig of the node identity (default: the lab's node kubeconfig)")
	f.BoolVar(&o.drain, "drain-on-exit", false, "stop every pod gracefully on SIGTERM (default: leave them running for re-adoption)")
	f.IntVar(&o.workers, "workers", 10, "pod sync workers")
	return cmd
}
