package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/switchyard/switchyard/capacity"
	"github.com/switchyard/switchyard/internal/kubeclient"
	"github.com/switchyard/switchyard/lab/labconfig"
	"github.com/switchyard/switchyard/mesos"
	"github.com/switchyard/switchyard/wrapper"
)

// kubeletWrapperOptions binds `kubelet-wrapper` flags.
type kubeletWrapperOptions struct {
	node, total, kubeReserved, evictionHard string
	labConfig, mesosURL                     string
	kubelet                                 string
	kubeletArgs                             []string
	kubeconfig                              string
	noDrain                                 bool
	drainTimeout, stopGrace                 time.Duration
	configDir                               string
	maxFailures                             int
	lockDir                                 string

	// Filled by Complete.
	task      wrapper.Task
	nodeName  string
	nodeTotal capacity.Resources
	drain     *kubeclient.Clients // nil with --no-drain
	stdout    io.Writer
	stderr    io.Writer
}

// Complete reads the Marathon task from the environment, finds the node's
// name and total, and (unless --no-drain) the credentials to drain it.
func (o *kubeletWrapperOptions) Complete(cmd *cobra.Command, _ []string) error {
	o.stdout, o.stderr = cmd.OutOrStdout(), cmd.ErrOrStderr()
	var err error
	if o.task, err = wrapper.TaskFromEnv(os.Getenv); err != nil {
		return err
	}
	if o.nodeName, o.nodeTotal, err = o.resolveNode(cmdContext(cmd), o.task); err != nil {
		return err
	}
	if !o.noDrain {
		if o.drain, err = (&kubeclient.Factory{Kubeconfig: o.kubeconfig, QPS: 50, Burst: 100}).Clients(); err != nil {
			return fmt.Errorf("drain credentials: %w (pass --kubeconfig or set KUBECONFIG, or --no-drain)", err)
		}
	}
	return nil
}

// Validate checks --kube-reserved and --eviction-hard.
func (o *kubeletWrapperOptions) Validate() error {
	_, err := o.overhead()
	return err
}

// overhead is what --kube-reserved and --eviction-hard carve from the share.
func (o *kubeletWrapperOptions) overhead() (capacity.Overhead, error) {
	kr, err := capacity.ParseResources(o.kubeReserved)
	if err != nil {
		return capacity.Overhead{}, fmt.Errorf("--kube-reserved: %w", err)
	}
	ev, err := capacity.ParseResources(o.evictionHard)
	if err != nil {
		return capacity.Overhead{}, fmt.Errorf("--eviction-hard: %w", err)
	}
	return capacity.Overhead{KubeReserved: kr, EvictionHard: ev}, nil
}

// Run runs kubelet under the wrapper until it stops (signals are handed
// to it).
func (o *kubeletWrapperOptions) Run(ctx context.Context, _ io.Writer) error {
	ov, err := o.overhead()
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(o.stderr, nil))
	opts := wrapper.Options{
		Node: o.nodeName, Total: o.nodeTotal, Overhead: ov, Task: o.task,
		Kubelet: o.kubelet, KubeletArgs: o.kubeletArgs, ConfigDir: o.configDir,
		DrainTimeout: o.drainTimeout, LockDir: o.lockDir, StopGrace: o.stopGrace, MaxFailures: o.maxFailures,
		Stdout: o.stdout, Stderr: o.stderr, Logger: log,
	}
	if o.drain != nil {
		opts.Drainer = &wrapper.Drainer{Client: o.drain.Clientset, Logger: log}
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, os.Interrupt, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(sigs)
	opts.Signals = sigs
	return wrapper.Run(ctx, opts)
}

