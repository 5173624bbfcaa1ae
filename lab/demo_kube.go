package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
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
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"

	"github.com/switchyard/switchyard/internal/kubeclient"
	"github.com/switchyard/switchyard/lab/labconfig"
	"github.com/switchyard/switchyard/traffic"
)

// fieldManager owns the fields the demo deployment applies.
const fieldManager = "switchyard-lab-demo"

// deployKubernetesExamples applies every object in <dir>/kubernetes/*.yaml
// (server-side apply, in file order), waits until each Deployment has all
// its replicas ready, and returns one Endpoint per Service with the ready
// endpoints of its EndpointSlices.
func deployKubernetesExamples(ctx context.Context, cfg labconfig.Config, dir string, out io.Writer) ([]Endpoint, error) {
	files, _ := filepath.Glob(filepath.Join(dir, "kubernetes", "*.yaml"))
	if len(files) == 0 {
		return nil, nil
	}
	sort.Strings(files)
	kc, err := kubeclient.FromKubeconfig(Kubeconfig(cfg), 0, 0)
	if err != nil {
		return nil, fmt.Errorf("lab %w", err)
	}
	cs := kc.Clientset
	var deployments, services []*unstructured.Unstructured
	for _, f := range files {
		objs, err := readObjects(f)
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			gvk := o.GroupVersionKind()
			if err := kc.Apply(ctx, o, fieldManager); err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			fmt.Fprintf(out, "applied %s %s to Kubernetes (%s)\n", strings.ToLower(gvk.Kind), qualified(o), filepath.Base(f))
			switch gvk.Kind {
			case "Deployment":
				deployments = append(deployments, o)
			case "Service":
				services = append(services, o)
			}
		}
	}
	for _, d := range deployments {
		if err := waitDeployment(ctx, cs, d.GetNamespace(), d.GetName(), 2*time.Minute); err != nil {
			return nil, err
		}
	}
	var eps []Endpoint
	for _, s := range services {
		ep, err := serviceEndpoint(ctx, cs, s.GetNamespace(), s.GetName(), time.Minute)
		if err != nil {
			return nil, err
		}
		eps = append(eps, ep)
	}
	return eps, nil
}

func qualified(o *unstructured.Unstructured) string {
	if o.GetNamespace() == "" {
		return o.GetName()
	}
	return o.GetNamespace() + "/" + o.GetName()
}

// readObjects decodes a multi-document YAML file into objects.
func readObjects(path string) ([]*unstructured.Unstructured, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec := utilyaml.NewYAMLOrJSONDecoder(f, 4096)
	var out []*unstructured.Unstructured
	for i := 1; ; i++ {
		var m map[string]any
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", path, i, err)
		}
		if len(m) == 0 {
			continue
		}
		o := &unstructured.Unstructured{Object: m}
		if o.GetKind() == "" || o.GetAPIVersion() == "" || o.GetName() == "" {
			return nil, fmt.Errorf("%s: document %d: apiVersion, kind and metadata.name are required", path, i)
		}
		out = append(out, o)
	}
}

// waitDeployment waits until the Deployment's current generation has all its
// replicas updated and ready; on timeout it explains with the pods' states.
func waitDeployment(ctx context.Context, cs kubernetes.Interface, ns, name string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil && deploymentReady(d) {
			return nil
		}
		if time.Now().After(deadline) {
			why := "not found"
			if err == nil {
				why = fmt.Sprintf("%d/%d replicas ready", d.Status.ReadyReplicas, replicas(d))
			}
			return fmt.Errorf("deployment %s/%s is not ready after %s (%s)%s", ns, name, timeout, why, podProblems(ctx, cs, ns, d))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func replicas(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

func deploymentReady(d *appsv1.Deployment) bool {
	n := replicas(d)
	return d.Status.ObservedGeneration >= d.Generation && d.Status.UpdatedReplicas == n &&
		d.Status.ReadyReplicas == n && d.Status.Replicas == n
}

// podProblems lists the Deployment's pods that are not ready, with why.
func podProblems(ctx context.Context, cs kubernetes.Interface, ns string, d *appsv1.Deployment) string {
	if d == nil || d.Spec.Selector == nil {
		return ""
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return ""
	}
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return ""
	}
	var b strings.Builder
	for _, p := range pods.Items {
		fmt.Fprintf(&b, "\n  pod %s on %q: %s", p.Name, p.Spec.NodeName, p.Status.Phase)
		for _, c := range p.Status.ContainerStatuses {
			if w := c.State.Waiting; w != nil {
				fmt.Fprintf(&b, "; %s waiting: %s %s", c.Name, w.Reason, w.Message)
			}
		}
		evs, err := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + p.Name})
		if err == nil {
			for _, e := range evs.Items {
				if e.Type == corev1.EventTypeWarning {
					fmt.Fprintf(&b, "; event %s: %s", e.Reason, e.Message)
				}
			}
		}
	}
	return b.String()
}

// serviceEndpoint reads the Service's ready endpoints and checks that each
// answers HTTP on its pod IP.
func serviceEndpoint(ctx context.Context, cs kubernetes.Interface, ns, name string, timeout time.Duration) (Endpoint, error) {
	ep := Endpoint{App: "/" + ns + "/" + name, Platform: traffic.Kubernetes}
	deadline := time.Now().Add(timeout)
	var ready []traffic.Backend
	for {
		slices, err := cs.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + name})
		var addrs []traffic.Backend
		if err == nil {
			for _, s := range slices.Items {
				if len(s.Ports) == 0 || s.Ports[0].Port == nil {
					continue
				}
				for _, e := range s.Endpoints {
					if e.Conditions.Ready == nil || !*e.Conditions.Ready || len(e.Addresses) == 0 {
						continue
					}
					id := ""
					if e.TargetRef != nil {
						id = e.TargetRef.Name
					}
					addrs = append(addrs, traffic.Backend{Address: net.JoinHostPort(e.Addresses[0], strconv.Itoa(int(*s.Ports[0].Port))),
						Weight: 1, Platform: traffic.Kubernetes, App: ns + "/" + name, ID: id})
				}
			}
		}
		if len(addrs) > 0 {
			sort.Slice(addrs, func(i, j int) bool { return addrs[i].Address < addrs[j].Address })
			ready = addrs
			break
		}
		if time.Now().After(deadline) {
			return ep, fmt.Errorf("service %s/%s has no ready endpoint after %s", ns, name, timeout)
		}
		select {
		case <-ctx.Done():
			return ep, ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
	c := &http.Client{Timeout: 5 * time.Second}
	for _, b := range ready {
		u := "http://" + b.Address + "/"
		code, body, err := send(ctx, c, http.MethodGet, u, nil)
		if err != nil || code/100 != 2 {
			return ep, fmt.Errorf("service %s/%s: pod %s at %s does not answer (status %d, %v)", ns, name, b.ID, u, code, err)
		}
		ep.URLs = append(ep.URLs, u)
		ep.Version = jsonVersion(body)
	}
	return ep, nil
}
