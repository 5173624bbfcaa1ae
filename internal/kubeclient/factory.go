package kubeclient

import (
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
)

// Factory builds the clients of one cluster from a kubeconfig file, one of
// its contexts and a default namespace, with client-go's loading rules (the
// flags kubectl and helm have). It is the one place Switchyard turns a
// kubeconfig into clients: `deploy`, `capacity`, `migrate`, `lb sync` and
// the lab use it. The rest.Config, the clients and the discovery cache are
// built once, on first use, and shared by everything the factory hands
// out, the Helm SDK's getters included. Use it by pointer; its fields are
// read on first use.
type Factory struct {
	// Kubeconfig is the kubeconfig file ("" = $KUBECONFIG, else ~/.kube/config).
	Kubeconfig string
	// Context is the kubeconfig context ("" = its current context).
	Context string
	// Namespace is the default namespace ("" = the context's, else "default").
	Namespace string
	// QPS and Burst raise client-go's default rate limits when > 0.
	QPS   float32
	Burst int
	// Timeout bounds every request when > 0 (leave it 0 for clients that
	// watch: a watch is one long request).
	Timeout time.Duration

	once    sync.Once
	rc      *rest.Config
	dc      discovery.CachedDiscoveryInterface
	clients *Clients
	ns      string
	err     error
}

// where names the kubeconfig and context in messages.
func (f *Factory) where() string {
	w := f.Kubeconfig
	if w == "" {
		w = "(KUBECONFIG or ~/.kube/config)"
	}
	if f.Context != "" {
		w += " context " + f.Context
	}
	return w
}

// loader is client-go's kubeconfig loader for the factory's file and
// context, with namespace ns ("" = the context's) as the default namespace.
func (f *Factory) loader(ns string) clientcmd.ClientConfig {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if f.Kubeconfig != "" {
		rules.ExplicitPath = f.Kubeconfig
	}
	ov := &clientcmd.ConfigOverrides{CurrentContext: f.Context}
	ov.Context.Namespace = ns
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, ov)
}

func (f *Factory) init() error {
	f.once.Do(func() {
		rc, err := f.loader(f.Namespace).ClientConfig()
		if err != nil {
			f.err = fmt.Errorf("kubeconfig %s: %w", f.where(), err)
			return
		}
		if f.QPS > 0 {
			rc.QPS, rc.Burst = f.QPS, f.Burst
		}
		if f.Timeout > 0 {
			rc.Timeout = f.Timeout
		}
		dc, err := discovery.NewDiscoveryClientForConfig(rc)
		if err != nil {
			f.err = fmt.Errorf("kubeconfig %s: kubernetes discovery client: %w", f.where(), err)
			return
		}
		f.dc = memory.NewMemCacheClient(dc)
		if f.clients, err = newClients(rc, f.dc); err != nil {
			f.err = fmt.Errorf("kubeconfig %s: %w", f.where(), err)
			return
		}
		f.ns = f.Namespace
		if f.ns == "" {
			if ns, _, err := f.loader("").Namespace(); err == nil {
				f.ns = ns
			}
		}
		if f.ns == "" {
			f.ns = "default"
		}
		f.rc = rc
	})
	return f.err
}

// RESTConfig returns a copy of the cluster's rest.Config.
func (f *Factory) RESTConfig() (*rest.Config, error) {
	if err := f.init(); err != nil {
		return nil, err
	}
	return rest.CopyConfig(f.rc), nil
}

// Clients returns the cluster's clients (built once).
func (f *Factory) Clients() (*Clients, error) {
	if err := f.init(); err != nil {
		return nil, err
	}
	return f.clients, nil
}

// DefaultNamespace is Namespace, else the kubeconfig context's namespace,
// else "default".
func (f *Factory) DefaultNamespace() (string, error) {
	if err := f.init(); err != nil {
		return "", err
	}
	return f.ns, nil
}

// Host returns the API server URL ("(unknown API server)" when the
// kubeconfig cannot be loaded).
func (f *Factory) Host() string {
	if f.init() != nil {
		return "(unknown API server)"
	}
	return f.rc.Host
}

// Getter returns the RESTClientGetter of namespace ns (what the Helm SDK's
// action.Configuration takes): the factory's rest.Config and discovery
// cache, with ns as the default namespace of objects that name none.
func (f *Factory) Getter(ns string) genericclioptions.RESTClientGetter {
	return getter{f: f, ns: ns}
}

type getter struct {
	f  *Factory
	ns string
}

func (g getter) ToRESTConfig() (*rest.Config, error) { return g.f.RESTConfig() }

func (g getter) ToDiscoveryClient() (discovery.CachedDiscoveryInterface, error) {
	if err := g.f.init(); err != nil {
		return nil, err
	}
	return g.f.dc, nil
}

func (g getter) ToRESTMapper() (meta.RESTMapper, error) {
	dc, err := g.ToDiscoveryClient()
	if err != nil {
		return nil, err
	}
	return restmapper.NewDeferredDiscoveryRESTMapper(dc), nil
}

func (g getter) ToRawKubeConfigLoader() clientcmd.ClientConfig { return g.f.loader(g.ns) }
