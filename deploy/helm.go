package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
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
	"helm.sh/helm/v3/pkg/storage/driver"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/switchyard/switchyard/appspec"
	"github.com/switchyard/switchyard/internal/kubeclient"
	"github.com/switchyard/switchyard/traffic"
)

// dryRunManager is the field manager of the server-side dry runs.
const dryRunManager = "switchyard-deploy"

// helmPlan is a release checked and ready to install or upgrade.
type helmPlan struct {
	ns, name string
	chart    *chart.Chart
	values   map[string]any
	cfg      *action.Configuration
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
	return d.o.Kube.defNS
}

func (d *Deployer) helmConfig(ns string) (*action.Configuration, error) {
	cfg := &action.Configuration{}
	if err := cfg.Init(d.o.Kube.Getter(ns), ns, "secret", func(string, ...any) {}); err != nil {
		return nil, fmt.Errorf("helm: %w", err)
	}
	return cfg, nil
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
	if d.o.Kube == nil {
		return nil, errors.New("no Kubernetes cluster to deploy to: pass --kubeconfig or set KUBECONFIG")
	}
	if err := d.o.Kube.reachable(); err != nil {
		return nil, err
	}
	p := &helmPlan{ns: d.namespace(s), name: s.ReleaseName()}
	ch, err := d.loadChart(s, p.ns)
	if err != nil {
		return nil, err
	}
	p.chart, p.converted = ch, !s.Helm.HasChart()
	if p.values, err = values(s); err != nil {
		return nil, err
	}
	if p.cfg, err = d.helmConfig(p.ns); err != nil {
		return nil, err
	}
	hist, err := p.cfg.Releases.History(p.name)
	if err != nil && !errors.Is(err, driver.ErrReleaseNotFound) {
		return nil, fmt.Errorf("read the history of release %s/%s: %w", p.ns, p.name, err)
	}
	for _, r := range hist {
		if p.current == nil || r.Version > p.current.Version {
			p.current = r
		}
		if r.Info != nil && (r.Info.Status == release.StatusDeployed || r.Info.Status == release.StatusSuperseded) {
			p.deployed = true
		}
	}
	if c := p.current; c != nil && c.Info != nil && c.Info.Status.IsPending() {
		return nil, fmt.Errorf("release %s/%s has an operation in progress (%s, revision %d): wait for it, or roll it back with helm rollback", p.ns, p.name, c.Info.Status, c.Version)
	}
	if p.manifest, err = d.render(ctx, p); err != nil {
		return nil, err
	}
	if p.objects, err = decodeManifest(p.manifest); err != nil {
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

// render renders the chart as the release would be (client side, with the
// API server's version).
func (d *Deployer) render(ctx context.Context, p *helmPlan) (string, error) {
	inst := action.NewInstall(&action.Configuration{Log: func(string, ...any) {}})
	inst.DryRun, inst.ClientOnly, inst.Replace = true, true, true
	inst.ReleaseName, inst.Namespace = p.name, p.ns
	inst.IsUpgrade = p.current != nil
	if sv, err := d.o.Kube.cs.Discovery().ServerVersion(); err == nil {
		inst.KubeVersion = &chartutil.KubeVersion{Version: sv.GitVersion, Major: sv.Major, Minor: sv.Minor}
	}
	rel, err := inst.RunWithContext(ctx, p.chart, p.values)
	if err != nil {
		return "", fmt.Errorf("chart %s does not render: %w", p.chart.Name(), err)
	}
	return rel.Manifest, nil
}

// decodeManifest reads the objects of a rendered manifest.
func decodeManifest(manifest string) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(manifest), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return nil, err
		}
		if len(m) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
}

