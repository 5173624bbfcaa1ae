// Package deploy owns putting an app described by an app.yaml (package
// appspec) onto the platform its type names, and showing what that would
// change: type marathon goes to Marathon through the Marathon client (create
// or update, wait for the deployment, on failure the last task failure and
// the launch queue's reasons); type helm installs or upgrades a Helm release
// through the Helm SDK (a chart, or the Marathon definition converted into
// one), waits until its pods are ready, and on failure shows the failing
// pods' events and logs and rolls the release back. After a successful
// deploy the app's route is registered at the shared nginx with the ready
// backends of the platform that runs it.
//
// Deployer is a library type in the Helm SDK style: the CLI (`switchyard
// deploy`, `switchyard diff`) only fills Options and prints. Every app of a
// set is checked (definitions, charts rendered, objects dry-run on the API
// server, and capacity: a set that would over-commit a node is refused,
// see capacity.Cluster.FitDemands) before anything is applied.
package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/chart"

	"github.com/switchyard/switchyard/appspec"
	"github.com/switchyard/switchyard/internal/kubeclient"
	"github.com/switchyard/switchyard/marathon"
	"github.com/switchyard/switchyard/mesos"
	"github.com/switchyard/switchyard/traffic"
)

// DefaultTimeout bounds the wait for one app to become ready.
const DefaultTimeout = 5 * time.Minute

// ChartConverter turns a Marathon app into a Helm chart (how a team on
// Marathon moves to `type: helm` without writing a chart). namespace is the
// release's namespace. summary is a one-line account of the conversion
// (e.g. the fidelity report's totals) printed with the progress.
type ChartConverter func(app *marathon.App, spec *appspec.Spec, namespace string) (ch *chart.Chart, summary string, err error)

// Options configure a Deployer.
type Options struct {
	// Out receives progress lines (default io.Discard).
	Out io.Writer
	// DryRun checks and renders everything and applies nothing: Marathon
	// definitions are validated, Helm releases are rendered and their
	// objects dry-run on the API server.
	DryRun bool
	// Timeout bounds the wait for each app (default DefaultTimeout).
	Timeout time.Duration
	// Poll is the progress polling interval (default 1s).
	Poll time.Duration

	// Marathon is the Marathon client (needed for type marathon apps).
	Marathon *marathon.Client
	// Kube is the cluster Helm releases go to (needed for type helm apps).
	Kube *kubeclient.Factory
	// Traffic registers routes at the load balancer's instances (nil: routes
	// are not registered).
	Traffic *traffic.Fleet
	// Convert turns a Marathon definition into a chart (needed for type
	// helm apps without a chart).
	Convert ChartConverter
	// LogLines is how many log lines of a failing container are shown (default 20).
	LogLines int
	// PodLogDir is the lab's pod directory (<lab dir>/pods), read for a
	// container's log when the API server cannot serve it (a node agent
	// without the kubelet log API); "" outside the lab.
	PodLogDir string
	// Mesos is the Mesos master whose /master/state gives the nodes' free
	// room for the capacity check of Marathon apps (nil: a set with a
	// Marathon app is refused unless SkipCapacityCheck).
	Mesos *mesos.Client
	// SkipCapacityCheck deploys without checking that the apps fit on the
	// nodes' free room (see the capacity check in DeployAll).
	SkipCapacityCheck bool
}

// Deployer deploys apps and shows their differences with what runs.
type Deployer struct {
	o Options
	// releases is the Helm flow on o.Kube.
	releases *Releases
}

// New returns a Deployer.
func New(o Options) *Deployer {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.LogLines <= 0 {
		o.LogLines = 20
	}
	return &Deployer{o: o, releases: &Releases{Kube: o.Kube, Poll: o.Poll}}
}

// Result is what one deploy did.
type Result struct {
	// App is the app's name; Platform "marathon" or "kubernetes".
	App      string `json:"app"`
	Platform string `json:"platform"`
	// Action is "created", "updated", "installed", "upgraded", or with
	// DryRun "would create"...
	Action string `json:"action"`
	// ID is the Marathon app id or the Helm release (namespace/name).
	ID string `json:"id"`
	// Revision is the Helm release revision (0 for Marathon).
	Revision int `json:"revision,omitempty"`
	// Backends are the ready backends the route was given.
	Backends []traffic.Backend `json:"backends,omitempty"`
	// Route is the registered route name ("" when no route was registered).
	Route string `json:"route,omitempty"`
	// Duration is how long the deploy took.
	Duration time.Duration `json:"duration"`
}

// AppError is a failed deploy of one app: it names the app and its file.
type AppError struct {
	// App and File locate the app.yaml.
	App, File string
	// Err is the cause.
	Err error
}

