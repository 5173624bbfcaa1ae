package lab

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"

	"github.com/switchyard/switchyard/deploy"
	"github.com/switchyard/switchyard/internal/kubeclient"
	"github.com/switchyard/switchyard/lab/labconfig"
	"github.com/switchyard/switchyard/traffic"
)

// fieldManager owns the fields the demo deployment applies.
const fieldManager = "switchyard-lab-demo"

// deployKubernetesExamples applies every object in <dir>/kubernetes/*.yaml
// (server-side apply, in file order) through the lab's kubeconfig, waits
// until each Deployment is ready (kubeclient.WaitReady; on failure the
// pods' states, events and logs: deploy.Diagnose), and returns one Endpoint
// per Service with the ready endpoints of its EndpointSlices, each checked
// to answer HTTP (hc).
func deployKubernetesExamples(ctx context.Context, cfg labconfig.Config, dir string, hc *http.Client, out io.Writer) ([]Endpoint, error) {
	files, _ := filepath.Glob(filepath.Join(dir, "kubernetes", "*.yaml"))
	if len(files) == 0 {
		return nil, nil
	}
	sort.Strings(files)
	kc, err := (&kubeclient.Factory{Kubeconfig: Kubeconfig(cfg)}).Clients()
	if err != nil {
		return nil, fmt.Errorf("lab %w", err)
	}
	cs := kc.Clientset
	var applied, services []*unstructured.Unstructured
	for _, f := range files {
		objs, err := kubeclient.ReadObjects(f)
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			if err := kc.Apply(ctx, o, fieldManager); err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			fmt.Fprintf(out, "applied %s %s to Kubernetes (%s)\n", strings.ToLower(o.GetKind()), qualified(o), filepath.Base(f))
			applied = append(applied, o)
			if o.GetKind() == "Service" {
				services = append(services, o)
			}
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := kubeclient.WaitReady(wctx, cs, "default", applied, kubeclient.WaitOptions{}); err != nil {
		return nil, fmt.Errorf("%w%s", err, deploy.Diagnose(ctx, cs, "default", applied, deploy.DiagnoseOptions{PodLogDir: cfg.Path("pods")}))
	}
	var eps []Endpoint
	for _, s := range services {
		ep, err := serviceEndpoint(ctx, cs, hc, s.GetNamespace(), s.GetName(), time.Minute)
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

// serviceEndpoint waits until the Service has ready endpoints
// (deploy.ServiceBackends) and checks that each answers HTTP on its pod IP.
func serviceEndpoint(ctx context.Context, cs kubernetes.Interface, hc *http.Client, ns, name string, timeout time.Duration) (Endpoint, error) {
	ep := Endpoint{App: "/" + ns + "/" + name, Platform: traffic.Kubernetes}
	deadline := time.Now().Add(timeout)
	var ready []traffic.Backend
	for {
		bs, err := deploy.ServiceBackends(ctx, cs, ns, []string{name}, "")
		if err == nil && len(bs) > 0 {
			ready = bs
			break
		}
		if time.Now().After(deadline) {
			return ep, fmt.Errorf("service %s/%s has no ready endpoint after %s (%v)", ns, name, timeout, err)
		}
		select {
		case <-ctx.Done():
			return ep, ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
	for _, b := range ready {
		u := "http://" + b.Address + "/"
		code, body, err := get(ctx, hc, u)
		if err != nil || code/100 != 2 {
			return ep, fmt.Errorf("service %s/%s: pod %s at %s does not answer (status %d, %v)", ns, name, b.ID, u, code, err)
		}
		ep.URLs = append(ep.URLs, u)
		ep.Version = jsonVersion(body)
	}
	return ep, nil
}
