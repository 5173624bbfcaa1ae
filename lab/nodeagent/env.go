package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Lookup reads the ConfigMaps and Secrets that env refers to. A missing
// object is reported with an error for which apierrors.IsNotFound is true.
type Lookup interface {
	ConfigMap(ctx context.Context, namespace, name string) (*corev1.ConfigMap, error)
	Secret(ctx context.Context, namespace, name string) (*corev1.Secret, error)
}

// PodEnv is what the downward API can expose about a running pod.
type PodEnv struct {
	Pod    *corev1.Pod
	PodIP  string
	HostIP string
	// NodeAllocatable is what limits.* report when the container sets no limit.
	NodeAllocatable corev1.ResourceList
}

// EnvVar is one resolved variable.
type EnvVar struct{ Name, Value string }

// ErrConfig marks errors in a container's env configuration (a missing
// ConfigMap/Secret or key, a bad field path): Kubernetes reports them as
// CreateContainerConfigError.
var ErrConfig = errors.New("container configuration error")

// ResolveEnv computes a container's environment the way the kubelet does:
// envFrom sources first (prefixing keys, skipping keys that are not valid
// variable names), then env in order, where a literal value may use $(VAR)
// of variables defined before it and valueFrom reads the downward API
// (fieldRef, resourceFieldRef), ConfigMaps and Secrets. A later variable of
// the same name wins but keeps the first position. Optional references to
// missing objects or keys are skipped.
func ResolveEnv(ctx context.Context, pe PodEnv, c *corev1.Container, lk Lookup) ([]EnvVar, error) {
	var out []EnvVar
	pos := map[string]int{}
	set := func(k, v string) {
		if i, ok := pos[k]; ok {
			out[i].Value = v
			return
		}
		pos[k] = len(out)
		out = append(out, EnvVar{k, v})
	}
	vals := map[string]string{}
	ns := pe.Pod.Namespace
	for _, src := range c.EnvFrom {
		var data map[string]string
		switch {
		case src.ConfigMapRef != nil:
			cm, err := lk.ConfigMap(ctx, ns, src.ConfigMapRef.Name)
			if err != nil {
				if apierrors.IsNotFound(err) && isTrue(src.ConfigMapRef.Optional) {
					continue
				}
				return nil, fmt.Errorf("%w: envFrom configmap %q: %w", ErrConfig, src.ConfigMapRef.Name, err)
			}
			data = cm.Data
		case src.SecretRef != nil:
			s, err := lk.Secret(ctx, ns, src.SecretRef.Name)
			if err != nil {
				if apierrors.IsNotFound(err) && isTrue(src.SecretRef.Optional) {
					continue
				}
				return nil, fmt.Errorf("%w: envFrom secret %q: %w", ErrConfig, src.SecretRef.Name, err)
			}
			data = map[string]string{}
			for k, v := range s.Data {
				data[k] = string(v)
			}
			for k, v := range s.StringData {
				data[k] = v
			}
		default:
			continue
		}
		for _, k := range sortedKeys(data) {
			name := src.Prefix + k
			if len(validation.IsEnvVarName(name)) > 0 {
				continue
			}
			set(name, data[k])
			vals[name] = data[k]
		}
	}
	for _, e := range c.Env {
		v := e.Value
		if e.ValueFrom == nil {
			v = Expand(v, mapLookup(vals))
		} else {
			var ok bool
			var err error
			v, ok, err = valueFrom(ctx, pe, c, e, lk)
			if err != nil {
				return nil, fmt.Errorf("%w: env %s: %w", ErrConfig, e.Name, err)
			}
			if !ok {
				continue
			}
		}
		set(e.Name, v)
		vals[e.Name] = v
	}
	return out, nil
}

func isTrue(b *bool) bool { return b != nil && *b }

