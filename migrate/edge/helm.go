package edge

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"helm.sh/helm/v3/pkg/chart"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/switchyard/switchyard/deploy"
	"github.com/switchyard/switchyard/migrate"
)

// Helm implements migrate.Kubernetes with package deploy's Helm flow
// (deploy.Releases, shared with `switchyard deploy`): each app is a Helm
// release; Install installs it (or upgrades it), WaitReady waits until its
// workloads are ready (kubeclient's one ready rule), Remove uninstalls it
// and waits until its objects are gone. Every method is idempotent,
// including after a crash in the middle of an install.
type Helm struct {
	// Releases is the Helm flow on the migration's cluster.
	Releases *deploy.Releases

	mu   sync.Mutex
	rels map[string]deploy.Release
}

// Set gives the release of an app (namespace "default" when it names none).
func (h *Helm) Set(app string, r deploy.Release) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.rels == nil {
		h.rels = map[string]deploy.Release{}
	}
	if r.Namespace == "" {
		r.Namespace = "default"
	}
	h.rels[app] = r
}

// Release returns the release given for an app.
func (h *Helm) Release(app string) (deploy.Release, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r, ok := h.rels[app]
	if !ok || r.Chart == nil {
		return deploy.Release{}, fmt.Errorf("no Helm release for app %s", app)
	}
	return r, nil
}

// Install implements migrate.Kubernetes: helm install, or helm upgrade when
// a revision was deployed (deploy.Releases.Install: a revision left pending
// by a crash is marked failed first, a release that never deployed is
// installed afresh). It does not wait (WaitReady does).
func (h *Helm) Install(ctx context.Context, app migrate.App) error {
	r, err := h.Release(app.Name)
	if err != nil {
		return err
	}
	_, err = h.Releases.Install(ctx, r)
	return err
}

// WaitReady implements migrate.Kubernetes: every Deployment and StatefulSet
// of the release is ready (kubeclient.DeploymentRollout).
func (h *Helm) WaitReady(ctx context.Context, app migrate.App) error {
	r, err := h.Release(app.Name)
	if err != nil {
		return err
	}
	return h.Releases.WaitReady(ctx, r, nil)
}

// Remove implements migrate.Kubernetes: helm uninstall (a missing release
// is not an error), then it waits until the release's objects are gone
// (foreground deletion: a Deployment goes once its pods went).
func (h *Helm) Remove(ctx context.Context, app migrate.App) error {
	r, err := h.Release(app.Name)
	if err != nil {
		return err
	}
	return h.Releases.Uninstall(ctx, r)
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
