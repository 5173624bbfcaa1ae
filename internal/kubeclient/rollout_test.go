package kubeclient

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes/fake"
)

func ptr[T any](v T) *T { return &v }

// deployment is a Deployment of generation 2 asking for want replicas.
func deployment(want *int32, st appsv1.DeploymentStatus) *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", Generation: 2},
		Spec: appsv1.DeploymentSpec{Replicas: want}, Status: st}
}

// TestDeploymentRollout is the ready rule, case by case. The cases marked
// "old edge rule" were ready for migrate/edge's former rule (no check of
// old replicas), those marked "old lab rule" for lab/demo_kube.go's (no
// check of availability), the one marked "old deploy progress" counted as
// ready by deploy's progress (no deadline).
func TestDeploymentRollout(t *testing.T) {
	two := ptr(int32(2))
	for _, tc := range []struct {
		name      string
		d         *appsv1.Deployment
		done      bool
		ready     int32
		waiting   string
		errs      bool
		wantCount int32
	}{
		{"ready", deployment(two, appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 2}),
			true, 2, "", false, 2},
		{"observed a later generation", deployment(two, appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 2}),
			true, 2, "", false, 2},
		{"replicas unset means 1", deployment(nil, appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1}),
			true, 1, "", false, 1},
		{"scaled to zero", deployment(ptr(int32(0)), appsv1.DeploymentStatus{ObservedGeneration: 2}),
			true, 0, "", false, 0},
		{"generation not observed", deployment(two, appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 2}),
			false, 0, "has not observed generation 2", false, 2},
		{"not all updated", deployment(two, appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 3, UpdatedReplicas: 1, ReadyReplicas: 3, AvailableReplicas: 3}),
			false, 1, "1 of 2 replicas updated", false, 2},
		{"old replica pending termination (old edge rule)", deployment(two, appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 3, UpdatedReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 2}),
			false, 1, "1 old replicas pending termination", false, 2},
		{"surge of updated replicas", deployment(two, appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 3, AvailableReplicas: 3}),
			false, 3, "3 of 2 replicas updated", false, 2},
		{"ready but not yet available (old lab rule)", deployment(two, appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 1}),
			false, 2, "1 of 2 updated replicas available", false, 2},
		{"one not ready", deployment(two, appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 1, AvailableReplicas: 2}),
			false, 1, "1 of 2 replicas ready", false, 2},
		{"progress deadline exceeded (old deploy progress)", deployment(two, appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 0,
			Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Reason: "ProgressDeadlineExceeded", Message: "ReplicaSet web-1 has timed out progressing."}}}),
			false, 0, "", true, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := DeploymentRollout(tc.d)
			if tc.errs != (err != nil) || (err != nil && !errors.Is(err, ErrProgressDeadline)) {
				t.Fatalf("err %v, want an error: %v", err, tc.errs)
			}
			if r.Done != tc.done || r.Ready != tc.ready || r.Want != tc.wantCount || !strings.Contains(r.Waiting, tc.waiting) || (tc.done && r.Waiting != "") {
				t.Fatalf("got %+v, want done %v ready %d/%d waiting %q", r, tc.done, tc.ready, tc.wantCount, tc.waiting)
			}
		})
	}
}

