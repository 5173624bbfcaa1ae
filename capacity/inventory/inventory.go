// Package inventory reads the capacity model's sources at the edge: the
// Mesos master's /master/state through the mesos client, and Kubernetes
// Nodes and Pods through client-go. capacity.Build turns them into the model.
package inventory

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/switchyard/switchyard/capacity"
	"github.com/switchyard/switchyard/mesos"
)

// MesosReader reads /master/state (satisfied by *mesos.Client).
type MesosReader interface {
	State(ctx context.Context) (mesos.State, error)
}

// Reader reads both inventories; Kube may be nil (a Mesos-only cluster).
type Reader struct {
	// Mesos reads the master state.
	Mesos MesosReader
	// Kube lists Nodes and Pods; nil skips the Kubernetes side.
	Kube kubernetes.Interface
}

// Read fetches the sources (pods listed page by page).
func (r Reader) Read(ctx context.Context) (capacity.Sources, error) {
	var src capacity.Sources
	st, err := r.Mesos.State(ctx)
	if err != nil {
		return src, fmt.Errorf("capacity inventory: %w", err)
	}
	src.Mesos = st
	if r.Kube == nil {
		return src, nil
	}
	nl, err := r.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return src, fmt.Errorf("capacity inventory: list Kubernetes nodes: %w", err)
	}
	src.Nodes = nl.Items
	opts := metav1.ListOptions{Limit: 5000, FieldSelector: "status.phase!=Succeeded,status.phase!=Failed"}
	for {
		pl, err := r.Kube.CoreV1().Pods(corev1.NamespaceAll).List(ctx, opts)
		if err != nil {
			return src, fmt.Errorf("capacity inventory: list pods: %w", err)
		}
		src.Pods = append(src.Pods, pl.Items...)
		if pl.Continue == "" {
			break
		}
		opts.Continue = pl.Continue
	}
	return src, nil
}

// Cluster reads the sources and builds the model.
func (r Reader) Cluster(ctx context.Context, o capacity.BuildOptions) (capacity.Cluster, error) {
	src, err := r.Read(ctx)
	if err != nil {
		return capacity.Cluster{}, err
	}
	return capacity.Build(src, o), nil
}
