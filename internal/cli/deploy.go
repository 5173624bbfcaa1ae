package cli

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/switchyard/switchyard/appspec"
	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/deploy"
	"github.com/switchyard/switchyard/internal/connect"
)

// DeployOptions holds the flags and arguments shared by `deploy` and `diff`.
type DeployOptions struct {
	// Path is an app.yaml or a directory of them.
	Path string
	// Kubeconfig, Context and Namespace select the cluster (client-go rules).
	Kubeconfig, Context, Namespace string
	// MarathonURL is Marathon's URL (default $MARATHON_URL).
	MarathonURL string
	// LBAdmin is the shared nginx's admin API (default $SWITCHYARD_LB_ADMIN).
	LBAdmin string
	// LabDir is a lab whose settings fill what the flags and environment leave unset.
	LabDir string
	// DryRun checks everything and applies nothing.
	DryRun bool
	// Timeout bounds the wait for each app.
	Timeout time.Duration
	// Output is text or json.
	Output string
	// MesosURL is the Mesos master read by the capacity check (default
	// $MESOS_MASTER_URL, then the lab's).
	MesosURL string
	// SkipCapacityCheck deploys without checking the nodes' free room.
	SkipCapacityCheck bool

	// Filled by Complete.
	specs   []*appspec.Spec
	context config.Context
	errOut  io.Writer
}

func (o *DeployOptions) addFlags(cmd *cobra.Command, deployFlags bool) {
	f := cmd.Flags()
	f.StringVar(&o.Kubeconfig, "kubeconfig", "", "kubeconfig file, overrides the context's (and $KUBECONFIG)")
	f.StringVar(&o.Context, "kube-context", "", "kubeconfig context, overrides the context's")
	f.StringVarP(&o.Namespace, "namespace", "n", "", "namespace of releases whose app.yaml names none (default the context's)")
	f.StringVar(&o.MarathonURL, "marathon-url", "", "Marathon URL, overrides the context's (and $MARATHON_URL)")
	f.StringVar(&o.LabDir, "lab-dir", "", "work on the lab in this directory (its context) instead of the current context")
	f.StringVarP(&o.Output, "output", "o", "text", "output format: text or json")
	if deployFlags {
		f.StringVar(&o.LBAdmin, "lb-admin", "", "admin API of the load balancer where routes are registered, overrides the context's instances")
		f.String("lb-token-file", "", "the admin API's token file (with --lb-admin)")
		f.BoolVar(&o.DryRun, "dry-run", false, "check, render and dry-run everything on the platforms; apply nothing")
		f.DurationVar(&o.Timeout, "timeout", deploy.DefaultTimeout, "how long to wait for each app to be ready")
		f.StringVar(&o.MesosURL, "mesos-url", "", "Mesos master read by the capacity check of Marathon apps, overrides the context's")
		f.BoolVar(&o.SkipCapacityCheck, "skip-capacity-check", false, "deploy without checking that the apps fit on the nodes' free room")
	}
}

func newDeployCmd() *cobra.Command {
	o := &DeployOptions{}
	cmd := &cobra.Command{
		Use:   "deploy APP.yaml|DIR",
		Short: "Deploy apps described by app.yaml to Marathon or Kubernetes (Helm)",
		Long: `Deploy the app described by an app.yaml, or every app.yaml under a directory
(dependencies first). type: marathon creates or updates the Marathon app and
waits for its deployment; type: helm installs or upgrades a Helm release (the
chart, or the Marathon definition converted into one) and waits until its
pods are ready. On failure it shows why (Marathon: last task failure and the
launch queue; Kubernetes: the failing pods' events and logs) and rolls the
change back. Then it registers the app's route at the shared nginx.

Every app is checked first (definitions, charts rendered, objects dry-run on
the API server, and capacity: a set that would over-commit a node is refused
naming the node and the resource; Marathon apps are placed on the Mesos
master's free room, Helm releases on the nodes' allocatable minus pod
requests); when one fails nothing is applied.`,
		Example: `  switchyard deploy examples/apps/web/app.yaml
  switchyard deploy examples/apps --dry-run`,
		Args: cobra.ExactArgs(1),
		RunE: runE(o),
	}
	o.addFlags(cmd, true)
	return cmd
}

