package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/switchyard/switchyard/appspec"
	"github.com/switchyard/switchyard/capacity"
	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/internal/connect"
	"github.com/switchyard/switchyard/plan"
	"github.com/switchyard/switchyard/plan/inventory"
)

// ExitUnsatisfiable is the exit code of `switchyard plan` when a blocker
// makes the plan impossible (the plan and its reasons are still printed).
const ExitUnsatisfiable = 2

// planOptions are the flags of `switchyard plan`.
type planOptions struct {
	cmd                               *cobra.Command
	marathonURL, mesosURL, kubeconfig string
	noKubernetes                      bool
	timeout                           time.Duration
	output                            string
	namespace                         string
	usageFile                         string
	inventoryFile                     string
	dumpInventory                     bool
	order                             string
	opts                              plan.Options
	// resolved, when set, is the context to read (migrate's, which may be
	// a lab's through --lab-dir); else the command's flags choose it.
	resolved *config.Context
	// dir holds the app.yaml files to plan (DIR, default .).
	dir string
}

// newPlanOptions are the defaults of `switchyard plan`, which `migrate
// --wave N` without --plan plans with too (so the two never disagree).
func newPlanOptions(cmd *cobra.Command) *planOptions {
	return &planOptions{
		cmd: cmd, timeout: 30 * time.Second, output: "text", namespace: "default",
		order: string(plan.OrderDependenciesFirst),
		opts:  plan.Options{MaxWaveSize: plan.DefaultMaxWaveSize, RollbackWindow: 1, Headroom: 1.25},
	}
}

func newPlanCmd() *cobra.Command {
	o := newPlanOptions(nil)
	cmd := &cobra.Command{
		Use:   "plan [DIR]",
		Short: "Plan the migration of the apps under DIR in waves, checked against both platforms' capacity",
		Long: `Plan reads the app.yaml files under DIR (default .), the live Marathon apps and tasks, the Mesos
master's agents and the Kubernetes nodes, pods and services, and orders the migrations in waves: every app after
the apps it depends on (--order dependents-first reverses it), higher priority first (an app inherits the priority
of the apps waiting on it), at most --max-wave-size apps per wave. For each wave it checks, in a first-fit-decreasing
simulation, that the shared nodes' Kubernetes side has room for the wave's pods (their requests: app.yaml, else the
Marathon definition, adjusted by --usage), growing Kubernetes shares where the Mesos side can give room without
squeezing live Marathon tasks or the rollback room of apps migrated in the last --rollback-window waves; and it
reports host ports both platforms hold (Marathon tasks vs Kubernetes hostPorts and NodePorts).

An unsatisfiable plan is printed with its blockers (which app, node and resource, and what would unblock it) and
the command exits with code 2. -o json writes the plan the executor reads (switchyard migrate --wave N --plan FILE);
its fields are documented in package plan.`,
		Args: cobra.MaximumNArgs(1),
		RunE: runE(o),
	}
	f := cmd.Flags()
	f.StringVar(&o.marathonURL, "marathon-url", "", "Marathon URL (default $MARATHON_URL)")
	f.StringVar(&o.mesosURL, "mesos-url", "", "Mesos master URL (default $MESOS_MASTER_URL)")
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig of the Kubernetes cluster (default $KUBECONFIG, ~/.kube/config)")
	f.BoolVar(&o.noKubernetes, "no-kubernetes", false, "plan without reading Kubernetes (no node has joined yet)")
	f.DurationVar(&o.timeout, "timeout", o.timeout, "timeout of the inventory read")
	f.StringVarP(&o.output, "output", "o", o.output, "output format: text|json|yaml")
	f.StringVar(&o.namespace, "namespace", o.namespace, "Kubernetes namespace of apps whose app.yaml names none")
	f.StringVar(&o.usageFile, "usage", "", "observed peak usage per instance (YAML/JSON: {APP-or-MARATHON-ID: {cpus: 0.2, mem: 180}}); requests follow it")
	f.StringVar(&o.inventoryFile, "inventory", "", "plan from a saved inventory (JSON from --dump-inventory) instead of the live platforms")
	f.BoolVar(&o.dumpInventory, "dump-inventory", false, "print the inventory as JSON and stop")
	f.StringVar(&o.order, "order", o.order, "dependencies-first (backends first) or dependents-first")
	f.IntVar(&o.opts.MaxWaveSize, "max-wave-size", o.opts.MaxWaveSize, "most apps in one wave")
	f.IntVar(&o.opts.RollbackWindow, "rollback-window", o.opts.RollbackWindow, "waves during which a migrated app keeps Mesos room to roll back (-1: the whole plan)")
	f.BoolVar(&o.opts.NoRollbackRoom, "no-rollback-room", false, "keep no rollback room (apps are finalized right after their wave)")
	f.Float64Var(&o.opts.Headroom, "headroom", o.opts.Headroom, "requests = observed usage × headroom (with --usage)")
	f.BoolVar(&o.opts.NoShareChanges, "no-share-changes", false, "check the current Kubernetes shares only; never propose growing them")
	f.BoolVar(&o.opts.NoJoin, "no-join", false, "never propose that a node not yet in Kubernetes joins")
	o.cmd = cmd
	return cmd
}

