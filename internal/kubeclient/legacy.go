package kubeclient

import (
	"fmt"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// FromKubeconfig builds the clients for a kubeconfig file's current context;
// qps and burst raise client-go's default rate limits when > 0.
func FromKubeconfig(path string, qps float32, burst int) (*Clients, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	if qps > 0 {
		rc.QPS, rc.Burst = qps, burst
	}
	return New(rc)
}

// RESTConfig loads a kubeconfig file (KUBECONFIG rules when path is "")
// with one of its contexts ("" = its current context); qps and burst raise
// client-go's default rate limits when > 0.
func RESTConfig(path, kubeContext string, qps float32, burst int) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if path != "" {
		rules.ExplicitPath = path
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: kubeContext})
	rc, err := cc.ClientConfig()
	if err != nil {
		where := path
		if where == "" {
			where = "(KUBECONFIG or ~/.kube/config)"
		}
		if kubeContext != "" {
			where += " context " + kubeContext
		}
		return nil, fmt.Errorf("kubeconfig %s: %w", where, err)
	}
	if qps > 0 {
		rc.QPS, rc.Burst = qps, burst
	}
	return rc, nil
}

// FromKubeconfigContext builds the clients for one context of a kubeconfig
// file (see RESTConfig).
func FromKubeconfigContext(path, kubeContext string, qps float32, burst int) (*Clients, error) {
	rc, err := RESTConfig(path, kubeContext, qps, burst)
	if err != nil {
		return nil, err
	}
	return New(rc)
}
