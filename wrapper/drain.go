package wrapper

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// Drainer cordons a node and evicts its pods through the Eviction API.
type Drainer struct {
	// Client is the Kubernetes API.
	Client kubernetes.Interface
	// Logger receives progress (default slog.Default).
	Logger *slog.Logger
	// Retry is the pause between eviction attempts a PodDisruptionBudget
	// refused (429), default 1s.
	Retry time.Duration
}

// Result says what a drain did.
type Result struct {
	// Evicted are the pods evicted (namespace/name).
	Evicted []string
	// Remaining are the pods still on the node at the deadline.
	Remaining []string
}

// CordonAnnotation marks a node the wrapper cordoned (so that the next
// wrapper on the node uncordons it, and never undoes an operator's cordon).
const CordonAnnotation = "switchyard.io/cordoned-by-wrapper"

// Cordon marks the node unschedulable (and CordonAnnotation).
func (d Drainer) Cordon(ctx context.Context, node string) error {
	patch := []byte(`{"metadata":{"annotations":{"` + CordonAnnotation + `":"true"}},"spec":{"unschedulable":true}}`)
	if _, err := d.Client.CoreV1().Nodes().Patch(ctx, node, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("cordon node %s: %w", node, err)
	}
	return nil
}

// UncordonOwn makes the node schedulable again if the wrapper cordoned it
// (CordonAnnotation); it reports whether the node exists.
func (d Drainer) UncordonOwn(ctx context.Context, node string) (bool, error) {
	n, err := d.Client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("get node %s: %w", node, err)
	}
	if _, ok := n.Annotations[CordonAnnotation]; !ok {
		return true, nil
	}
	patch := []byte(`{"metadata":{"annotations":{"` + CordonAnnotation + `":null}},"spec":{"unschedulable":false}}`)
	if _, err := d.Client.CoreV1().Nodes().Patch(ctx, node, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return true, fmt.Errorf("uncordon node %s: %w", node, err)
	}
	return true, nil
}

// Uncordon marks the node schedulable again.
func (d Drainer) Uncordon(ctx context.Context, node string) error {
	patch := []byte(`{"spec":{"unschedulable":false}}`)
	if _, err := d.Client.CoreV1().Nodes().Patch(ctx, node, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("uncordon node %s: %w", node, err)
	}
	return nil
}

// evictable says whether a drain moves the pod: not finished, not a mirror
// (static) pod, not owned by a DaemonSet (it would come straight back).
func evictable(p *corev1.Pod) bool {
	if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
		return false
	}
	if _, mirror := p.Annotations[corev1.MirrorPodAnnotationKey]; mirror {
		return false
	}
	for _, o := range p.OwnerReferences {
		if o.Kind == "DaemonSet" {
			return false
		}
	}
	return true
}

func (d Drainer) pods(ctx context.Context, node string) ([]corev1.Pod, error) {
	l, err := d.Client.CoreV1().Pods(corev1.NamespaceAll).List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("spec.nodeName", node).String()})
	if err != nil {
		return nil, fmt.Errorf("list pods on %s: %w", node, err)
	}
	var out []corev1.Pod
	for i := range l.Items {
		if evictable(&l.Items[i]) {
			out = append(out, l.Items[i])
		}
	}
	return out, nil
}

// Drain cordons node and evicts its pods until none is left or ctx ends.
// An eviction a PodDisruptionBudget refuses (429) is retried, so the drain
// never breaks a budget; the controllers recreate the evicted pods on other
// nodes. It returns what it evicted and, on timeout, what remained.
func (d Drainer) Drain(ctx context.Context, node string) (Result, error) {
	log := d.Logger
	if log == nil {
		log = slog.Default()
	}
	retry := d.Retry
	if retry <= 0 {
		retry = time.Second
	}
	var res Result
	if err := d.Cordon(ctx, node); err != nil {
		return res, err
	}
	log.Info("node cordoned, draining", "node", node)
	evicted := map[types.UID]bool{}
	for {
		pods, err := d.pods(ctx, node)
		if err != nil {
			if ctx.Err() != nil {
				return res, fmt.Errorf("drain %s: deadline reached: %w", node, ctx.Err())
			}
			return res, err
		}
		if len(pods) == 0 {
			log.Info("node drained", "node", node, "evicted", len(res.Evicted))
			return res, nil
		}
		for i := range pods {
			p := &pods[i]
			if evicted[p.UID] {
				continue
			}
			ev := &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace}}
			err := d.Client.CoreV1().Pods(p.Namespace).EvictV1(ctx, ev)
			switch {
			case err == nil:
				evicted[p.UID] = true
				res.Evicted = append(res.Evicted, p.Namespace+"/"+p.Name)
				log.Info("pod evicted", "node", node, "pod", p.Namespace+"/"+p.Name)
			case apierrors.IsNotFound(err):
				evicted[p.UID] = true
			case apierrors.IsTooManyRequests(err):
				log.Info("eviction refused by a PodDisruptionBudget, retrying", "node", node, "pod", p.Namespace+"/"+p.Name, "reason", err.Error())
			default:
				log.Warn("eviction failed, retrying", "node", node, "pod", p.Namespace+"/"+p.Name, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			left, _ := d.pods(context.WithoutCancel(ctx), node)
			for _, p := range left {
				res.Remaining = append(res.Remaining, p.Namespace+"/"+p.Name)
			}
			return res, fmt.Errorf("drain %s: deadline reached with %d pod(s) left %v: %w", node, len(res.Remaining), res.Remaining, ctx.Err())
		case <-time.After(retry):
		}
	}
}
