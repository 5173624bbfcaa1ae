package lbsync

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func TestServicesFrom(t *testing.T) {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "shop", Annotations: map[string]string{AnnotationGroup: "external"}},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{
			{Name: "http", Port: 80, TargetPort: intstr.FromString("http")},
			{Name: "admin", Port: 81, TargetPort: intstr.FromInt32(9090)}}}}
	ep := func(ip, pod string, ready bool) discoveryv1.Endpoint {
		return discoveryv1.Endpoint{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: &ready},
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: pod}}
	}
	slices := map[string][]*discoveryv1.EndpointSlice{"demo/shop": {
		{AddressType: discoveryv1.AddressTypeIPv4,
			Ports:     []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080)}, {Name: ptr.To("admin"), Port: ptr.To[int32](9090)}},
			Endpoints: []discoveryv1.Endpoint{ep("10.9.0.5", "shop-b", true), ep("10.9.0.4", "shop-a", true), ep("10.9.0.6", "shop-c", false)}},
		{AddressType: discoveryv1.AddressTypeIPv4, // a second slice, one endpoint repeated
			Ports:     []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080)}},
			Endpoints: []discoveryv1.Endpoint{ep("10.9.0.4", "shop-a", true), ep("10.9.0.7", "shop-d", true)}},
		{AddressType: discoveryv1.AddressTypeIPv6,
			Ports:     []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080)}},
			Endpoints: []discoveryv1.Endpoint{ep("fd00::1", "shop-a", true)}},
	}}
	got := ServicesFrom([]*corev1.Service{svc}, slices)
	want := []Service{{Namespace: "demo", Name: "shop", Annotations: svc.Annotations, Ports: []ServicePort{
		{Name: "http", Port: 80, TargetPort: "http", Ready: []Endpoint{{"10.9.0.4:8080", "shop-a"}, {"10.9.0.5:8080", "shop-b"}, {"10.9.0.7:8080", "shop-d"}}},
		{Name: "admin", Port: 81, TargetPort: "9090", Ready: []Endpoint{{"10.9.0.4:9090", "shop-a"}, {"10.9.0.5:9090", "shop-b"}}},
	}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
}
