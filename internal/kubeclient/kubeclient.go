// Package kubeclient is Switchyard's one Kubernetes plumbing, in the spirit
// of kubectl's cmdutil.Factory: Factory turns a kubeconfig, one of its
// contexts and a default namespace into the clients of that cluster (typed
// clientset, dynamic client, discovery-backed REST mapper, and the
// RESTClientGetter the Helm SDK takes); DecodeObjects reads manifests;
// Clients.Apply server-side applies them; DeploymentRollout is the one rule
// saying a Deployment is ready, and WaitReady its waiter. Package deploy,
// the migration's edges, the CLI and the lab all build on it; it knows
// nothing of apps, releases or routes.
package kubeclient

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// Clients are the clients of one API server.
type Clients struct {
	Clientset kubernetes.Interface
	Dynamic   dynamic.Interface
	// Mapper resolves kinds to resources through cached discovery.
	Mapper meta.RESTMapper
}

// New builds the clients for rc (Factory.Clients builds them from a
// kubeconfig; New is for a rest.Config made otherwise, e.g. in tests).
func New(rc *rest.Config) (*Clients, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes discovery client: %w", err)
	}
	return newClients(rc, memory.NewMemCacheClient(dc))
}

func newClients(rc *rest.Config, dc discovery.CachedDiscoveryInterface) (*Clients, error) {
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes dynamic client: %w", err)
	}
	return &Clients{Clientset: cs, Dynamic: dyn, Mapper: restmapper.NewDeferredDiscoveryRESTMapper(dc)}, nil
}

// resource maps o's kind to its resource and scope.
func (c *Clients) resource(o *unstructured.Unstructured) (dynamic.NamespaceableResourceInterface, bool, error) {
	gvk := o.GroupVersionKind()
	m, err := c.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, false, fmt.Errorf("%s %s: the API server does not know this kind: %w", gvk.Kind, o.GetName(), err)
	}
	return c.Dynamic.Resource(m.Resource), m.Scope.Name() == meta.RESTScopeNameNamespace, nil
}

// Resource returns the dynamic resource interface for o: namespaced (in o's
// namespace, set to "default" when empty) when its kind is.
func (c *Clients) Resource(o *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	r, namespaced, err := c.resource(o)
	if err != nil {
		return nil, err
	}
	if !namespaced {
		return r, nil
	}
	if o.GetNamespace() == "" {
		o.SetNamespace(metav1.NamespaceDefault)
	}
	return r.Namespace(o.GetNamespace()), nil
}

// Apply server-side applies o as fieldManager, taking over conflicting fields
// (repeatable: applying the same object twice changes nothing).
func (c *Clients) Apply(ctx context.Context, o *unstructured.Unstructured, fieldManager string) error {
	r, err := c.Resource(o)
	if err != nil {
		return err
	}
	if _, err := r.Apply(ctx, o.GetName(), o, metav1.ApplyOptions{FieldManager: fieldManager, Force: true}); err != nil {
		return fmt.Errorf("apply %s %s/%s: %w", o.GetKind(), o.GetNamespace(), o.GetName(), err)
	}
	return nil
}

// DryRunApply has the API server validate and admit a copy of o as a
// server-side apply by fieldManager, in dry-run mode: nothing is stored.
// A namespaced object is checked in namespace ns.
func (c *Clients) DryRunApply(ctx context.Context, o *unstructured.Unstructured, fieldManager, ns string) error {
	r, namespaced, err := c.resource(o)
	if err != nil {
		return err
	}
	obj := o.DeepCopy()
	var ri dynamic.ResourceInterface = r
	if namespaced {
		obj.SetNamespace(ns)
		ri = r.Namespace(ns)
	}
	if _, err := ri.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: fieldManager, Force: true, DryRun: []string{metav1.DryRunAll}}); err != nil {
		return fmt.Errorf("the API server rejects %s %s: %w", o.GetKind(), o.GetName(), err)
	}
	return nil
}

// MustCreateNamespace reports whether ns must be created before objects go
// into it: only when the API server says it does not exist. A namespace the
// credentials may not read (a namespaced Role: Forbidden) is taken to exist,
// so least-privilege credentials never try to create one.
func MustCreateNamespace(ctx context.Context, cs kubernetes.Interface, ns string) bool {
	_, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	return apierrors.IsNotFound(err)
}