// newKubeletWrapperCmd is `switchyard kubelet-wrapper`, the process a
// node's wrapper Marathon app runs (see package wrapper).
func newKubeletWrapperCmd() *cobra.Command {
	o := &kubeletWrapperOptions{}
	ov := capacity.DefaultOverhead()
	cmd := &cobra.Command{
		Use:   "kubelet-wrapper --node NAME --total cpus=..,mem=..,disk=.. --kubelet PROGRAM",
		Short: "Hold a node's Kubernetes share as a Marathon task and run kubelet inside it",
		Long: `Run as a Marathon task on a shared node (one app per node, see 'switchyard capacity plan'). The task's
resources (MARATHON_APP_RESOURCE_CPUS/MEM/DISK) are the Kubernetes share; the wrapper computes systemReserved =
node total − share (the Mesos side), kubeReserved and evictionHard (carved from the share), writes a
KubeletConfiguration to $MESOS_SANDBOX/kubelet-config.yaml and starts kubelet with it ("{kubelet-config}" and
"{node}" in --kubelet-arg are replaced; otherwise --config=<file> is appended). It restarts kubelet when it crashes
(backoff 1s doubling to 30s) and exits after --max-failures quick crashes so Marathon reschedules it; SIGHUP,
SIGUSR1 and SIGUSR2 are forwarded to kubelet. On SIGTERM it cordons the node and evicts its pods through the
Eviction API (PodDisruptionBudgets respected) within --drain-timeout, then stops kubelet; keep --drain-timeout
below the app's taskKillGracePeriodSeconds. /healthz on $HOST:$PORT0 answers 200 while kubelet runs.

The node total comes from --total, else $SWITCHYARD_NODE_TOTAL, else the lab config (--lab-config), else the
Mesos master (--mesos-url or $MESOS_MASTER_URL: the agent whose hostname is $HOST).`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
	f := cmd.Flags()
	f.StringVar(&o.node, "node", "", "Kubernetes node name (default: the lab node whose address is $HOST, else $HOST)")
	f.StringVar(&o.total, "total", "", "node total, e.g. cpus=4,mem=8192,disk=20480 (MiB)")
	f.StringVar(&o.kubeReserved, "kube-reserved", capacity.FormatResources(ov.KubeReserved), "kubelet reservation carved from the share")
	f.StringVar(&o.evictionHard, "eviction-hard", capacity.FormatResources(ov.EvictionHard), "hard eviction thresholds carved from the share (mem, disk)")
	f.StringVar(&o.labConfig, "lab-config", "", "lab.yaml to read the node total (and name) from")
	f.StringVar(&o.mesosURL, "mesos-url", "", "Mesos master to read the node total from (default $MESOS_MASTER_URL)")
	f.StringVar(&o.kubelet, "kubelet", "kubelet", "kubelet program")
	f.StringArrayVar(&o.kubeletArgs, "kubelet-arg", nil, "kubelet argument (repeatable; {node} and {kubelet-config} are replaced)")
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig allowed to cordon and evict (default $KUBECONFIG)")
	f.BoolVar(&o.noDrain, "no-drain", false, "do not drain the node on SIGTERM")
	f.DurationVar(&o.drainTimeout, "drain-timeout", 120*time.Second, "drain deadline on SIGTERM (below the kill grace period)")
	f.DurationVar(&o.stopGrace, "stop-grace", 10*time.Second, "time kubelet gets after SIGTERM before SIGKILL")
	f.StringVar(&o.configDir, "config-dir", "", "where to write kubelet-config.yaml (default $MESOS_SANDBOX, else .)")
	f.IntVar(&o.maxFailures, "max-failures", 5, "quick consecutive kubelet crashes before the wrapper gives up")
	f.StringVar(&o.lockDir, "lock-dir", "/run/switchyard", "directory of the per-node lock: a new wrapper waits until the previous one of its node has drained and exited (empty: no lock)")
	return cmd
}

// resolveNode finds the node name and total from the flags, environment,
// lab config or Mesos master.
func (o *kubeletWrapperOptions) resolveNode(ctx context.Context, t wrapper.Task) (string, capacity.Resources, error) {
	node := o.node
	spec := o.total
	if spec == "" {
		spec = os.Getenv("SWITCHYARD_NODE_TOTAL")
	}
	if o.labConfig != "" {
		cfg, err := labconfig.Load(o.labConfig)
		if err != nil {
			return "", capacity.Resources{}, fmt.Errorf("--lab-config: %w", err)
		}
		var n labconfig.Node
		found := false
		for _, c := range cfg.Nodes {
			if (node != "" && c.Name == node) || (node == "" && c.Address == t.Host) {
				n, found = c, true
			}
		}
		if !found {
			return "", capacity.Resources{}, fmt.Errorf("--lab-config %s: no node named %q or with address $HOST=%q", o.labConfig, node, t.Host)
		}
		node = n.Name
		if spec == "" {
			return node, capacity.Resources{CPUs: n.Resources.CPUs, Mem: n.Resources.Mem, Disk: n.Resources.Disk}, nil
		}
	}
	if node == "" {
		node = t.Host
	}
	if spec != "" {
		r, err := capacity.ParseResources(spec)
		if err != nil {
			return "", capacity.Resources{}, fmt.Errorf("--total: %w", err)
		}
		return node, r, nil
	}
	mc := mesos.NewClient(o.mesosURL)
	if o.mesosURL == "" {
		c, err := mesos.NewClientFromEnv()
		if err != nil {
			return "", capacity.Resources{}, fmt.Errorf("no node total: pass --total, --lab-config or --mesos-url (%w)", err)
		}
		mc = c
	}
	sl, err := mc.Slaves(ctx)
	if err != nil {
		return "", capacity.Resources{}, fmt.Errorf("node total from Mesos: %w", err)
	}
	for _, s := range sl.Slaves {
		if s.Hostname == t.Host {
			r := capacity.FromMesos(s.Resources)
			r.Ports = 0
			return node, r, nil
		}
	}
	return "", capacity.Resources{}, fmt.Errorf("node total from Mesos: no agent with hostname $HOST=%q at %s", t.Host, mc.URL())
}
