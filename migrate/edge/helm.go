package edge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage/driver"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/switchyard/switchyard/deploy"
	"github.com/switchyard/switchyard/internal/kubeclient"
	"github.com/switchyard/switchyard/migrate"
)

// Release is an app's Helm release on Kubernetes: the chart (converted
// from its Marathon definition, or the app.yaml's own), its values, its
// name and namespace.
type Release struct {
	Name, Namespace string
	Chart           *chart.Chart
	Values          map[string]any
}

// Helm implements migrate.Kubernetes with the Helm SDK: Install installs
// the app's release (or upgrades it), WaitReady waits until every
// Deployment the release rendered is fully available, Remove uninstalls
// the release and waits until its objects are gone. Every method is
// idempotent, including after a crash in the middle of an install.
type Helm struct {
	// Kube says which cluster (package deploy's kubeconfig handling).
	Kube *deploy.KubeConfig
	// Clients read readiness and removal (same cluster as Kube).
	Clients *kubeclient.Clients
	// Poll is the period of readiness and removal checks (default 300 ms).
	Poll time.Duration

	mu   sync.Mutex
	rels map[string]Release
	cfgs map[string]*action.Configuration
}

// Set gives the release of an app.
func (h *Helm) Set(app string, r Release) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.rels == nil {
		h.rels = map[string]Release{}
	}
	if r.Namespace == "" {
		r.Namespace = "default"
	}
	h.rels[app] = r
}

// Release returns the release given for an app.
func (h *Helm) Release(app string) (Release, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r, ok := h.rels[app]
	if !ok || r.Chart == nil {
		return Release{}, fmt.Errorf("no Helm release for app %s", app)
	}
	return r, nil
}

// config returns the Helm action configuration of a namespace (cached:
// its discovery is costly).
func (h *Helm) config(ns string) (*action.Configuration, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c := h.cfgs[ns]; c != nil {
		return c, nil
	}
	c := &action.Configuration{}
	if err := c.Init(h.Kube.Getter(ns), ns, "secret", func(string, ...any) {}); err != nil {
		return nil, fmt.Errorf("helm: %w", err)
	}
	if h.cfgs == nil {
		h.cfgs = map[string]*action.Configuration{}
	}
	h.cfgs[ns] = c
	return c, nil
}

// history returns the release's latest revision (nil: none) and whether a
// revision was ever deployed.
func history(cfg *action.Configuration, name string) (*release.Release, bool, error) {
	hist, err := cfg.Releases.History(name)
	if err != nil && !errors.Is(err, driver.ErrReleaseNotFound) {
		return nil, false, fmt.Errorf("read the history of release %s: %w", name, err)
	}
	var last *release.Release
	deployed := false
	for _, r := range hist {
		if last == nil || r.Version > last.Version {
			last = r
		}
		if r.Info != nil && (r.Info.Status == release.StatusDeployed || r.Info.Status == release.StatusSuperseded) {
			deployed = true
		}
	}
	return last, deployed, nil
}

// Install implements migrate.Kubernetes: helm install, or helm upgrade when
// a revision was deployed. A revision left pending by a crash is marked
// failed first; a release that never deployed is uninstalled and installed
// again. It does not wait (WaitReady does).
func (h *Helm) Install(ctx context.Context, app migrate.App) error {
	r, err := h.Release(app.Name)
	if err != nil {
		return err
	}
	cfg, err := h.config(r.Namespace)
	if err != nil {
		return err
	}
	last, deployed, err := history(cfg, r.Name)
	if err != nil {
		return err
	}
	if last != nil && last.Info != nil && last.Info.Status.IsPending() {
		last.Info.Status = release.StatusFailed
		last.Info.Description = "interrupted (switchyard migrate resumed after a crash)"
		if err := cfg.Releases.Update(last); err != nil {
			return fmt.Errorf("release %s/%s: mark the interrupted revision %d failed: %w", r.Namespace, r.Name, last.Version, err)
		}
	}
	if last != nil && !deployed {
		if err := h.uninstall(cfg, r); err != nil {
			return err
		}
	}
	if deployed {
		up := action.NewUpgrade(cfg)
		up.Namespace, up.MaxHistory = r.Namespace, 5
		if _, err := up.RunWithContext(ctx, r.Name, r.Chart, r.Values); err != nil {
			return fmt.Errorf("helm upgrade %s/%s: %w", r.Namespace, r.Name, err)
		}
		return nil
	}
	in := action.NewInstall(cfg)
	in.ReleaseName, in.Namespace = r.Name, r.Namespace
	in.CreateNamespace = h.Clients == nil || kubeclient.MustCreateNamespace(ctx, h.Clients.Clientset, r.Namespace)
	if _, err := in.RunWithContext(ctx, r.Chart, r.Values); err != nil {
		return fmt.Errorf("helm install %s/%s: %w", r.Namespace, r.Name, err)
	}
	return nil
}

