package kubeclient

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
)

// Rollout is how far a workload (a Deployment or a StatefulSet) is from
// ready, by DeploymentRollout or StatefulSetRollout.
type Rollout struct {
	// Kind ("Deployment", "StatefulSet"), Namespace and Name name the workload.
	Kind, Namespace, Name string
	// Want is the replicas the spec asks for (1 when unset); Ready the
	// ready pods of the current revision (pods of older revisions are not
	// counted; 0 until the controller observed the spec).
	Want, Ready int32
	// Done says the workload is ready.
	Done bool
	// Waiting says what it still waits for ("" when Done).
	Waiting string
}

// String renders "deployment ns/name: pods ready 1/2 (waiting for ...)".
func (r Rollout) String() string {
	s := fmt.Sprintf("%s %s/%s: pods ready %d/%d", strings.ToLower(r.Kind), r.Namespace, r.Name, r.Ready, r.Want)
	if !r.Done && r.Waiting != "" {
		s += " (" + r.Waiting + ")"
	}
	return s
}

// ErrProgressDeadline means a Deployment exceeded its
// spec.progressDeadlineSeconds: the controller gave up on the rollout, so
// waiting longer does not help.
var ErrProgressDeadline = errors.New("exceeded its progress deadline")

func want(replicas *int32) int32 {
	if replicas == nil {
		return 1
	}
	return *replicas
}

// DeploymentRollout is the one rule saying a Deployment is ready, the
// strictest of kubectl rollout status's and of what traffic needs: the
// controller observed the current generation, every replica is updated to
// the current revision, no replica of an older revision is left (none
// pending termination, no surge), and every replica is available and
// ready. A Deployment whose Progressing condition says
// ProgressDeadlineExceeded (once observed) is an error (ErrProgressDeadline),
// as kubectl rollout status has it.
func DeploymentRollout(d *appsv1.Deployment) (Rollout, error) {
	st := d.Status
	r := Rollout{Kind: "Deployment", Namespace: d.Namespace, Name: d.Name, Want: want(d.Spec.Replicas)}
	if st.ObservedGeneration < d.Generation {
		r.Waiting = fmt.Sprintf("the controller has not observed generation %d yet", d.Generation)
		return r, nil
	}
	// Ready pods of the current revision: those of older ones
	// (Replicas - UpdatedReplicas) are taken out of the ready count.
	r.Ready = max(0, min(st.ReadyReplicas-(st.Replicas-st.UpdatedReplicas), st.UpdatedReplicas))
	for _, c := range st.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Reason == "ProgressDeadlineExceeded" {
			return r, fmt.Errorf("deployment %s/%s %w (%s)", d.Namespace, d.Name, ErrProgressDeadline, c.Message)
		}
	}
	switch {
	case st.UpdatedReplicas != r.Want:
		r.Waiting = fmt.Sprintf("%d of %d replicas updated", st.UpdatedReplicas, r.Want)
	case st.Replicas != st.UpdatedReplicas:
		r.Waiting = fmt.Sprintf("%d old replicas pending termination", st.Replicas-st.UpdatedReplicas)
	case st.AvailableReplicas != r.Want:
		r.Waiting = fmt.Sprintf("%d of %d updated replicas available", st.AvailableReplicas, r.Want)
	case st.ReadyReplicas != r.Want:
		r.Waiting = fmt.Sprintf("%d of %d replicas ready", st.ReadyReplicas, r.Want)
	default:
		r.Done = true
	}
	return r, nil
}