// complete loads the apps of APP.yaml|DIR and resolves the context
// (--lab-dir: the lab's).
func (o *DeployOptions) complete(cmd *cobra.Command, args []string) error {
	o.Path, o.errOut = args[0], cmd.ErrOrStderr()
	specs, err := appspec.LoadPath(o.Path)
	if err != nil {
		return err
	}
	o.specs = specs
	o.context, err = contextOrLab(cmd, o.LabDir)
	return err
}

// validate checks -o.
func (o *DeployOptions) validate() error {
	if o.Output != "text" && o.Output != "json" {
		return fmt.Errorf("unknown output format %q: use text or json", o.Output)
	}
	return nil
}

// nothingApplied says, under a deploy's error, that nothing was applied.
func nothingApplied(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w\nnothing was applied", err)
}

// Complete loads the apps and resolves the context.
func (o *DeployOptions) Complete(cmd *cobra.Command, args []string) error {
	return nothingApplied(o.complete(cmd, args))
}

// Validate checks -o.
func (o *DeployOptions) Validate() error {
	return nothingApplied(o.validate())
}

// Deployer builds the deploy.Deployer from the completed context,
// overridden by the flags and the environment; it reports to out.
func (o *DeployOptions) Deployer(ctx context.Context, out io.Writer) (*deploy.Deployer, error) {
	c := o.context
	kube := connect.Kube(c)
	kube.Timeout = 30 * time.Second // deploy never watches: a request that hangs fails
	opts := deploy.Options{Out: out, DryRun: o.DryRun, Timeout: o.Timeout, Convert: deploy.ConvertChart(convertOptionsForDeploy()),
		SkipCapacityCheck: o.SkipCapacityCheck, Kube: kube}
	var err error
	if c.Marathon.URL != "" {
		if opts.Marathon, err = connect.Marathon(ctx, c); err != nil {
			return nil, err
		}
	}
	if d := c.LabDir(); d != "" {
		opts.PodLogDir = filepath.Join(d, "pods")
	}
	if opts.Mesos, err = connect.Mesos(c); err != nil {
		return nil, err
	}
	if len(c.LBInstances()) > 0 {
		if opts.Traffic, err = connect.Fleet(c); err != nil {
			return nil, err
		}
	}
	return deploy.New(opts), nil
}

// Run checks and deploys the apps and prints what it did.
func (o *DeployOptions) Run(ctx context.Context, out io.Writer) error {
	progress := out
	if o.Output == "json" {
		progress = o.errOut
	}
	d, err := o.Deployer(ctx, progress)
	if err != nil {
		return nothingApplied(err)
	}
	ctx, cancel := signalContext(ctx)
	defer cancel()
	results, err := d.DeployAll(ctx, o.specs)
	if perr := Print(out, o.Output, deployReport{Results: emptyIfNil(results), DryRun: o.DryRun}, func(w io.Writer) error {
		return printResults(w, results)
	}); perr != nil && err == nil {
		err = perr
	}
	return err
}

func emptyIfNil(r []*deploy.Result) []*deploy.Result {
	if r == nil {
		return []*deploy.Result{}
	}
	return r
}

// deployReport is the answer of `deploy -o json`.
type deployReport struct {
	Results []*deploy.Result `json:"results"`
	DryRun  bool             `json:"dryRun"`
}

func printResults(w io.Writer, results []*deploy.Result) error {
	if len(results) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nAPP\tPLATFORM\tACTION\tID\tROUTE\tBACKENDS\tTIME")
	for _, r := range results {
		route := r.Route
		if route == "" {
			route = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", r.App, r.Platform, r.Action, r.ID, route, len(r.Backends), r.Duration)
	}
	return tw.Flush()
}