// Complete takes DIR and, unless --inventory replaces the live platforms,
// resolves the context (--context, flags, environment).
func (o *planOptions) Complete(cmd *cobra.Command, args []string) error {
	o.cmd, o.dir = cmd, "."
	if len(args) == 1 {
		o.dir = args[0]
	}
	if o.inventoryFile == "" && o.resolved == nil {
		c, err := resolveContext(cmd)
		if err != nil {
			return err
		}
		o.resolved = &c
	}
	return nil
}

// Validate checks -o and, unless --dump-inventory, the planning options
// (--order, --max-wave-size, --rollback-window, --headroom) as plan.Make
// checks them: on an empty inventory, without reading anything.
func (o *planOptions) Validate() error {
	switch o.output {
	case "text", "table", "json", "yaml":
	default:
		return fmt.Errorf("-o %q: use text, json or yaml", o.output)
	}
	if o.dumpInventory {
		return nil
	}
	_, err := plan.Make(plan.Inventory{}, o.planOpts())
	return err
}

// Run plans the apps under DIR (or dumps the inventory) and prints the
// plan; an unsatisfiable plan exits with ExitUnsatisfiable.
func (o *planOptions) Run(ctx context.Context, out io.Writer) error {
	if o.dumpInventory {
		inv, _, err := o.inventory(ctx, o.dir)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(inv)
	}
	p, err := o.make(ctx, o.dir)
	if err != nil {
		return err
	}
	if err := Print(out, o.output, p, func(w io.Writer) error { return planText(w, p) }); err != nil {
		return err
	}
	if err := unsatisfiable(p); err != nil {
		return &ExitError{Code: ExitUnsatisfiable, Err: err}
	}
	return nil
}

// planOpts are the planning options with --order.
func (o *planOptions) planOpts() plan.Options {
	opts := o.opts
	opts.Order = plan.Order(o.order)
	return opts
}

// make plans the apps under dir (the inventory's warnings join the plan's).
func (o *planOptions) make(ctx context.Context, dir string) (*plan.Plan, error) {
	inv, warns, err := o.inventory(ctx, dir)
	if err != nil {
		return nil, err
	}
	p, err := plan.Make(inv, o.planOpts())
	if err != nil {
		return nil, err
	}
	p.Warnings = append(warns, p.Warnings...)
	return p, nil
}

// unsatisfiable lists a plan's blockers as an error (nil for a plan that
// can be carried out).
func unsatisfiable(p *plan.Plan) error {
	if p.OK {
		return nil
	}
	msgs := make([]string, len(p.Blockers))
	for i, b := range p.Blockers {
		msgs[i] = b.Error()
	}
	return fmt.Errorf("the plan cannot be carried out (%d blocker(s)):\n  %s", len(p.Blockers), strings.Join(msgs, "\n  "))
}

// inventory reads the saved inventory, or the app.yaml files and the live platforms.
func (o *planOptions) inventory(ctx context.Context, dir string) (plan.Inventory, []string, error) {
	if o.inventoryFile != "" {
		b, err := os.ReadFile(o.inventoryFile)
		if err != nil {
			return plan.Inventory{}, nil, fmt.Errorf("--inventory: %w", err)
		}
		var inv plan.Inventory
		if err := json.Unmarshal(b, &inv); err != nil {
			return inv, nil, fmt.Errorf("--inventory %s: %w (write it with --dump-inventory)", o.inventoryFile, err)
		}
		return inv, nil, nil
	}
	specs, err := appspec.LoadDir(dir)
	if err != nil {
		return plan.Inventory{}, nil, err
	}
	usage, err := readUsage(o.usageFile)
	if err != nil {
		return plan.Inventory{}, nil, err
	}
	r, err := o.reader(ctx)
	if err != nil {
		return plan.Inventory{}, nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	src, err := r.Read(rctx)
	if err != nil {
		return plan.Inventory{}, nil, err
	}
	return inventory.Build(src, specs, inventory.Options{Namespace: o.namespace, Usage: usage,
		Capacity: capacity.BuildOptions{NodeNameFrom: capacity.NodeNameAuto}})
}

func (o *planOptions) reader(ctx context.Context) (inventory.Reader, error) {
	var c config.Context
	if o.resolved != nil {
		c = *o.resolved
	} else {
		var err error
		if c, err = resolveContext(o.cmd); err != nil {
			return inventory.Reader{}, err
		}
	}
	mc, err := connect.Marathon(ctx, c)
	if err != nil {
		return inventory.Reader{}, err
	}
	cr, err := capacityReader(c, !o.noKubernetes)
	if err != nil {
		return inventory.Reader{}, err
	}
	return inventory.Reader{Marathon: mc, Mesos: cr.Mesos, Kube: cr.Kube}, nil
}

// readUsage reads --usage: observed peak usage per instance by app name or
// Marathon id.
func readUsage(path string) (map[string]plan.Resources, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--usage: %w", err)
	}
	var u map[string]plan.Resources
	if err := yaml.UnmarshalStrict(b, &u); err != nil {
		return nil, fmt.Errorf("--usage %s: %w (want {APP: {cpus: 0.2, mem: 180}}, mem in MiB)", path, err)
	}
	for k, r := range u {
		if r.CPUs < 0 || r.Mem < 0 || r.Disk < 0 {
			return nil, fmt.Errorf("--usage %s: %s: negative usage", path, k)
		}
	}
	return u, nil
}