// StatefulSetRollout says whether a StatefulSet is ready, as kubectl
// rollout status does: the controller observed the current generation,
// every replica is ready, and a rolling update has finished (every replica
// at the update revision; with a partition, every replica at or above it
// updated).
func StatefulSetRollout(s *appsv1.StatefulSet) Rollout {
	st := s.Status
	r := Rollout{Kind: "StatefulSet", Namespace: s.Namespace, Name: s.Name, Want: want(s.Spec.Replicas)}
	if st.ObservedGeneration < s.Generation {
		r.Waiting = fmt.Sprintf("the controller has not observed generation %d yet", s.Generation)
		return r
	}
	r.Ready = st.ReadyReplicas
	rolling := s.Spec.UpdateStrategy.Type == "" || s.Spec.UpdateStrategy.Type == appsv1.RollingUpdateStatefulSetStrategyType
	var partition int32
	if ru := s.Spec.UpdateStrategy.RollingUpdate; rolling && ru != nil && ru.Partition != nil {
		partition = *ru.Partition
	}
	switch {
	case st.ReadyReplicas != r.Want:
		r.Waiting = fmt.Sprintf("%d of %d replicas ready", st.ReadyReplicas, r.Want)
	case rolling && partition > 0 && st.UpdatedReplicas < r.Want-partition:
		r.Waiting = fmt.Sprintf("%d of %d replicas above partition %d updated", st.UpdatedReplicas, r.Want-partition, partition)
	case rolling && partition == 0 && st.UpdateRevision != st.CurrentRevision:
		r.Waiting = fmt.Sprintf("%d of %d replicas updated to revision %s", st.UpdatedReplicas, r.Want, st.UpdateRevision)
	default:
		r.Done = true
	}
	return r
}

// WaitOptions tune WaitReady.
type WaitOptions struct {
	// Poll is the period of the checks (default 300 ms).
	Poll time.Duration
	// Progress, when set, receives a workload's Rollout each time it changes.
	Progress func(Rollout)
}

// workloadRef names a Deployment or StatefulSet to wait for.
type workloadRef struct{ kind, ns, name string }

// workloads lists the Deployments and StatefulSets among objs as Rollouts
// not yet read (objects without a namespace are in ns).
func workloads(ns string, objs []*unstructured.Unstructured) []Rollout {
	var out []Rollout
	for _, o := range objs {
		if g := o.GroupVersionKind().Group; g != appsv1.GroupName || (o.GetKind() != "Deployment" && o.GetKind() != "StatefulSet") {
			continue
		}
		n := o.GetNamespace()
		if n == "" {
			n = ns
		}
		out = append(out, Rollout{Kind: o.GetKind(), Namespace: n, Name: o.GetName()})
	}
	return out
}

// WaitReady waits until every Deployment (DeploymentRollout) and
// StatefulSet (StatefulSetRollout) among objs is ready, checking them all
// every poll; objects without a namespace are in ns. It fails at once when
// a Deployment exceeded its progress deadline, and when ctx ends with what
// each workload still waits for.
func WaitReady(ctx context.Context, cs kubernetes.Interface, ns string, objs []*unstructured.Unstructured, o WaitOptions) error {
	poll := o.Poll
	if poll <= 0 {
		poll = 300 * time.Millisecond
	}
	pending := workloads(ns, objs)
	seen := map[workloadRef]Rollout{}
	why := map[workloadRef]string{}
	for len(pending) > 0 {
		var still []Rollout
		for _, w := range pending {
			ref := workloadRef{w.Kind, w.Namespace, w.Name}
			r, err := rollout(ctx, cs, w)
			if errors.Is(err, ErrProgressDeadline) {
				return err
			}
			if err != nil {
				why[ref] = err.Error()
				still = append(still, w)
				continue
			}
			if o.Progress != nil && seen[ref] != r {
				o.Progress(r)
			}
			seen[ref] = r
			if !r.Done {
				why[ref] = r.Waiting
				still = append(still, w)
			}
		}
		if pending = still; len(pending) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			var msgs []string
			for _, w := range pending {
				msgs = append(msgs, fmt.Sprintf("%s %s/%s not ready (%s)", strings.ToLower(w.Kind), w.Namespace, w.Name, why[workloadRef{w.Kind, w.Namespace, w.Name}]))
			}
			return fmt.Errorf("%s: %w", strings.Join(msgs, "; "), ctx.Err())
		case <-time.After(poll):
		}
	}
	return nil
}

// rollout reads a workload and applies its rule.
func rollout(ctx context.Context, cs kubernetes.Interface, w Rollout) (Rollout, error) {
	if w.Kind == "StatefulSet" {
		s, err := cs.AppsV1().StatefulSets(w.Namespace).Get(ctx, w.Name, metav1.GetOptions{})
		if err != nil {
			return w, err
		}
		return StatefulSetRollout(s), nil
	}
	d, err := cs.AppsV1().Deployments(w.Namespace).Get(ctx, w.Name, metav1.GetOptions{})
	if err != nil {
		return w, err
	}
	return DeploymentRollout(d)
}
