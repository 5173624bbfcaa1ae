package edge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/switchyard/switchyard/internal/kubeclient"
	"github.com/switchyard/switchyard/migrate"
)

// FieldManager owns the fields Switchyard applies.
const FieldManager = "switchyard-migrate"

// Manifests implements migrate.Kubernetes by server-side applying each
// app's Kubernetes objects (a Deployment, its Service...), waiting for its
// Deployments to be fully available, and deleting them on removal.
type Manifests struct {
	*kubeclient.Clients
	// Poll is the period of readiness checks (default 300 ms).
	Poll time.Duration

	mu   sync.Mutex
	objs map[string][]*unstructured.Unstructured
}

// Set gives the objects of an app (namespace "default" when unset).
func (m *Manifests) Set(app string, objs []*unstructured.Unstructured) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.objs == nil {
		m.objs = map[string][]*unstructured.Unstructured{}
	}
	for _, o := range objs {
		if o.GetNamespace() == "" {
			o.SetNamespace("default")
		}
	}
	m.objs[app] = objs
}

// Objects returns the objects given for an app.
func (m *Manifests) Objects(app string) []*unstructured.Unstructured {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.objs[app]
}

func (m *Manifests) get(app string) ([]*unstructured.Unstructured, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o := m.objs[app]
	if len(o) == 0 {
		return nil, fmt.Errorf("no Kubernetes objects for app %s", app)
	}
	return o, nil
}

// Install implements migrate.Kubernetes (server-side apply: repeatable).
func (m *Manifests) Install(ctx context.Context, app migrate.App) error {
	objs, err := m.get(app.Name)
	if err != nil {
		return err
	}
	if err := m.ensureNamespaces(ctx, objs); err != nil {
		return err
	}
	for _, o := range objs {
		if err := m.Apply(ctx, o, FieldManager); err != nil {
			return err
		}
	}
	return nil
}

// ensureNamespaces creates the namespaces the objects go to when missing
// (as Helm's --create-namespace does).
func (m *Manifests) ensureNamespaces(ctx context.Context, objs []*unstructured.Unstructured) error {
	done := map[string]bool{}
	for _, o := range objs {
		ns := o.GetNamespace()
		if ns == "" || done[ns] || o.GetKind() == "Namespace" {
			continue
		}
		done[ns] = true
		_, err := m.Clientset.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			_, err = m.Clientset.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				err = nil
			}
		}
		if err != nil {
			return fmt.Errorf("namespace %s: %w", ns, err)
		}
	}
	return nil
}

// WaitReady implements migrate.Kubernetes: every Deployment of the app has
// all its replicas updated and available.
func (m *Manifests) WaitReady(ctx context.Context, app migrate.App) error {
	objs, err := m.get(app.Name)
	if err != nil {
		return err
	}
	poll := m.Poll
	if poll <= 0 {
		poll = 300 * time.Millisecond
	}
	for _, o := range objs {
		if o.GetKind() != "Deployment" {
			continue
		}
		var last string
		for {
			d, err := m.Clientset.AppsV1().Deployments(o.GetNamespace()).Get(ctx, o.GetName(), metav1.GetOptions{})
			if err == nil {
				if ready(d) {
					break
				}
				last = fmt.Sprintf("%d of %d replicas available", d.Status.AvailableReplicas, replicas(d))
			} else {
				last = err.Error()
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("deployment %s/%s not ready (%s): %w", o.GetNamespace(), o.GetName(), last, ctx.Err())
			case <-time.After(poll):
			}
		}
	}
	return nil
}

func replicas(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

func ready(d *appsv1.Deployment) bool {
	n := replicas(d)
	return d.Status.ObservedGeneration >= d.Generation && d.Status.UpdatedReplicas == n &&
		d.Status.AvailableReplicas == n && d.Status.ReadyReplicas == n
}

// Remove implements migrate.Kubernetes: the objects are deleted in reverse
// order (absent ones are skipped) and their removal is awaited.
func (m *Manifests) Remove(ctx context.Context, app migrate.App) error {
	objs, err := m.get(app.Name)
	if err != nil {
		return err
	}
	poll := m.Poll
	if poll <= 0 {
		poll = 300 * time.Millisecond
	}
	bg := metav1.DeletePropagationForeground
	for i := len(objs) - 1; i >= 0; i-- {
		o := objs[i]
		if o.GetKind() == "Namespace" {
			continue // shared with other apps
		}
		r, err := m.Resource(o)
		if err != nil {
			return err
		}
		if err := r.Delete(ctx, o.GetName(), metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete %s %s/%s: %w", o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
		for {
			_, err := r.Get(ctx, o.GetName(), metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s %s/%s still there: %w", o.GetKind(), o.GetNamespace(), o.GetName(), ctx.Err())
			case <-time.After(poll):
			}
		}
	}
	return nil
}

// ReadObjects decodes a multi-document YAML (or JSON) file of Kubernetes objects.
func ReadObjects(path string) ([]*unstructured.Unstructured, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	objs, err := DecodeObjects(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return objs, nil
}

// DecodeObjects decodes multi-document YAML into objects.
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