// objects returns the objects the release's latest revision rendered
// (nil: no release).
func (h *Helm) objects(app string) ([]*unstructured.Unstructured, *action.Configuration, Release, error) {
	r, err := h.Release(app)
	if err != nil {
		return nil, nil, r, err
	}
	cfg, err := h.config(r.Namespace)
	if err != nil {
		return nil, nil, r, err
	}
	last, _, err := history(cfg, r.Name)
	if err != nil || last == nil {
		return nil, cfg, r, err
	}
	objs, err := DecodeObjects([]byte(last.Manifest))
	if err != nil {
		return nil, cfg, r, fmt.Errorf("release %s/%s: its manifest: %w", r.Namespace, r.Name, err)
	}
	for _, o := range objs {
		if o.GetNamespace() == "" {
			o.SetNamespace(r.Namespace)
		}
	}
	return objs, cfg, r, nil
}

// WaitReady implements migrate.Kubernetes: every Deployment of the release
// has all its replicas updated and available.
func (h *Helm) WaitReady(ctx context.Context, app migrate.App) error {
	objs, _, r, err := h.objects(app.Name)
	if err != nil {
		return err
	}
	if objs == nil {
		return fmt.Errorf("release %s/%s is not installed", r.Namespace, r.Name)
	}
	return waitDeployments(ctx, h.Clients, objs, h.poll())
}

// Remove implements migrate.Kubernetes: helm uninstall (a missing release
// is not an error), then it waits until the release's objects are gone
// (foreground deletion: a Deployment goes once its pods went).
func (h *Helm) Remove(ctx context.Context, app migrate.App) error {
	objs, cfg, r, err := h.objects(app.Name)
	if err != nil {
		return err
	}
	if objs == nil {
		return nil
	}
	if err := h.uninstall(cfg, r); err != nil {
		return err
	}
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		m, err := h.Clients.Mapper.RESTMapping(schema.GroupKind{Group: gvk.Group, Kind: gvk.Kind}, gvk.Version)
		if err != nil {
			return fmt.Errorf("%s %s: %w", o.GetKind(), o.GetName(), err)
		}
		ri := h.Clients.Dynamic.Resource(m.Resource).Namespace(o.GetNamespace())
		for {
			_, err := ri.Get(ctx, o.GetName(), metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s %s/%s still there after helm uninstall: %w", o.GetKind(), o.GetNamespace(), o.GetName(), ctx.Err())
			case <-time.After(h.poll()):
			}
		}
	}
	return nil
}

func (h *Helm) uninstall(cfg *action.Configuration, r Release) error {
	u := action.NewUninstall(cfg)
	u.IgnoreNotFound, u.DeletionPropagation = true, "foreground"
	if _, err := u.Run(r.Name); err != nil && !errors.Is(err, driver.ErrReleaseNotFound) {
		return fmt.Errorf("helm uninstall %s/%s: %w", r.Namespace, r.Name, err)
	}
	return nil
}

func (h *Helm) poll() time.Duration {
	if h.Poll <= 0 {
		return 300 * time.Millisecond
	}
	return h.Poll
}

// ChartFromObjects packs Kubernetes objects into a chart (one template
// per object; Namespace objects are left out: the release's namespace is
// created by the install and shared by other apps' releases).
func ChartFromObjects(name string, objs []*unstructured.Unstructured) (*chart.Chart, error) {
	ch := &chart.Chart{Metadata: &chart.Metadata{APIVersion: chart.APIVersionV2, Name: name, Version: "0.1.0", Type: "application"}}
	for i, o := range objs {
		if o.GetKind() == "Namespace" {
			continue
		}
		c := o.DeepCopy()
		c.SetNamespace("")
		data, err := yaml.Marshal(c.Object)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", o.GetKind(), o.GetName(), err)
		}
		if strings.Contains(string(data), "{{") {
			return nil, fmt.Errorf("%s %s: contains template markers {{", o.GetKind(), o.GetName())
		}
		ch.Templates = append(ch.Templates, &chart.File{Name: fmt.Sprintf("templates/%02d-%s-%s.yaml", i, strings.ToLower(o.GetKind()), o.GetName()), Data: data})
	}
	if len(ch.Templates) == 0 {
		return nil, fmt.Errorf("chart %s: no objects", name)
	}
	if err := ch.Validate(); err != nil {
		return nil, fmt.Errorf("chart %s: %w", name, err)
	}
	return ch, nil
}
