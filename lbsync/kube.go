package lbsync

import (
	"errors"
	"net"
	"sort"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// KubernetesSource lists Services and their ready endpoints from informer
// caches (all namespaces). While the API server is unreachable the caches
// keep the last state they saw.
type KubernetesSource struct {
	services, slices cache.SharedIndexInformer
}

// NewKubernetesSource starts Service and EndpointSlice informers that call
// kick on every change; they stop with stop. It does not wait for the
// caches: Services fails until they are synced.
func NewKubernetesSource(cs kubernetes.Interface, kick func(), stop <-chan struct{}) (*KubernetesSource, error) {
	fac := informers.NewSharedInformerFactory(cs, 0)
	k := &KubernetesSource{services: fac.Core().V1().Services().Informer(), slices: fac.Discovery().V1().EndpointSlices().Informer()}
	h := cache.ResourceEventHandlerFuncs{AddFunc: func(any) { kick() }, UpdateFunc: func(_, _ any) { kick() }, DeleteFunc: func(any) { kick() }}
	for _, inf := range []cache.SharedIndexInformer{k.services, k.slices} {
		if _, err := inf.AddEventHandler(h); err != nil {
			return nil, err
		}
	}
	fac.Start(stop)
	return k, nil
}

// ErrNotSynced means the informers have not listed the cluster yet.
var ErrNotSynced = errors.New("Kubernetes Services and EndpointSlices not listed yet")

// Services returns every Service with its ports' ready endpoints.
func (k *KubernetesSource) Services() ([]Service, error) {
	if !k.services.HasSynced() || !k.slices.HasSynced() {
		return nil, ErrNotSynced
	}
	var svcs []*corev1.Service
	for _, o := range k.services.GetStore().List() {
		if s, ok := o.(*corev1.Service); ok {
			svcs = append(svcs, s)
		}
	}
	bySvc := map[string][]*discoveryv1.EndpointSlice{}
	for _, o := range k.slices.GetStore().List() {
		if s, ok := o.(*discoveryv1.EndpointSlice); ok {
			key := s.Namespace + "/" + s.Labels[discoveryv1.LabelServiceName]
			bySvc[key] = append(bySvc[key], s)
		}
	}
	return ServicesFrom(svcs, bySvc), nil
}

// ServicesFrom builds the sync's view of Services from the API objects:
// slices maps "namespace/service" to the Service's EndpointSlices. Only
// ready endpoints with an IPv4 address count; a Service port's endpoints are
// the slices' ports of the same name.
func ServicesFrom(svcs []*corev1.Service, slices map[string][]*discoveryv1.EndpointSlice) []Service {
	var out []Service
	for _, s := range svcs {
		svc := Service{Namespace: s.Namespace, Name: s.Name, Labels: s.Labels, Annotations: s.Annotations}
		for _, p := range s.Spec.Ports {
			sp := ServicePort{Name: p.Name, Port: int(p.Port), TargetPort: p.TargetPort.String()}
			seen := map[string]bool{}
			for _, sl := range slices[s.Namespace+"/"+s.Name] {
				if sl.AddressType != discoveryv1.AddressTypeIPv4 {
					continue
				}
				port := 0
				for _, ep := range sl.Ports {
					name := ""
					if ep.Name != nil {
						name = *ep.Name
					}
					if name == p.Name && ep.Port != nil {
						port = int(*ep.Port)
					}
				}
				if port == 0 {
					continue
				}
				for _, e := range sl.Endpoints {
					if e.Conditions.Ready == nil || !*e.Conditions.Ready || len(e.Addresses) == 0 {
						continue
					}
					addr := net.JoinHostPort(e.Addresses[0], strconv.Itoa(port))
					if seen[addr] {
						continue
					}
					seen[addr] = true
					pod := ""
					if e.TargetRef != nil {
						pod = e.TargetRef.Name
					}
					sp.Ready = append(sp.Ready, Endpoint{Address: addr, Pod: pod})
				}
			}
			sort.Slice(sp.Ready, func(i, j int) bool { return sp.Ready[i].Address < sp.Ready[j].Address })
			svc.Ports = append(svc.Ports, sp)
		}
		out = append(out, svc)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		return out[i].Name < out[j].Name
	})
	return out
}
