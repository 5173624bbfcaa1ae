package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
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

	systemReserved, kubeReserved, evictionHard, kubeletConfig string

	// Filled by Complete.
	lab *labOptions
	res *nodeagent.Reservation
}

// Complete loads the lab the agent serves (--config or --lab-dir) and the
// reservation (--kubelet-config and the reservation flags).
func (o *labRunNodeAgentOptions) Complete(cmd *cobra.Command, _ []string) error {
	if o.node == "" {
		return nil // Validate says it is required
	}
	var err error
	if o.lab, err = loadLabFromFlags(cmd); err != nil {
		return err
	}
	o.res, err = o.reservation()
	return err
}

// Validate checks that --node names a lab node that joins Kubernetes: it
// has a kubernetesShare, or a reservation gives its allocatable.
func (o *labRunNodeAgentOptions) Validate() error {
	if o.node == "" {
		return errors.New("--node is required: the name of a lab node (nodes[].name in lab.yaml)")
	}
	n, ok := o.lab.cfg.NodeByName(o.node)
	if !ok {
		return fmt.Errorf("--node %s: no such node in %s (nodes[].name)", o.node, o.lab.configPath)
	}
	// A node without kubernetesShare joins only under the kubelet
	// wrapper, whose reservation gives its allocatable.
	if n.KubernetesShare == nil && o.res == nil {
		return fmt.Errorf("--node %s: the node has no kubernetesShare in %s, so it does not join Kubernetes (set kubernetesShare, 0 is allowed, or give a reservation: --kubelet-config/--system-reserved)", o.node, o.lab.configPath)
	}
	return nil
}

// Run registers the node and runs its pods until SIGINT/SIGTERM.
func (o *labRunNodeAgentOptions) Run(ctx context.Context, _ io.Writer) error {
	lo := o.lab
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
	ctx, stop := signalContext(ctx)
	defer stop()
	return nodeagent.Run(ctx, nodeagent.Options{
		ConfigPath: lo.configPath, Config: lo.cfg, Node: o.node, REST: rc, Self: lo.self,
		DrainOnExit: o.drain, Workers: o.workers, Reservation: o.res,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)),
	})
}

// reservation builds the kubelet-style reservation from the flags (nil when
// none is given: allocatable is then the node's kubernetesShare).
func (o *labRunNodeAgentOptions) reservation() (*nodeagent.Reservation, error) {
	if o.systemReserved == "" && o.kubeReserved == "" && o.evictionHard == "" && o.kubeletConfig == "" {
		return nil, nil
	}
	r := nodeagent.Reservation{}
	if o.kubeletConfig != "" {
		var err error
		if r, err = nodeagent.LoadKubeletConfig(o.kubeletConfig); err != nil {
			return nil, fmt.Errorf("--kubelet-config: %w", err)
		}
	}
	if o.systemReserved != "" {
		l, err := nodeagent.ParseResourceList(o.systemReserved)
		if err != nil {
			return nil, fmt.Errorf("--system-reserved: %w", err)
		}
		r.SystemReserved = l
	}
	if o.kubeReserved != "" {
		l, err := nodeagent.ParseResourceList(o.kubeReserved)
		if err != nil {
			return nil, fmt.Errorf("--kube-reserved: %w", err)
		}
		r.KubeReserved = l
	}
	if o.evictionHard != "" {
		m, err := nodeagent.ParseEvictionHard(o.evictionHard)
		if err != nil {
			return nil, fmt.Errorf("--eviction-hard: %w", err)
		}
		r.EvictionHard = m
	}
	return &r, nil
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
--drain-on-exit is set.

With --system-reserved/--kube-reserved/--eviction-hard (kubelet syntax) or --kubelet-config (a
KubeletConfiguration file with those fields; flags win), allocatable is computed from the node's total as a kubelet
computes it, instead of taken from kubernetesShare: this is how the kubelet wrapper of a shared node starts it.`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
	f := cmd.Flags()
	f.StringVar(&o.node, "node", "", "lab node to register (nodes[].name)")
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig of the node identity (default: the lab's node kubeconfig)")
	f.BoolVar(&o.drain, "drain-on-exit", false, "stop every pod gracefully on SIGTERM (default: leave them running for re-adoption)")
	f.IntVar(&o.workers, "workers", 10, "pod sync workers")
	f.StringVar(&o.systemReserved, "system-reserved", "", "resources held back for the rest of the node, e.g. cpu=2,memory=4Gi,ephemeral-storage=10Gi")
	f.StringVar(&o.kubeReserved, "kube-reserved", "", "resources held back for Kubernetes daemons, e.g. cpu=100m,memory=256Mi")
	f.StringVar(&o.evictionHard, "eviction-hard", "", "hard eviction thresholds, e.g. memory.available<100Mi,nodefs.available<10%")
	f.StringVar(&o.kubeletConfig, "kubelet-config", "", "KubeletConfiguration file to read systemReserved, kubeReserved and evictionHard from")
	return cmd
}
