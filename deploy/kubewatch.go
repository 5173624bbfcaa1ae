package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/switchyard/switchyard/appspec"
	"github.com/switchyard/switchyard/traffic"
)

// workload is a Deployment or StatefulSet of a release.
type workload struct {
	kind, name string
	selector   *metav1.LabelSelector
}

func workloads(objs []*unstructured.Unstructured) []workload {
	var out []workload
	for _, o := range objs {
		switch o.GetKind() {
		case "Deployment":
			var d appsv1.Deployment
			if runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &d) == nil {
				out = append(out, workload{"Deployment", d.Name, d.Spec.Selector})
			}
		case "StatefulSet":
			var s appsv1.StatefulSet
			if runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &s) == nil {
				out = append(out, workload{"StatefulSet", s.Name, s.Spec.Selector})
			}
		}
	}
	return out
}

// readiness returns ready and wanted replicas of a workload.
func (d *Deployer) readiness(ctx context.Context, ns string, w workload) (ready, want int32, err error) {
	apps := d.o.Kube.cs.AppsV1()
	switch w.kind {
	case "Deployment":
		o, err := apps.Deployments(ns).Get(ctx, w.name, metav1.GetOptions{})
		if err != nil {
			return 0, 0, err
		}
		want = 1
		if o.Spec.Replicas != nil {
			want = *o.Spec.Replicas
		}
		// Count only pods of the new revision: the pods of older ones
		// (Replicas - UpdatedReplicas) are taken out of the ready count.
		ready = o.Status.ReadyReplicas - (o.Status.Replicas - o.Status.UpdatedReplicas)
		ready = max(0, min(ready, o.Status.UpdatedReplicas))
		if o.Status.ObservedGeneration < o.Generation {
			ready = 0 // the controller has not seen the new revision yet
		}
		return ready, want, nil
	default:
		o, err := apps.StatefulSets(ns).Get(ctx, w.name, metav1.GetOptions{})
		if err != nil {
			return 0, 0, err
		}
		want = 1
		if o.Spec.Replicas != nil {
			want = *o.Spec.Replicas
		}
		return o.Status.ReadyReplicas, want, nil
	}
}

// kubeProgress prints "pods ready x/y" for every workload when it changes,
// until ctx ends.
func (d *Deployer) kubeProgress(ctx context.Context, hp *helmPlan) {
	ws := workloads(hp.objects)
	last := map[string]string{}
	tick := time.NewTicker(d.o.Poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for _, w := range ws {
			ready, want, err := d.readiness(ctx, hp.ns, w)
			if err != nil {
				continue
			}
			line := fmt.Sprintf("pods ready %d/%d", ready, want)
			key := w.kind + "/" + w.name
			if last[key] != line {
				last[key] = line
				d.printf("  %s/%s %s: %s\n", hp.ns, strings.ToLower(w.kind), w.name, line)
			}
		}
	}
}

