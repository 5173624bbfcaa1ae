package deploy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"sort"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/cli"
	"helm.sh/helm/v3/pkg/release"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/version"
	"sigs.k8s.io/yaml"

	"github.com/switchyard/switchyard/appspec"
	"github.com/switchyard/switchyard/internal/kubeclient"
	"github.com/switchyard/switchyard/traffic"
)

// dryRunManager is the field manager of the server-side dry runs.
const dryRunManager = "switchyard-deploy"

// helmPlan is a release checked and ready to install or upgrade.
type helmPlan struct {
	Release
	// current is the release's latest revision (nil: not installed);
	// deployed says whether a revision was ever deployed.
	current  *release.Release
	deployed bool
	manifest string
	objects  []*unstructured.Unstructured
	// converted is true when the chart was converted from Marathon.
	converted bool
}

// namespace is where the app's release goes.
func (d *Deployer) namespace(s *appspec.Spec) string {
	if s.Helm != nil && s.Helm.Namespace != "" {
		return s.Helm.Namespace
	}
	ns, _ := d.o.Kube.DefaultNamespace()
	return ns
}

// kube returns the cluster's clients once the API server answered, with
// its version.
func (d *Deployer) kube() (*kubeclient.Clients, *version.Info, error) {
	if d.o.Kube == nil {
		return nil, nil, errors.New("no Kubernetes cluster to deploy to: pass --kubeconfig or set KUBECONFIG")
	}
	kc, err := d.o.Kube.Clients()
	if err != nil {
		return nil, nil, fmt.Errorf("%w (pass --kubeconfig/--context, or set KUBECONFIG; for the lab: eval \"$(switchyard lab env)\")", err)
	}
	sv, err := kc.Clientset.Discovery().ServerVersion()
	if err != nil {
		return nil, nil, fmt.Errorf("the Kubernetes API server at %s cannot be reached: %w (check --kubeconfig/--context and that the cluster runs)", d.o.Kube.Host(), err)
	}
	return kc, sv, nil
}

func (d *Deployer) prepareHelm(ctx context.Context, s *appspec.Spec) (*helmPlan, error) {
	p, err := d.renderHelm(ctx, s)
	if err != nil {
		return nil, err
	}
	if err := d.serverDryRun(ctx, p); err != nil {
		return nil, err
	}
	return p, nil
}

// renderHelm loads the chart (or converts the Marathon definition), merges
// the values, reads the release's history and renders the manifest.
func (d *Deployer) renderHelm(ctx context.Context, s *appspec.Spec) (*helmPlan, error) {
	_, sv, err := d.kube()
	if err != nil {
		return nil, err
	}
	p := &helmPlan{Release: Release{Namespace: d.namespace(s), Name: s.ReleaseName()}}
	ch, err := d.loadChart(s, p.Namespace)
	if err != nil {
		return nil, err
	}
	p.Chart, p.converted = ch, !s.Helm.HasChart()
	if p.Values, err = values(s); err != nil {
		return nil, err
	}
	if p.current, p.deployed, err = d.releases.History(p.Release); err != nil {
		return nil, err
	}
	if c := p.current; c != nil && c.Info != nil && c.Info.Status.IsPending() {
		return nil, fmt.Errorf("release %s has an operation in progress (%s, revision %d): wait for it, or roll it back with helm rollback", p.ID(), c.Info.Status, c.Version)
	}
	kv := &chartutil.KubeVersion{Version: sv.GitVersion, Major: sv.Major, Minor: sv.Minor}
	if p.manifest, err = Render(ctx, p.Release, kv, p.current != nil); err != nil {
		return nil, err
	}
	if p.objects, err = kubeclient.DecodeObjects([]byte(p.manifest)); err != nil {
		return nil, fmt.Errorf("chart %s renders objects that cannot be read: %w", ch.Name(), err)
	}
	if len(p.objects) == 0 {
		return nil, fmt.Errorf("chart %s renders no objects", ch.Name())
	}
	return p, nil
}

// loadChart loads the app's chart, or converts its Marathon definition.
func (d *Deployer) loadChart(s *appspec.Spec, ns string) (*chart.Chart, error) {
	if s.Helm.HasChart() {
		return LoadChart(s)
	}
	app, err := marathonApp(s)
	if err != nil {
		return nil, err
	}
	if d.o.Convert == nil {
		return nil, errors.New("type helm without a chart needs the Marathon converter (Options.Convert)")
	}
	ch, summary, err := d.o.Convert(app, s, ns)
	if err != nil {
		return nil, fmt.Errorf("convert Marathon app %s into a chart: %w", app.ID, err)
	}
	d.printf("%s: converted Marathon app %s into chart %s %s: %s\n", s.Name, app.ID, ch.Name(), ch.Metadata.Version, summary)
	return ch, nil
}