func valueFrom(ctx context.Context, pe PodEnv, c *corev1.Container, e corev1.EnvVar, lk Lookup) (string, bool, error) {
	vf, ns := e.ValueFrom, pe.Pod.Namespace
	switch {
	case vf.FieldRef != nil:
		v, err := FieldValue(pe, vf.FieldRef.FieldPath)
		return v, err == nil, err
	case vf.ResourceFieldRef != nil:
		v, err := ResourceValue(pe, c, vf.ResourceFieldRef)
		return v, err == nil, err
	case vf.ConfigMapKeyRef != nil:
		r := vf.ConfigMapKeyRef
		cm, err := lk.ConfigMap(ctx, ns, r.Name)
		if err != nil {
			if apierrors.IsNotFound(err) && isTrue(r.Optional) {
				return "", false, nil
			}
			return "", false, fmt.Errorf("configmap %q: %w", r.Name, err)
		}
		if v, ok := cm.Data[r.Key]; ok {
			return v, true, nil
		}
		if v, ok := cm.BinaryData[r.Key]; ok {
			return string(v), true, nil
		}
		if isTrue(r.Optional) {
			return "", false, nil
		}
		return "", false, fmt.Errorf("couldn't find key %s in ConfigMap %s/%s", r.Key, ns, r.Name)
	case vf.SecretKeyRef != nil:
		r := vf.SecretKeyRef
		s, err := lk.Secret(ctx, ns, r.Name)
		if err != nil {
			if apierrors.IsNotFound(err) && isTrue(r.Optional) {
				return "", false, nil
			}
			return "", false, fmt.Errorf("secret %q: %w", r.Name, err)
		}
		if v, ok := s.Data[r.Key]; ok {
			return string(v), true, nil
		}
		if v, ok := s.StringData[r.Key]; ok {
			return v, true, nil
		}
		if isTrue(r.Optional) {
			return "", false, nil
		}
		return "", false, fmt.Errorf("couldn't find key %s in Secret %s/%s", r.Key, ns, r.Name)
	}
	return "", false, errors.New("valueFrom has no supported source (fieldRef, resourceFieldRef, configMapKeyRef, secretKeyRef)")
}

// FieldValue resolves a downward-API fieldRef path for env.
func FieldValue(pe PodEnv, path string) (string, error) {
	p := pe.Pod
	if k, ok := bracketKey(path, "metadata.labels"); ok {
		return p.Labels[k], nil
	}
	if k, ok := bracketKey(path, "metadata.annotations"); ok {
		return p.Annotations[k], nil
	}
	switch path {
	case "metadata.name":
		return p.Name, nil
	case "metadata.namespace":
		return p.Namespace, nil
	case "metadata.uid":
		return string(p.UID), nil
	case "spec.nodeName":
		return p.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return p.Spec.ServiceAccountName, nil
	case "status.hostIP", "status.hostIPs":
		return pe.HostIP, nil
	case "status.podIP", "status.podIPs":
		return pe.PodIP, nil
	}
	return "", fmt.Errorf("unsupported fieldRef fieldPath %q", path)
}

// bracketKey parses prefix['key'].
func bracketKey(path, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(path, prefix+"['")
	if !ok {
		return "", false
	}
	return strings.CutSuffix(rest, "']")
}

// ResourceValue resolves a resourceFieldRef for env: limits fall back to the
// node's allocatable when the container sets none; values are divided by the
// divisor and rounded up, as the kubelet does.
func ResourceValue(pe PodEnv, c *corev1.Container, r *corev1.ResourceFieldSelector) (string, error) {
	if r.ContainerName != "" && r.ContainerName != c.Name {
		for i := range pe.Pod.Spec.Containers {
			if pe.Pod.Spec.Containers[i].Name == r.ContainerName {
				c = &pe.Pod.Spec.Containers[i]
			}
		}
	}
	kind, name, ok := strings.Cut(r.Resource, ".")
	if !ok || (kind != "limits" && kind != "requests") {
		return "", fmt.Errorf("unsupported resourceFieldRef resource %q", r.Resource)
	}
	rn := corev1.ResourceName(name)
	var q resource.Quantity
	var found bool
	if kind == "limits" {
		q, found = c.Resources.Limits[rn]
		if !found {
			q, found = pe.NodeAllocatable[rn]
		}
	} else {
		q, found = c.Resources.Requests[rn]
	}
	if !found {
		q = resource.Quantity{}
	}
	div := r.Divisor
	if div.IsZero() {
		div = resource.MustParse("1")
	}
	switch rn {
	case corev1.ResourceCPU:
		return fmt.Sprint(int64(math.Ceil(float64(q.MilliValue()) / float64(div.MilliValue())))), nil
	case corev1.ResourceMemory, corev1.ResourceEphemeralStorage:
		return fmt.Sprint(int64(math.Ceil(float64(q.Value()) / float64(div.Value())))), nil
	}
	return "", fmt.Errorf("unsupported resourceFieldRef resource %q", r.Resource)
}
