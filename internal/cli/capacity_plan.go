package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/switchyard/switchyard/capacity"
	"github.com/switchyard/switchyard/marathon"
)

// capacityPlanOptions binds `capacity plan` flags.
type capacityPlanOptions struct {
	target      string
	emitDir     string
	wrapperCmd  string
	wrapperArgs []string
	drain       int
	apply       bool
	marathonURL string

	// co are the inventory flags of `capacity`.
	co *capacityOptions
	// tg is the parsed --target (Complete).
	tg capacity.Target
}

// PlanOutput is what `capacity plan -o json` prints: the plan, each node's
// wrapper app and KubeletConfiguration.
type PlanOutput struct {
	capacity.Resize
	// Apps are the wrapper Marathon apps of the end state, one per node.
	Apps []marathon.App `json:"apps"`
	// KubeletConfigs are the nodes' KubeletConfigurations by node name.
	KubeletConfigs map[string]capacity.KubeletConfiguration `json:"kubeletConfigs"`
}

// Complete resolves the context and reads --target.
func (o *capacityPlanOptions) Complete(cmd *cobra.Command, args []string) error {
	if err := o.co.Complete(cmd, args); err != nil {
		return err
	}
	if o.target == "" {
		return nil // Validate says it is required
	}
	data, err := readFileArg(o.target)
	if err != nil {
		return fmt.Errorf("--target: %w", err)
	}
	if o.tg, err = capacity.ParseTarget(data); err != nil {
		return fmt.Errorf("--target %s: %w", o.target, err)
	}
	return nil
}

// Validate checks that --target is given, and the inventory flags.
func (o *capacityPlanOptions) Validate() error {
	if o.target == "" {
		return fmt.Errorf("--target is required: a YAML/JSON file with shares[] and/or apps[] (see capacity/README.md)")
	}
	return o.co.Validate()
}

// Run plans the target, emits and prints the plan, and applies it with
// --apply.
func (o *capacityPlanOptions) Run(ctx context.Context, w io.Writer) error {
	c, err := o.co.cluster(ctx)
	if err != nil {
		return err
	}
	p, err := capacity.PlanResize(c, o.tg)
	if err != nil {
		return err
	}
	out := o.render(p, o.co.wrapperPrefix)
	if o.emitDir != "" {
		if err := emitPlan(o.emitDir, out); err != nil {
			return err
		}
	}
	if err := Print(w, o.co.output, out, func(w io.Writer) error { return planTable(w, out) }); err != nil {
		return err
	}
	if o.apply {
		return o.applyPlan(ctx, w, out)
	}
	return nil
}

