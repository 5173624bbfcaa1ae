package cli

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/switchyard/switchyard/capacity"
	"github.com/switchyard/switchyard/capacity/inventory"
	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/internal/connect"
)

// capacityOptions are the inventory flags every `capacity` command shares.
type capacityOptions struct {
	mesosURL      string
	kubeconfig    string
	noKubernetes  bool
	wrapperPrefix string
	nodeNameFrom  string
	timeout       time.Duration
	output        string

	// context is the resolved context (Complete).
	context config.Context
}

func (o *capacityOptions) addFlags(cmd *cobra.Command) {
	f := cmd.PersistentFlags()
	f.StringVar(&o.mesosURL, "mesos-url", "", "Mesos master URL (default $MESOS_MASTER_URL)")
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig of the Kubernetes cluster (default $KUBECONFIG, ~/.kube/config)")
	f.BoolVar(&o.noKubernetes, "no-kubernetes", false, "read the Mesos side only")
	f.StringVar(&o.wrapperPrefix, "wrapper-prefix", capacity.DefaultWrapperAppPrefix, "Marathon app id prefix of the kubelet wrapper apps")
	f.StringVar(&o.nodeNameFrom, "node-name-from", capacity.NodeNameAuto, "name of a node not yet in Kubernetes: hostname, agent-id, or auto (the hostname unless it is an IP address)")
	f.DurationVar(&o.timeout, "timeout", 30*time.Second, "timeout of the inventory read")
	f.StringVarP(&o.output, "output", "o", "table", "output format: table|json|yaml")
}

// Complete resolves the context (--context, the connection flags, the
// environment).
func (o *capacityOptions) Complete(cmd *cobra.Command, _ []string) error {
	c, err := resolveContext(cmd)
	if err != nil {
		return err
	}
	o.context = c
	return nil
}

// Validate checks --node-name-from.
func (o *capacityOptions) Validate() error {
	switch o.nodeNameFrom {
	case capacity.NodeNameAuto, capacity.NodeNameHostname, capacity.NodeNameAgentID:
		return nil
	}
	return fmt.Errorf("--node-name-from %q: use auto, hostname or agent-id", o.nodeNameFrom)
}

// Run reads the inventory and prints each node's capacity.
func (o *capacityOptions) Run(ctx context.Context, out io.Writer) error {
	c, err := o.cluster(ctx)
	if err != nil {
		return err
	}
	rep := c.Report()
	return Print(out, o.output, rep, func(w io.Writer) error { return capacityTable(w, rep) })
}

// reader builds the inventory reader from the context: Mesos, and
// Kubernetes unless --no-kubernetes.
func (o *capacityOptions) reader() (inventory.Reader, error) {
	return capacityReader(o.context, !o.noKubernetes)
}

// capacityReader connects to what the nodes' inventory reads for c: its
// Mesos master (required) and, when withKube, its Kubernetes.
func capacityReader(c config.Context, withKube bool) (inventory.Reader, error) {
	ms, err := connect.Mesos(c)
	if err != nil {
		return inventory.Reader{}, err
	}
	if ms == nil {
		return inventory.Reader{}, fmt.Errorf("context %s: no Mesos master: mesos.url, MESOS_MASTER_URL or --mesos-url", c.Name)
	}
	r := inventory.Reader{Mesos: ms}
	if withKube {
		kc, err := connect.Kubernetes(c, 0, 0)
		if err != nil {
			return inventory.Reader{}, err
		}
		r.Kube = kc.Clientset
	}
	return r, nil
}

