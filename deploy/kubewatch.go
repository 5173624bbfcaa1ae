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
	"k8s.io/client-go/kubernetes"

	"github.com/switchyard/switchyard/appspec"
	"github.com/switchyard/switchyard/traffic"
)

// workload is a Deployment or StatefulSet of a release.
type workload struct {
	kind, namespace, name string
	selector              *metav1.LabelSelector
}

func workloads(objs []*unstructured.Unstructured) []workload {
	var out []workload
	for _, o := range objs {
		switch o.GetKind() {
		case "Deployment":
			var d appsv1.Deployment
			if runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &d) == nil {
				out = append(out, workload{"Deployment", d.Namespace, d.Name, d.Spec.Selector})
			}
		case "StatefulSet":
			var s appsv1.StatefulSet
			if runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &s) == nil {
				out = append(out, workload{"StatefulSet", s.Namespace, s.Name, s.Spec.Selector})
			}
		}
	}
	return out
}

// DiagnoseOptions tune Diagnose.
type DiagnoseOptions struct {
	// LogLines is how many log lines of each container are shown (default 20).
	LogLines int
	// PodLogDir is the lab's pod directory (see Options.PodLogDir), read
	// when the API server cannot serve a container's log; "" outside the lab.
	PodLogDir string
}

// kubeDiagnostics describes the release's pods that are not ready (Diagnose).
func (d *Deployer) kubeDiagnostics(ctx context.Context, hp *helmPlan) string {
	kc, err := d.o.Kube.Clients()
	if err != nil {
		return ""
	}
	return Diagnose(ctx, kc.Clientset, hp.Namespace, hp.objects, DiagnoseOptions{LogLines: d.o.LogLines, PodLogDir: d.o.PodLogDir})
}

// Diagnose describes the pods of the Deployments and StatefulSets among
// objs (in their namespace, else ns) that are not ready: their state, their last events
// and the last lines of their containers' logs ("" when every pod is
// ready). It is what a failed deploy shows.
func Diagnose(ctx context.Context, cs kubernetes.Interface, ns string, objs []*unstructured.Unstructured, o DiagnoseOptions) string {
	if o.LogLines <= 0 {
		o.LogLines = 20
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var b strings.Builder
	for _, w := range workloads(objs) {
		sel, err := metav1.LabelSelectorAsSelector(w.selector)
		if err != nil {
			continue
		}
		ns := ns
		if w.namespace != "" {
			ns = w.namespace
		}
		pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
		if err != nil {
			fmt.Fprintf(&b, "\n  %s/%s: cannot list its pods: %v", strings.ToLower(w.kind), w.name, err)
			continue
		}
		if len(pods.Items) == 0 {
			fmt.Fprintf(&b, "\n  %s/%s has no pods", strings.ToLower(w.kind), w.name)
			b.WriteString(events(ctx, cs, ns, w.kind, w.name, "    "))
			continue
		}
		sort.Slice(pods.Items, func(i, j int) bool { return pods.Items[i].Name < pods.Items[j].Name })
		for i := range pods.Items {
			pod := &pods.Items[i]
			if podReady(pod) {
				continue
			}
			fmt.Fprintf(&b, "\n  pod %s/%s (node %s): %s", ns, pod.Name, orDash(pod.Spec.NodeName), podState(pod))
			b.WriteString(events(ctx, cs, ns, "Pod", pod.Name, "    "))
			for _, c := range pod.Spec.Containers {
				b.WriteString(logTail(ctx, cs, o, pod, c.Name))
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
func events(ctx context.Context, cs kubernetes.Interface, ns, kind, name, indent string) string {
	evs, err := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{
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
func logTail(ctx context.Context, cs kubernetes.Interface, o DiagnoseOptions, pod *corev1.Pod, container string) string {
	n := int64(o.LogLines)
	get := func(previous bool) (string, error) {
		raw, err := cs.CoreV1().Pods(pod.Namespace).GetLogs(pod.Name, &corev1.PodLogOptions{Container: container, TailLines: &n, Previous: previous}).DoRaw(ctx)
		return strings.TrimRight(string(raw), "\n"), err
	}
	out, err := get(false)
	if (err != nil || out == "") && restarted(pod, container) {
		if prev, perr := get(true); perr == nil && prev != "" {
			out, err = prev, nil
		}
	}
	head := fmt.Sprintf("\n    logs of container %s (last %d lines):", container, n)
	if err != nil && o.PodLogDir != "" {
		if tail, ferr := fileTail(podLogFile(o.PodLogDir, pod, container), o.LogLines); ferr == nil {
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
// ready endpoints as the workloads have replicas (want).
func (d *Deployer) kubeBackends(ctx context.Context, s *appspec.Spec, hp *helmPlan, want int32) ([]traffic.Backend, error) {
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
	kc, err := d.o.Kube.Clients()
	if err != nil {
		return nil, err
	}
	port := ""
	if s.Route != nil {
		port = s.Route.Port
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		backends, err := ServiceBackends(ctx, kc.Clientset, hp.Namespace, svcs, port)
		if err != nil {
			return nil, err
		}
		if int32(len(backends)) >= want || time.Now().After(deadline) {
			if len(backends) == 0 && want > 0 {
				return nil, fmt.Errorf("the Service %s/%s has no ready endpoints after 30s although the pods are ready", hp.Namespace, svcs[0])
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

// ServiceBackends returns the ready IPv4 endpoints of the first of the
// Services (in namespace ns) whose EndpointSlices have the port (its name or
// number; "" = each slice's first port), as load-balancer backends (platform
// kubernetes, app "ns/service", id the pod), sorted by address; nil when no
// Service has the port.
func ServiceBackends(ctx context.Context, cs kubernetes.Interface, ns string, services []string, port string) ([]traffic.Backend, error) {
	for _, svc := range services {
		list, err := cs.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + svc})
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
			number := int32(0)
			for i, p := range sl.Ports {
				if p.Port == nil {
					continue
				}
				name := ""
				if p.Name != nil {
					name = *p.Name
				}
				if (port == "" && i == 0) || name == port || strconv.Itoa(int(*p.Port)) == port {
					number = *p.Port
					break
				}
			}
			if number == 0 {
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
				out = append(out, traffic.Backend{Address: net.JoinHostPort(ep.Addresses[0], strconv.Itoa(int(number))), Weight: 1,
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