// serverDryRun sends every object to the API server as a server-side apply
// in dry-run mode: the server validates and admits it, nothing is stored.
// Objects of a namespace that does not exist yet are checked in "default".
func (d *Deployer) serverDryRun(ctx context.Context, p *helmPlan) error {
	k := d.o.Kube
	mapper, err := k.Getter(p.ns).ToRESTMapper()
	if err != nil {
		return err
	}
	ns := p.ns
	if _, err := k.cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		ns = metav1.NamespaceDefault
	}
	var errs []error
	for _, o := range p.objects {
		gvk := o.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %s: the API server does not know this kind: %w", gvk.Kind, o.GetName(), err))
			continue
		}
		obj := o.DeepCopy()
		var ri = k.dyn.Resource(m.Resource)
		var apply func() error
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			obj.SetNamespace(ns)
			apply = func() error {
				_, err := ri.Namespace(ns).Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: dryRunManager, Force: true, DryRun: []string{metav1.DryRunAll}})
				return err
			}
		} else {
			apply = func() error {
				_, err := ri.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: dryRunManager, Force: true, DryRun: []string{metav1.DryRunAll}})
				return err
			}
		}
		if err := apply(); err != nil {
			errs = append(errs, fmt.Errorf("the API server rejects %s %s: %w", gvk.Kind, o.GetName(), err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("chart %s: %w", p.chart.Name(), errors.Join(errs...))
	}
	return nil
}

func (d *Deployer) applyHelm(ctx context.Context, p *plan) (*Result, error) {
	hp, s := p.helm, p.spec
	r := &Result{App: s.Name, Platform: traffic.Kubernetes, ID: hp.ns + "/" + hp.name}
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
	wctx, cancel := context.WithCancel(ctx)
	progress := make(chan struct{})
	go func() {
		defer close(progress)
		d.kubeProgress(wctx, hp)
	}()
	var rel *release.Release
	var err error
	if install {
		r.Action = "installed"
		d.printf("%s: installing Helm release %s (chart %s %s), waiting until it is ready\n", s.Name, r.ID, hp.chart.Name(), hp.chart.Metadata.Version)
		inst := action.NewInstall(hp.cfg)
		inst.ReleaseName, inst.Namespace = hp.name, hp.ns
		inst.CreateNamespace = kubeclient.MustCreateNamespace(ctx, d.o.Kube.cs, hp.ns)
		inst.Wait, inst.Timeout = true, d.o.Timeout
		inst.Replace = hp.current != nil // a failed first install left a record
		rel, err = inst.RunWithContext(ctx, hp.chart, hp.values)
	} else {
		r.Action = "upgraded"
		d.printf("%s: upgrading Helm release %s from revision %d (chart %s %s), waiting until it is ready\n", s.Name, r.ID, hp.current.Version, hp.chart.Name(), hp.chart.Metadata.Version)
		up := action.NewUpgrade(hp.cfg)
		up.Namespace, up.Wait, up.Timeout, up.MaxHistory = hp.ns, true, d.o.Timeout, 10
		rel, err = up.RunWithContext(ctx, hp.name, hp.chart, hp.values)
	}
	cancel()
	<-progress
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
	backends, err := d.kubeBackends(ctx, s, hp)
	if err != nil {
		return nil, err
	}
	r.Backends = backends
	if err := d.registerRoute(ctx, s, r); err != nil {
		return nil, err
	}
	return r, nil
}

// rollbackHelm undoes a failed install (uninstall) or upgrade (rollback to
// the revision that ran before), as helm's --atomic does.
func (d *Deployer) rollbackHelm(ctx context.Context, hp *helmPlan, install bool) string {
	if install {
		un := action.NewUninstall(hp.cfg)
		un.Wait, un.Timeout = true, 2*time.Minute
		if _, err := un.Run(hp.name); err != nil && !errors.Is(err, driver.ErrReleaseNotFound) {
			return fmt.Sprintf("\n  uninstalling the failed release also failed: %v (run: helm uninstall %s -n %s)", err, hp.name, hp.ns)
		}
		return fmt.Sprintf("\n  the failed release was uninstalled (rolled back): nothing of it is left in %s", hp.ns)
	}
	rb := action.NewRollback(hp.cfg)
	rb.Version, rb.Wait, rb.Timeout, rb.MaxHistory = lastDeployed(hp), true, d.o.Timeout, 10
	if err := rb.Run(hp.name); err != nil {
		return fmt.Sprintf("\n  rolling the release back to revision %d also failed: %v", rb.Version, err)
	}
	return fmt.Sprintf("\n  the release was rolled back to revision %d", rb.Version)
}

// lastDeployed is the revision that was deployed before the upgrade.
func lastDeployed(hp *helmPlan) int {
	hist, err := hp.cfg.Releases.History(hp.name)
	best := hp.current.Version
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