// LoadChart loads the app's own chart, as deploy installs it: helm.path
// (relative to the app.yaml), or helm.chart of helm.repository at
// helm.version (fetched like helm does).
func LoadChart(s *appspec.Spec) (*chart.Chart, error) {
	h := s.Helm
	switch {
	case !h.HasChart():
		return nil, errors.New("helm: no chart named (helm.path, or helm.repository + helm.chart + helm.version)")
	case h.Path != "":
		ch, err := loader.Load(s.Resolve(h.Path))
		if err != nil {
			return nil, fmt.Errorf("helm.path: cannot load the chart at %s: %w", s.Resolve(h.Path), err)
		}
		return ch, nil
	default:
		settings := cli.New()
		opts := action.ChartPathOptions{RepoURL: h.Repository, Version: h.Version}
		name := h.Chart
		if strings.HasPrefix(h.Repository, "oci://") {
			name, opts.RepoURL = strings.TrimSuffix(h.Repository, "/")+"/"+h.Chart, ""
		}
		path, err := opts.LocateChart(name, settings)
		if err != nil {
			return nil, fmt.Errorf("helm: cannot fetch chart %s %s from %s: %w", h.Chart, h.Version, h.Repository, err)
		}
		ch, err := loader.Load(path)
		if err != nil {
			return nil, fmt.Errorf("helm: cannot load chart %s: %w", path, err)
		}
		return ch, nil
	}
}

// Values returns the values deploy installs the app's chart with (see
// values).
func Values(s *appspec.Spec) (map[string]any, error) { return values(s) }

// values merges the values files (in order) and the inline values, and
// gives the chart the app's resources as the value "resources" unless the
// values set it.
func values(s *appspec.Spec) (map[string]any, error) {
	out := map[string]any{}
	if h := s.Helm; h != nil {
		for _, f := range h.ValuesFiles {
			b, err := os.ReadFile(s.Resolve(f))
			if err != nil {
				return nil, fmt.Errorf("helm.valuesFiles: %w", err)
			}
			var v map[string]any
			if err := yaml.Unmarshal(b, &v); err != nil {
				return nil, fmt.Errorf("helm.valuesFiles: %s: %w", s.Resolve(f), err)
			}
			out = mergeValues(out, v)
		}
		out = mergeValues(out, h.Values)
	}
	if r := s.Resources; r != nil {
		if _, set := out["resources"]; !set {
			res := map[string]any{}
			if len(r.Requests) > 0 {
				res["requests"] = toAny(r.Requests)
			}
			if len(r.Limits) > 0 {
				res["limits"] = toAny(r.Limits)
			}
			out["resources"] = res
		}
	}
	return out, nil
}