// cluster reads the inventory and builds the model.
func (o *capacityOptions) cluster(ctx context.Context) (capacity.Cluster, error) {
	r, err := o.reader()
	if err != nil {
		return capacity.Cluster{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	return r.Cluster(ctx, capacity.BuildOptions{WrapperAppPrefix: o.wrapperPrefix, NodeNameFrom: o.nodeNameFrom})
}

// newCapacityCmd is `switchyard capacity`: the shared nodes' capacity, and
// its plan / watch sub-commands.
func newCapacityCmd() *cobra.Command {
	o := &capacityOptions{}
	cmd := &cobra.Command{
		Use:   "capacity",
		Short: "Show each shared node's capacity on the Mesos and Kubernetes sides",
		Long: `Read the Mesos master (/master/state) and the Kubernetes API (nodes, pods) and print, per node and for
the cluster: the total, what Mesos tasks hold, the Kubernetes share (the kubelet wrapper task's resources), the
node's allocatable, what pods request, and the free room on each side. A node whose allocations exceed its total,
or whose pod requests exceed its allocatable, is flagged with "!". Field names of -o json are documented in
capacity/README.md.`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
	o.addFlags(cmd)
	// The sub-commands read the inventory through o (their Complete
	// completes it with their own command line).
	cmd.AddCommand(newCapacityPlanCmd(o), newCapacityWatchCmd(o))
	return cmd
}

// fmtRes renders "1.5c 3.5Gi" (cpus, memory) for tables.
func fmtRes(r capacity.Resources) string {
	return capacity.Fmt(r.CPUs) + "c " + fmtMiB(r.Mem)
}

func fmtMiB(m float64) string {
	if math.Abs(m) >= 1024 {
		return capacity.Fmt(math.Round(m/1024*10)/10) + "Gi"
	}
	return capacity.Fmt(math.Round(m)) + "Mi"
}

func pct(used, total float64) string {
	if total <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*used/total)
}

// capacityTable prints one row per node plus a totals row.
func capacityTable(w io.Writer, r capacity.Report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tK8S\tTOTAL\tMESOS TASKS\tMESOS ALLOC\tK8S SHARE\tALLOCATABLE\tPODS\tPOD REQUESTS\tMESOS FREE\tK8S FREE\tMESOS%\tK8S%")
	row := func(name, joined string, total, alloc capacity.Resources, tasks int, share, al capacity.Resources, pods int, req, mfree, kfree capacity.Resources) {
		mused := alloc.Add(share)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", name, joined, fmtRes(total), tasks, fmtRes(alloc), fmtRes(share),
			fmtRes(al), pods, fmtRes(req), fmtRes(mfree), fmtRes(kfree),
			pct(math.Max(mused.CPUs/nz(total.CPUs), mused.Mem/nz(total.Mem))*100, 100),
			pct(math.Max(req.CPUs/nz(al.CPUs), req.Mem/nz(al.Mem))*100, 100))
	}
	for _, n := range r.Nodes {
		joined := "no"
		if n.Joined {
			joined = "yes"
			if n.Cordoned {
				joined = "cordoned"
			}
		}
		name := n.Name
		if n.Violation != "" {
			name = "!" + name
		}
		row(name, joined, n.Total, n.MesosAllocated, n.MesosTasks, n.KubernetesShare, n.Allocatable, n.Pods, n.PodRequests, n.MesosFree, n.KubernetesFree)
	}
	t := r.Totals
	row(fmt.Sprintf("TOTAL (%d)", t.Nodes), fmt.Sprintf("%d", t.Joined), t.Total, t.MesosAllocated, t.MesosTasks, t.KubernetesShare, t.Allocatable, t.Pods, t.PodRequests, t.MesosFree, t.KubernetesFree)
	if err := tw.Flush(); err != nil {
		return err
	}
	var bad []string
	for _, n := range r.Nodes {
		if n.Violation != "" {
			bad = append(bad, n.Violation)
		}
	}
	if len(bad) > 0 {
		fmt.Fprintln(w, "\nover-committed:\n  "+strings.Join(bad, "\n  "))
	}
	return nil
}

func nz(v float64) float64 {
	if v == 0 {
		return math.Inf(1)
	}
	return v
}

// readFileArg reads a file, "-" meaning stdin.
func readFileArg(path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(os.Stdin)
	}
	return os.ReadFile(path)
}
