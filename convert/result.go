package convert

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Object is a typed Kubernetes object of the result.
type Object interface {
	runtime.Object
	metav1.Object
}

// SecretRef is a Secret (and key) the converted objects read and that must
// exist before they start: the converter never copies secret values.
type SecretRef struct {
	// Name and Key locate the value in Kubernetes.
	Name string `json:"name"`
	Key  string `json:"key,omitempty"`
	// Source is the Marathon secret store path it stands for.
	Source string `json:"source"`
	// Type is the Secret type the consumer needs (Opaque, or
	// kubernetes.io/dockerconfigjson for image pull secrets).
	Type corev1.SecretType `json:"type"`
}

// Release is what one Marathon app or pod became: a workload and the
// objects that go with it, installed together (one Helm release).
type Release struct {
	// Name is the DNS-1035 name of every object of the release.
	Name string
	// ID is the Marathon id of the app or pod.
	ID string
	// Kind is "app" or "pod".
	Kind string
	// DependsOn are the names of the releases that must be deployed first
	// (Marathon dependencies), sorted.
	DependsOn []string
	// Deployment or StatefulSet is the workload (exactly one is set).
	Deployment  *appsv1.Deployment
	StatefulSet *appsv1.StatefulSet
	// Service exposes the ports (nil when the app has none).
	Service *corev1.Service
	// PersistentVolumeClaims are standalone claims (external volumes);
	// persistent local volumes are volumeClaimTemplates of the StatefulSet.
	PersistentVolumeClaims []*corev1.PersistentVolumeClaim
	// PodDisruptionBudget keeps the upgrade strategy's healthy capacity
	// during voluntary disruptions (nil when not sensible).
	PodDisruptionBudget *policyv1.PodDisruptionBudget
	// Secrets are the Secrets the objects refer to (to be created from the
	// secret store), sorted by name and key.
	Secrets []SecretRef
}

// Objects returns the objects of the release in apply order: claims,
// Service, workload, PodDisruptionBudget.
func (r *Release) Objects() []Object {
	var out []Object
	for _, p := range r.PersistentVolumeClaims {
		out = append(out, p)
	}
	if r.Service != nil {
		out = append(out, r.Service)
	}
	if r.Deployment != nil {
		out = append(out, r.Deployment)
	}
	if r.StatefulSet != nil {
		out = append(out, r.StatefulSet)
	}
	if r.PodDisruptionBudget != nil {
		out = append(out, r.PodDisruptionBudget)
	}
	return out
}

// PodTemplate returns the workload's pod template.
func (r *Release) PodTemplate() *corev1.PodTemplateSpec {
	if r.Deployment != nil {
		return &r.Deployment.Spec.Template
	}
	if r.StatefulSet != nil {
		return &r.StatefulSet.Spec.Template
	}
	return nil
}

// Workload returns the Deployment or StatefulSet.
func (r *Release) Workload() Object {
	if r.Deployment != nil {
		return r.Deployment
	}
	if r.StatefulSet != nil {
		return r.StatefulSet
	}
	return nil
}

// Result is the outcome of a conversion: releases in a stable order where
// every release comes after the ones it depends on, and the report.
type Result struct {
	Releases []*Release
	Report   Report
}

// Objects returns the objects of all releases, release by release.
func (r *Result) Objects() []Object {
	var out []Object
	for _, rel := range r.Releases {
		out = append(out, rel.Objects()...)
	}
	return out
}
