package deploy

import (
	"fmt"
	"sync"
	"time"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// KubeConfig says which cluster Helm releases go to, with client-go's
// kubeconfig handling (the flags kubectl and helm have).
type KubeConfig struct {
	// Kubeconfig is the kubeconfig file ("" = $KUBECONFIG or ~/.kube/config).
	Kubeconfig string
	// Context is the kubeconfig context ("" = the current context).
	Context string
	// Namespace is the default namespace of releases whose app.yaml names
	// none ("" = the context's namespace, else "default").
	Namespace string

	once   sync.Once
	rc     *rest.Config
	cs     kubernetes.Interface
	dyn    dynamic.Interface
	defNS  string
	setErr error
}

// Getter returns a RESTClientGetter for namespace ns (what the Helm SDK and
// kubectl use).
func (k *KubeConfig) Getter(ns string) genericclioptions.RESTClientGetter {
	f := genericclioptions.NewConfigFlags(true)
	kc, ctx, n := k.Kubeconfig, k.Context, ns
	f.KubeConfig, f.Context, f.Namespace = &kc, &ctx, &n
	timeout := "30s"
	f.Timeout = &timeout
	return f
}

func (k *KubeConfig) init() error {
	k.once.Do(func() {
		g := k.Getter(k.Namespace)
		rc, err := g.ToRESTConfig()
		if err != nil {
			k.setErr = fmt.Errorf("kubeconfig: %w (pass --kubeconfig/--context, or set KUBECONFIG; for the lab: eval \"$(switchyard lab env)\")", err)
			return
		}
		rc.Timeout = 30 * time.Second
		k.rc = rc
		if k.cs, err = kubernetes.NewForConfig(rc); err != nil {
			k.setErr = err
			return
		}
		if k.dyn, err = dynamic.NewForConfig(rc); err != nil {
			k.setErr = err
			return
		}
		k.defNS = k.Namespace
		if k.defNS == "" {
			if ns, _, err := g.ToRawKubeConfigLoader().Namespace(); err == nil && ns != "" {
				k.defNS = ns
			}
		}
		if k.defNS == "" {
			k.defNS = "default"
		}
	})
	return k.setErr
}

// Host returns the API server URL.
func (k *KubeConfig) Host() string {
	if k.rc == nil {
		return "(unknown API server)"
	}
	return k.rc.Host
}

// reachable checks that the API server answers.
func (k *KubeConfig) reachable() error {
	if err := k.init(); err != nil {
		return err
	}
	if _, err := k.cs.Discovery().ServerVersion(); err != nil {
		return fmt.Errorf("the Kubernetes API server at %s cannot be reached: %w (check --kubeconfig/--context and that the cluster runs)", k.rc.Host, err)
	}
	return nil
}