func newCapacityPlanCmd(co *capacityOptions) *cobra.Command {
	o := &capacityPlanOptions{co: co}
	cmd := &cobra.Command{
		Use:   "plan --target FILE",
		Short: "Plan which nodes join Kubernetes and each one's share, step by step, never over-committing a node",
		Long: `Read the inventory, then plan a target (YAML/JSON; see capacity.Target): shares per node or node group
(attribute selector), and/or Marathon apps to migrate. The plan is a sequence of steps, each on one node, that never
over-commits any node: shrinking shares come first; on a growing node the Mesos tasks that must make room are
stopped or moved before its wrapper restarts with the larger share. It emits each node's wrapper Marathon app and
KubeletConfiguration (--emit DIR writes apps/<node>.json and kubelet/<node>.yaml). An unsatisfiable target is
refused naming the node and the resource that block it. --apply performs the steps through Marathon, one node at
a time, waiting for each deployment.`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
	f := cmd.Flags()
	f.StringVar(&o.target, "target", "", "target file (YAML or JSON; - for stdin)")
	f.StringVar(&o.emitDir, "emit", "", "write apps/<node>.json and kubelet/<node>.yaml under this directory")
	f.StringVar(&o.wrapperCmd, "wrapper-command", "switchyard kubelet-wrapper", "program and sub-command that start the wrapper (split on spaces; the app runs it via args, without a shell)")
	f.StringArrayVar(&o.wrapperArgs, "wrapper-arg", nil, "extra wrapper argument (repeatable), e.g. --wrapper-arg=--kubelet=/usr/bin/kubelet")
	f.IntVar(&o.drain, "drain-seconds", 120, "drain deadline of the wrapper on SIGTERM (the kill grace period is 30 s longer)")
	f.BoolVar(&o.apply, "apply", false, "perform the steps through Marathon (MARATHON_URL), one node at a time")
	f.StringVar(&o.marathonURL, "marathon-url", "", "Marathon URL for --apply (default $MARATHON_URL)")
	return cmd
}

func (o *capacityPlanOptions) spec(prefix string) capacity.WrapperSpec {
	return capacity.WrapperSpec{AppPrefix: prefix, Command: o.wrapperCmd, Args: o.wrapperArgs, DrainSeconds: o.drain}
}

func (o *capacityPlanOptions) render(p capacity.Resize, prefix string) PlanOutput {
	out := PlanOutput{Resize: p, Apps: []marathon.App{}, KubeletConfigs: map[string]capacity.KubeletConfiguration{}}
	sp := o.spec(prefix)
	for _, n := range p.Nodes {
		if !n.Changed {
			continue
		}
		out.Apps = append(out.Apps, sp.WrapperApp(n, p.Overhead))
		out.KubeletConfigs[n.Name] = capacity.KubeletConfigFor(n.Reservations)
	}
	return out
}

func emitPlan(dir string, out PlanOutput) error {
	for _, sub := range []string{"apps", "kubelet"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return fmt.Errorf("--emit: %w", err)
		}
	}
	for _, a := range out.Apps {
		b, err := json.MarshalIndent(a, "", "  ")
		if err != nil {
			return fmt.Errorf("--emit: app %s: %w", a.ID, err)
		}
		name := strings.TrimPrefix(a.ID[strings.LastIndex(a.ID, "/")+1:], "kubelet-")
		if err := os.WriteFile(filepath.Join(dir, "apps", name+".json"), append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("--emit: %w", err)
		}
	}
	for _, n := range out.Nodes {
		if !n.Changed {
			continue
		}
		b, err := capacity.KubeletConfigYAML(n.Reservations)
		if err != nil {
			return fmt.Errorf("--emit: kubelet config %s: %w", n.Name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, "kubelet", n.Name+".yaml"), b, 0o644); err != nil {
			return fmt.Errorf("--emit: %w", err)
		}
	}
	return nil
}

func planTable(w io.Writer, out PlanOutput) error {
	if len(out.Steps) == 0 {
		fmt.Fprintln(w, "nothing to do: every node already has its target share")
	}
	for i, s := range out.Steps {
		fmt.Fprintf(w, "%3d. [%s] %s\n", i+1, s.Kind, s.Description)
		for _, t := range s.Tasks {
			dst := ""
			if t.To != "" {
				dst = " → " + t.To
			}
			fmt.Fprintf(w, "       task %s (%s, %s)%s\n", t.ID, t.App, t.Resources, dst)
		}
		if s.Warning != "" {
			fmt.Fprintf(w, "       warning: %s\n", s.Warning)
		}
	}
	fmt.Fprintln(w)
	return capacityNodesTable(w, out.Nodes)
}

func capacityNodesTable(w io.Writer, nodes []capacity.NodePlan) error {
	fmt.Fprintln(w, "end state:")
	for _, n := range nodes {
		tag := ""
		if n.Joins {
			tag = " (joins)"
		} else if !n.Changed {
			tag = " (unchanged)"
		}
		fmt.Fprintf(w, "  %s%s: share %s, systemReserved %s, kubeReserved %s, evictionHard mem=%s disk=%s → allocatable %s\n",
			n.Name, tag, fmtRes(n.Share), fmtRes(n.Reservations.SystemReserved), fmtRes(n.Reservations.KubeReserved),
			fmtMiB(n.Reservations.EvictionHard.Mem), fmtMiB(n.Reservations.EvictionHard.Disk), n.Allocatable)
	}
	return nil
}