func TestStatefulSetRollout(t *testing.T) {
	sts := func(strategy appsv1.StatefulSetUpdateStrategy, st appsv1.StatefulSetStatus) *appsv1.StatefulSet {
		return &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "ns", Generation: 4},
			Spec: appsv1.StatefulSetSpec{Replicas: ptr(int32(3)), UpdateStrategy: strategy}, Status: st}
	}
	rolling := appsv1.StatefulSetUpdateStrategy{}
	partitioned := appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
		RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr(int32(2))}}
	onDelete := appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
	for _, tc := range []struct {
		name    string
		s       *appsv1.StatefulSet
		done    bool
		waiting string
	}{
		{"ready", sts(rolling, appsv1.StatefulSetStatus{ObservedGeneration: 4, ReadyReplicas: 3, UpdatedReplicas: 3, CurrentRevision: "r2", UpdateRevision: "r2"}), true, ""},
		{"not observed", sts(rolling, appsv1.StatefulSetStatus{ObservedGeneration: 3, ReadyReplicas: 3, CurrentRevision: "r2", UpdateRevision: "r2"}), false, "observed"},
		{"not all ready", sts(rolling, appsv1.StatefulSetStatus{ObservedGeneration: 4, ReadyReplicas: 2, CurrentRevision: "r2", UpdateRevision: "r2"}), false, "2 of 3 replicas ready"},
		{"update not finished", sts(rolling, appsv1.StatefulSetStatus{ObservedGeneration: 4, ReadyReplicas: 3, UpdatedReplicas: 1, CurrentRevision: "r1", UpdateRevision: "r2"}), false, "1 of 3 replicas updated"},
		{"partition not reached", sts(partitioned, appsv1.StatefulSetStatus{ObservedGeneration: 4, ReadyReplicas: 3, UpdatedReplicas: 0, CurrentRevision: "r1", UpdateRevision: "r2"}), false, "above partition 2"},
		{"partition reached", sts(partitioned, appsv1.StatefulSetStatus{ObservedGeneration: 4, ReadyReplicas: 3, UpdatedReplicas: 1, CurrentRevision: "r1", UpdateRevision: "r2"}), true, ""},
		{"on delete: ready is enough", sts(onDelete, appsv1.StatefulSetStatus{ObservedGeneration: 4, ReadyReplicas: 3, CurrentRevision: "r1", UpdateRevision: "r2"}), true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := StatefulSetRollout(tc.s)
			if r.Done != tc.done || !strings.Contains(r.Waiting, tc.waiting) {
				t.Fatalf("got %+v, want done %v waiting %q", r, tc.done, tc.waiting)
			}
		})
	}
}

func deploymentObject(name, ns string) *unstructured.Unstructured {
	o := &unstructured.Unstructured{}
	o.SetAPIVersion("apps/v1")
	o.SetKind("Deployment")
	o.SetName(name)
	o.SetNamespace(ns)
	return o
}

// TestWaitReady: the waiter waits for every workload of the objects
// (objects without a namespace in the default one), reports progress on
// changes only, stops at a progress deadline, and says what each workload
// still waits for when ctx ends.
func TestWaitReady(t *testing.T) {
	notReady := appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 1, AvailableReplicas: 1}
	ready := appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 2}
	dep := func(name, ns string, st appsv1.DeploymentStatus) *appsv1.Deployment {
		return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Generation: 1}, Spec: appsv1.DeploymentSpec{Replicas: ptr(int32(2))}, Status: st}
	}
	svc := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": "web"}}}
	objs := []*unstructured.Unstructured{deploymentObject("web", ""), svc, deploymentObject("api", "other")}

	t.Run("becomes ready", func(t *testing.T) {
		cs := fake.NewClientset(dep("web", "ns", notReady), dep("api", "other", ready))
		var mu sync.Mutex
		var seen []string
		go func() {
			time.Sleep(50 * time.Millisecond)
			_, _ = cs.AppsV1().Deployments("ns").UpdateStatus(context.Background(), dep("web", "ns", ready), metav1.UpdateOptions{})
		}()
		err := WaitReady(context.Background(), cs, "ns", objs, WaitOptions{Poll: 5 * time.Millisecond, Progress: func(r Rollout) {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, r.String())
		}})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"deployment ns/web: pods ready 1/2 (1 of 2 updated replicas available)", "deployment other/api: pods ready 2/2", "deployment ns/web: pods ready 2/2"}
		if strings.Join(seen, "\n") != strings.Join(want, "\n") {
			t.Fatalf("progress:\n%s\nwant:\n%s", strings.Join(seen, "\n"), strings.Join(want, "\n"))
		}
	})

	t.Run("times out", func(t *testing.T) {
		cs := fake.NewClientset(dep("web", "ns", notReady))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		defer cancel()
		err := WaitReady(ctx, cs, "ns", objs, WaitOptions{Poll: 5 * time.Millisecond})
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "deployment ns/web not ready (1 of 2 updated replicas available)") ||
			!strings.Contains(err.Error(), `deployment other/api not ready (deployments.apps "api" not found)`) {
			t.Fatalf("err %v", err)
		}
	})

	t.Run("progress deadline", func(t *testing.T) {
		st := notReady
		st.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Reason: "ProgressDeadlineExceeded"}}
		cs := fake.NewClientset(dep("web", "ns", st))
		err := WaitReady(context.Background(), cs, "ns", objs[:1], WaitOptions{Poll: 5 * time.Millisecond})
		if !errors.Is(err, ErrProgressDeadline) {
			t.Fatalf("err %v", err)
		}
	})

	t.Run("nothing to wait for", func(t *testing.T) {
		if err := WaitReady(context.Background(), fake.NewClientset(), "ns", objs[1:2], WaitOptions{}); err != nil {
			t.Fatal(err)
		}
	})
}
