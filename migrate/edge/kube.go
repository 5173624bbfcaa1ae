package edge

import (
	"context"
	"fmt"
	"os"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/switchyard/switchyard/internal/kubeclient"
)

// waitDeployments waits until every Deployment among objs has all its
// replicas updated and available.
func waitDeployments(ctx context.Context, c *kubeclient.Clients, objs []*unstructured.Unstructured, poll time.Duration) error {
	for _, o := range objs {
		if o.GetKind() != "Deployment" {
			continue
		}
		var last string
		for {
			d, err := c.Clientset.AppsV1().Deployments(o.GetNamespace()).Get(ctx, o.GetName(), metav1.GetOptions{})
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

// DecodeObjects decodes multi-document YAML into objects (kubeclient.DecodeObjects).
func DecodeObjects(data []byte) ([]*unstructured.Unstructured, error) {
	return kubeclient.DecodeObjects(data)
}
