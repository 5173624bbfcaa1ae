// Package kubeclient builds the Kubernetes clients Switchyard's edges share
// (typed clientset, dynamic client, discovery-backed REST mapper) from one
// rest.Config, and server-side applies unstructured objects through them.
package kubeclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
)

// Clients are the clients of one API server.
type Clients struct {
	Clientset kubernetes.Interface
	Dynamic   dynamic.Interface
	// Mapper resolves kinds to resources through cached discovery.
	Mapper meta.RESTMapper
}

// New builds the clients for rc.
func New(rc *rest.Config) (*Clients, error) {
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes dynamic client: %w", err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes discovery client: %w", err)
	}
	return &Clients{Clientset: cs, Dynamic: dyn, Mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))}, nil
}

// FromKubeconfig builds the clients for a kubeconfig file's current context;
// qps and burst raise client-go's default rate limits when > 0.
func FromKubeconfig(path string, qps float32, burst int) (*Clients, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	if qps > 0 {
		rc.QPS, rc.Burst = qps, burst
	}
	return New(rc)
}

// Resource returns the dynamic resource interface for o: namespaced (in o's
// namespace, set to "default" when empty) when its kind is.
func (c *Clients) Resource(o *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	gvk := o.GroupVersionKind()
	m, err := c.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, fmt.Errorf("%s %s: the API server does not know this kind: %w", gvk.Kind, o.GetName(), err)
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		if o.GetNamespace() == "" {
			o.SetNamespace(metav1.NamespaceDefault)
		}
		return c.Dynamic.Resource(m.Resource).Namespace(o.GetNamespace()), nil
	}
	return c.Dynamic.Resource(m.Resource), nil
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

// RESTConfig loads a kubeconfig file (KUBECONFIG rules when path is "")
// with one of its contexts ("" = its current context); qps and burst raise
// client-go's default rate limits when > 0.
func RESTConfig(path, kubeContext string, qps float32, burst int) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if path != "" {
		rules.ExplicitPath = path
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: kubeContext})
	rc, err := cc.ClientConfig()
	if err != nil {
		where := path
		if where == "" {
			where = "(KUBECONFIG or ~/.kube/config)"
		}
		if kubeContext != "" {
			where += " context " + kubeContext
		}
		return nil, fmt.Errorf("kubeconfig %s: %w", where, err)
	}
	if qps > 0 {
		rc.QPS, rc.Burst = qps, burst
	}
	return rc, nil
}

// FromKubeconfigContext builds the clients for one context of a kubeconfig
// file (see RESTConfig).
func FromKubeconfigContext(path, kubeContext string, qps float32, burst int) (*Clients, error) {
	rc, err := RESTConfig(path, kubeContext, qps, burst)
	if err != nil {
		return nil, err
	}
	return New(rc)
}

// MustCreateNamespace reports whether ns must be created before objects go
// into it: only when the API server says it does not exist. A namespace the
// credentials may not read (a namespaced Role: Forbidden) is taken to exist,
// so least-privilege credentials never try to create one.
func MustCreateNamespace(ctx context.Context, cs kubernetes.Interface, ns string) bool {
	_, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	return apierrors.IsNotFound(err)
}

// DecodeObjects decodes multi-document YAML (or JSON) into objects; empty
// documents are skipped, and each object needs a kind and a name.
func DecodeObjects(data []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for i := 0; ; i++ {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		if len(m) == 0 {
			continue
		}
		o := &unstructured.Unstructured{Object: m}
		if o.GetKind() == "" || o.GetName() == "" {
			return nil, fmt.Errorf("document %d: kind and metadata.name are required", i+1)
		}
		out = append(out, o)
	}
}