// kubeDiagnostics describes the pods of the release that are not ready:
// their state, their events and the last lines of their logs.
func (d *Deployer) kubeDiagnostics(ctx context.Context, hp *helmPlan) string {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cs := d.o.Kube.cs
	var b strings.Builder
	for _, w := range workloads(hp.objects) {
		sel, err := metav1.LabelSelectorAsSelector(w.selector)
		if err != nil {
			continue
		}
		pods, err := cs.CoreV1().Pods(hp.ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
		if err != nil {
			fmt.Fprintf(&b, "\n  %s/%s: cannot list its pods: %v", strings.ToLower(w.kind), w.name, err)
			continue
		}
		if len(pods.Items) == 0 {
			fmt.Fprintf(&b, "\n  %s/%s has no pods", strings.ToLower(w.kind), w.name)
			b.WriteString(d.events(ctx, hp.ns, w.kind, w.name, "    "))
			continue
		}
		sort.Slice(pods.Items, func(i, j int) bool { return pods.Items[i].Name < pods.Items[j].Name })
		for i := range pods.Items {
			pod := &pods.Items[i]
			if podReady(pod) {
				continue
			}
			fmt.Fprintf(&b, "\n  pod %s/%s (node %s): %s", hp.ns, pod.Name, orDash(pod.Spec.NodeName), podState(pod))
			b.WriteString(d.events(ctx, hp.ns, "Pod", pod.Name, "    "))
			for _, c := range pod.Spec.Containers {
				b.WriteString(d.logTail(ctx, pod, c.Name))
			}
		}
	}
	if b.Len() == 0 {
		return ""
	}
	return "\n  what failed:" + b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podState summarises a pod's phase and its containers' states.
func podState(p *corev1.Pod) string {
	parts := []string{string(p.Status.Phase)}
	for _, c := range p.Status.ContainerStatuses {
		s := c.Name + ": "
		switch {
		case c.State.Waiting != nil:
			s += "waiting (" + c.State.Waiting.Reason
			if c.State.Waiting.Message != "" {
				s += ": " + c.State.Waiting.Message
			}
			s += ")"
		case c.State.Terminated != nil:
			s += fmt.Sprintf("terminated (%s, exit code %d)", c.State.Terminated.Reason, c.State.Terminated.ExitCode)
		case c.State.Running != nil && !c.Ready:
			s += "running, not ready"
		case c.State.Running != nil:
			s += "running, ready"
		}
		if c.RestartCount > 0 {
			s += fmt.Sprintf(", %d restarts", c.RestartCount)
			if t := c.LastTerminationState.Terminated; t != nil {
				s += fmt.Sprintf(", last exit code %d (%s)", t.ExitCode, t.Reason)
			}
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// events lists the last events of an object.
func (d *Deployer) events(ctx context.Context, ns, kind, name, indent string) string {
	evs, err := d.o.Kube.cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{
		FieldSelector: "involvedObject.kind=" + kind + ",involvedObject.name=" + name})
	if err != nil {
		return "\n" + indent + "events: cannot list them: " + err.Error()
	}
	items := evs.Items
	if len(items) == 0 {
		return "\n" + indent + "events: none"
	}
	sort.Slice(items, func(i, j int) bool { return eventTime(items[i]).Before(eventTime(items[j])) })
	if len(items) > 10 {
		items = items[len(items)-10:]
	}
	var b strings.Builder
	b.WriteString("\n" + indent + "events:")
	for _, e := range items {
		count := ""
		if e.Count > 1 {
			count = fmt.Sprintf(" (x%d)", e.Count)
		}
		fmt.Fprintf(&b, "\n%s  %s %s: %s%s", indent, e.Type, e.Reason, strings.TrimSpace(e.Message), count)
	}
	return b.String()
}

func eventTime(e corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}

// logTail returns the last lines of a container's log (of its previous run
// when it restarted and the current one says nothing).
func (d *Deployer) logTail(ctx context.Context, pod *corev1.Pod, container string) string {
	n := int64(d.o.LogLines)
	get := func(previous bool) (string, error) {
		raw, err := d.o.Kube.cs.CoreV1().Pods(pod.Namespace).GetLogs(pod.Name, &corev1.PodLogOptions{Container: container, TailLines: &n, Previous: previous}).DoRaw(ctx)
		return strings.TrimRight(string(raw), "\n"), err
	}
	out, err := get(false)
	if (err != nil || out == "") && restarted(pod, container) {
		if prev, perr := get(true); perr == nil && prev != "" {
			out, err = prev, nil
		}
	}
	head := fmt.Sprintf("\n    logs of container %s (last %d lines):", container, n)
	if err != nil && d.o.PodLogDir != "" {
		if tail, ferr := fileTail(podLogFile(d.o.PodLogDir, pod, container), d.o.LogLines); ferr == nil {
			out, err = tail, nil
			head = fmt.Sprintf("\n    logs of container %s (last %d lines, from the node agent's file):", container, n)
		}
	}
	switch {
	case err != nil:
		return head + " cannot read them: " + err.Error()
	case out == "":
		return head + " (empty)"
	}
	return head + "\n      " + strings.ReplaceAll(out, "\n", "\n      ")
}

func restarted(p *corev1.Pod, container string) bool {
	for _, c := range p.Status.ContainerStatuses {
		if c.Name == container {
			return c.RestartCount > 0
		}
	}
	return false
}

// kubeBackends returns the ready endpoints of the release's Service on the
// route's port, waiting (up to 30 s) until the EndpointSlices list as many
// ready endpoints as the workloads have replicas.
func (d *Deployer) kubeBackends(ctx context.Context, s *appspec.Spec, hp *helmPlan) ([]traffic.Backend, error) {
	var svcs []string
	for _, o := range hp.objects {
		if o.GetKind() == "Service" && o.GetAPIVersion() == "v1" {
			svcs = append(svcs, o.GetName())
		}
	}
	if len(svcs) == 0 {
		if s.Route == nil {
			return nil, nil
		}
		return nil, fmt.Errorf("the release has no Service, so its route %s has no backends: add a Service to the chart", s.RoutePath())
	}
	var want int32
	for _, w := range workloads(hp.objects) {
		if _, n, err := d.readiness(ctx, hp.ns, w); err == nil {
			want += n
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		backends, err := d.sliceBackends(ctx, s, hp.ns, svcs)
		if err != nil {
			return nil, err
		}
		if int32(len(backends)) >= want || time.Now().After(deadline) {
			if len(backends) == 0 && want > 0 {
				return nil, fmt.Errorf("the Service %s/%s has no ready endpoints after 30s although the pods are ready", hp.ns, svcs[0])
			}
			return backends, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (d *Deployer) sliceBackends(ctx context.Context, s *appspec.Spec, ns string, svcs []string) ([]traffic.Backend, error) {
	want := ""
	if s.Route != nil {
		want = s.Route.Port
	}
	for _, svc := range svcs {
		list, err := d.o.Kube.cs.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + svc})
		if err != nil {
			return nil, fmt.Errorf("list the EndpointSlices of Service %s/%s: %w", ns, svc, err)
		}
		var out []traffic.Backend
		matched := false
		sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
		for _, sl := range list.Items {
			if sl.AddressType != discoveryv1.AddressTypeIPv4 {
				continue
			}
			port := int32(0)
			for i, p := range sl.Ports {
				if p.Port == nil {
					continue
				}
				name := ""
				if p.Name != nil {
					name = *p.Name
				}
				if (want == "" && i == 0) || name == want || strconv.Itoa(int(*p.Port)) == want {
					port = *p.Port
					break
				}
			}
			if port == 0 {
				continue
			}
			matched = true
			for _, ep := range sl.Endpoints {
				if ep.Conditions.Ready != nil && !*ep.Conditions.Ready || len(ep.Addresses) == 0 {
					continue
				}
				id := ep.Addresses[0]
				if ep.TargetRef != nil {
					id = ep.TargetRef.Name
				}
				out = append(out, traffic.Backend{Address: net.JoinHostPort(ep.Addresses[0], strconv.Itoa(int(port))), Weight: 1,
					Platform: traffic.Kubernetes, App: ns + "/" + svc, ID: id})
			}
		}
		if matched {
			sort.Slice(out, func(i, j int) bool { return out[i].Address < out[j].Address })
			return out, nil
		}
	}
	return nil, nil
}

// podLogFile is where the lab's node agent writes a container's output:
// <pods dir>/<namespace>_<name>_<uid>/<container>.log (nodeagent.PodDirName).
func podLogFile(dir string, pod *corev1.Pod, container string) string {
	return filepath.Join(dir, pod.Namespace+"_"+pod.Name+"_"+string(pod.UID), container+".log")
}

// fileTail returns the last n lines of a file (reading at most its last 1 MiB).
func fileTail(path string, n int) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	const window = 1 << 20
	off := max(0, st.Size()-window)
	b := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n"), nil
}