func toAny(m map[string]string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// mergeValues merges b over a (maps recursively, everything else replaced),
// as helm does with -f and --set.
func mergeValues(a, b map[string]any) map[string]any {
	out := maps.Clone(a)
	if out == nil {
		out = map[string]any{}
	}
	for k, v := range b {
		if bm, ok := v.(map[string]any); ok {
			if am, ok := out[k].(map[string]any); ok {
				out[k] = mergeValues(am, bm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// serverDryRun sends every object to the API server as a server-side apply
// in dry-run mode: the server validates and admits it, nothing is stored.
// Objects of a namespace that does not exist yet are checked in "default".
func (d *Deployer) serverDryRun(ctx context.Context, p *helmPlan) error {
	kc, err := d.o.Kube.Clients()
	if err != nil {
		return err
	}
	ns := p.Namespace
	if kubeclient.MustCreateNamespace(ctx, kc.Clientset, ns) {
		ns = metav1.NamespaceDefault
	}
	var errs []error
	for _, o := range p.objects {
		if err := kc.DryRunApply(ctx, o, dryRunManager, ns); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("chart %s: %w", p.chartName(), errors.Join(errs...))
	}
	return nil
}

func (d *Deployer) applyHelm(ctx context.Context, p *plan) (*Result, error) {
	hp, s := p.helm, p.spec
	r := &Result{App: s.Name, Platform: traffic.Kubernetes, ID: hp.ID()}
	install := !hp.deployed
	if d.o.DryRun {
		r.Action = "would upgrade"
		if install {
			r.Action = "would install"
		}
		how := ""
		if hp.converted {
			how = " (chart converted from the Marathon definition)"
		}
		d.printf("%s: %s Helm release %s%s: %d objects accepted by the API server in dry-run, nothing applied\n", s.Name, r.Action, r.ID, how, len(hp.objects))
		return r, nil
	}
	if install {
		r.Action = "installed"
		d.printf("%s: installing Helm release %s (chart %s %s), waiting until it is ready\n", s.Name, r.ID, hp.Chart.Name(), hp.Chart.Metadata.Version)
	} else {
		r.Action = "upgraded"
		d.printf("%s: upgrading Helm release %s from revision %d (chart %s %s), waiting until it is ready\n", s.Name, r.ID, hp.current.Version, hp.Chart.Name(), hp.Chart.Metadata.Version)
	}
	wctx, cancel := context.WithTimeout(ctx, d.o.Timeout)
	defer cancel()
	want := map[string]int32{}
	rel, err := d.releases.Install(wctx, hp.Release)
	if err == nil {
		err = d.releases.WaitReady(wctx, hp.Release, d.kubeProgress(want))
	}
	if err != nil {
		// Diagnose before the rollback removes the failing pods.
		diag := d.kubeDiagnostics(context.WithoutCancel(ctx), hp)
		rb := d.rollbackHelm(context.WithoutCancel(ctx), hp, install)
		if errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "context deadline exceeded") {
			err = fmt.Errorf("not ready within --timeout %s (%w)", d.o.Timeout, err)
		}
		return nil, fmt.Errorf("Helm release %s failed: %w%s%s", r.ID, err, diag, rb)
	}
	r.Revision = rel.Version
	d.printf("%s: Helm release %s revision %d is ready\n", s.Name, r.ID, rel.Version)
	var replicas int32
	for _, n := range want {
		replicas += n
	}
	backends, err := d.kubeBackends(ctx, s, hp, replicas)
	return d.routed(ctx, s, r, backends, err)
}

// kubeProgress prints "pods ready x/y" for a workload when it changes and
// records each workload's wanted replicas in want.
func (d *Deployer) kubeProgress(want map[string]int32) func(kubeclient.Rollout) {
	last := map[string]string{}
	return func(r kubeclient.Rollout) {
		key := r.Kind + "/" + r.Namespace + "/" + r.Name
		want[key] = r.Want
		line := fmt.Sprintf("pods ready %d/%d", r.Ready, r.Want)
		if last[key] != line {
			last[key] = line
			d.printf("  %s/%s %s: %s\n", r.Namespace, strings.ToLower(r.Kind), r.Name, line)
		}
	}
}

// rollbackHelm undoes a failed install (uninstall) or upgrade (rollback to
// the revision that ran before, then wait until it is ready again), as
// helm's --atomic does.
func (d *Deployer) rollbackHelm(ctx context.Context, hp *helmPlan, install bool) string {
	if install {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		if err := d.releases.Uninstall(ctx, hp.Release); err != nil {
			return fmt.Sprintf("\n  uninstalling the failed release also failed: %v (run: helm uninstall %s -n %s)", err, hp.Name, hp.Namespace)
		}
		return fmt.Sprintf("\n  the failed release was uninstalled (rolled back): nothing of it is left in %s", hp.Namespace)
	}
	ctx, cancel := context.WithTimeout(ctx, d.o.Timeout)
	defer cancel()
	version := d.lastDeployed(hp)
	err := d.releases.Rollback(ctx, hp.Release, version)
	if err == nil {
		err = d.releases.WaitReady(ctx, hp.Release, nil)
	}
	if err != nil {
		return fmt.Sprintf("\n  rolling the release back to revision %d also failed: %v", version, err)
	}
	return fmt.Sprintf("\n  the release was rolled back to revision %d", version)
}

// lastDeployed is the revision that was deployed before the upgrade.
func (d *Deployer) lastDeployed(hp *helmPlan) int {
	best := hp.current.Version
	cfg, err := d.releases.Config(hp.Namespace)
	if err != nil {
		return best
	}
	hist, err := cfg.Releases.History(hp.Name)
	if err == nil {
		sort.Slice(hist, func(i, j int) bool { return hist[i].Version > hist[j].Version })
		for _, r := range hist {
			if r.Version <= hp.current.Version && r.Info != nil && (r.Info.Status == release.StatusDeployed || r.Info.Status == release.StatusSuperseded) {
				return r.Version
			}
		}
	}
	return best
}