// Error renders "app web (examples/apps/web/app.yaml): cause".
func (e *AppError) Error() string {
	if e.File == "" {
		return fmt.Sprintf("app %s: %v", e.App, e.Err)
	}
	return fmt.Sprintf("app %s (%s): %v", e.App, e.File, e.Err)
}

// Unwrap returns the cause.
func (e *AppError) Unwrap() error { return e.Err }

func appErr(s *appspec.Spec, err error) error {
	if err == nil {
		return nil
	}
	var ae *AppError
	if errors.As(err, &ae) {
		return err
	}
	return &AppError{App: s.Name, File: s.File, Err: err}
}

// plan is one app checked and ready to apply.
type plan struct {
	spec *appspec.Spec
	// marathon
	app     *marathon.App
	exists  bool
	current *marathon.App
	// helm
	helm *helmPlan
}

// Deploy deploys one app (see DeployAll).
func (d *Deployer) Deploy(ctx context.Context, s *appspec.Spec) (*Result, error) {
	res, err := d.DeployAll(ctx, []*appspec.Spec{s})
	if len(res) > 0 {
		return res[0], err
	}
	return nil, err
}

// DeployAll checks every app first (Marathon definitions, reachability of
// the platforms, charts rendered and their objects dry-run on the API
// server) and applies nothing when one fails; then it deploys them in the
// given order (appspec.LoadDir returns dependencies first), waiting for each
// to be ready and registering its route, and stops at the first failure
// (the failed app's own change is rolled back). With DryRun it stops after
// the checks.
//
// One of the checks is capacity: the set is refused, naming the app, the
// node and the resource, when placing it would over-commit a node (Marathon
// apps on the Mesos side's free room read from the Mesos master, Helm
// releases on the Kubernetes side's; see capacity.Cluster.FitDemands),
// unless Options.SkipCapacityCheck.
func (d *Deployer) DeployAll(ctx context.Context, specs []*appspec.Spec) ([]*Result, error) {
	var plans []*plan
	var errs []error
	for _, s := range specs {
		p, err := d.prepare(ctx, s)
		if err != nil {
			errs = append(errs, appErr(s, err))
			continue
		}
		plans = append(plans, p)
	}
	if len(errs) > 0 {
		if len(specs) > 1 {
			errs = append(errs, fmt.Errorf("nothing was applied: %d of %d apps failed their checks", len(errs), len(specs)))
		} else {
			errs = append(errs, errors.New("nothing was applied"))
		}
		return nil, errors.Join(errs...)
	}
	if err := d.checkCapacity(ctx, plans); err != nil {
		return nil, errors.Join(err, errors.New("nothing was applied"))
	}
	if err := d.checkLoadBalancer(ctx, specs); err != nil {
		return nil, errors.Join(err, errors.New("nothing was applied"))
	}
	var out []*Result
	for _, p := range plans {
		t0 := time.Now()
		var r *Result
		var err error
		if p.helm != nil {
			r, err = d.applyHelm(ctx, p)
		} else {
			r, err = d.applyMarathon(ctx, p)
		}
		if err != nil {
			if done := len(out); done > 0 {
				err = fmt.Errorf("%w (apps deployed before it stay deployed: %s)", err, names(out))
			}
			return out, appErr(p.spec, err)
		}
		r.Duration = time.Since(t0).Round(time.Millisecond)
		out = append(out, r)
	}
	return out, nil
}

// checkLoadBalancer makes sure every load-balancer instance answers (with
// the token) before anything is applied, when some app has a route: an app
// deployed whose route cannot be registered would be half-applied.
func (d *Deployer) checkLoadBalancer(ctx context.Context, specs []*appspec.Spec) error {
	if d.o.Traffic == nil || d.o.DryRun {
		return nil
	}
	routed := false
	for _, s := range specs {
		routed = routed || s.Route != nil
	}
	if !routed {
		return nil
	}
	var errs []error
	for _, c := range d.o.Traffic.Instances {
		if _, err := c.Get(ctx); err != nil {
			errs = append(errs, fmt.Errorf("load balancer: %w", err))
		}
	}
	return errors.Join(errs...)
}

func names(rs []*Result) string {
	var n []string
	for _, r := range rs {
		n = append(n, r.App)
	}
	return strings.Join(n, ", ")
}

func (d *Deployer) prepare(ctx context.Context, s *appspec.Spec) (*plan, error) {
	switch s.Type {
	case appspec.TypeMarathon:
		return d.prepareMarathon(ctx, s)
	case appspec.TypeHelm:
		hp, err := d.prepareHelm(ctx, s)
		if err != nil {
			return nil, err
		}
		return &plan{spec: s, helm: hp}, nil
	}
	return nil, fmt.Errorf("unknown type %q: write type: marathon or type: helm", s.Type)
}

func (d *Deployer) printf(format string, args ...any) {
	fmt.Fprintf(d.o.Out, format, args...)
}
