package nodeagent

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/switchyard/switchyard/internal/wanterr"
)

type fakeLookup struct {
	cms     map[string]*corev1.ConfigMap
	secrets map[string]*corev1.Secret
}

func (f fakeLookup) ConfigMap(_ context.Context, ns, name string) (*corev1.ConfigMap, error) {
	if c, ok := f.cms[ns+"/"+name]; ok {
		return c, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "configmaps"}, name)
}

func (f fakeLookup) Secret(_ context.Context, ns, name string) (*corev1.Secret, error) {
	if s, ok := f.secrets[ns+"/"+name]; ok {
		return s, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, name)
}

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "1", "B": "two", "EMPTY": ""}
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"$(A)", "1"},
		{"x-$(A)-$(B)-y", "x-1-two-y"},
		{"$(MISSING)", "$(MISSING)"},
		{"$$(A)", "$(A)"},
		{"$$$(A)", "$1"},
		{"$(A", "$(A"},
		{"$A", "$A"},
		{"cost: 5$", "cost: 5$"},
		{"$(EMPTY)x", "x"},
		{"$()", "$()"},
	}
	for _, tt := range tests {
		if got := Expand(tt.in, mapLookup(vars)); got != tt.want {
			t.Errorf("Expand(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestResolveEnv(t *testing.T) {
	yes := true
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "shop", UID: "uid-1",
			Labels: map[string]string{"app": "web"}, Annotations: map[string]string{"team": "blue"}},
		Spec: corev1.PodSpec{NodeName: "node-1", ServiceAccountName: "default"},
	}
	pe := PodEnv{Pod: pod, PodIP: "10.244.0.7", HostIP: "127.0.1.1", NodeAllocatable: corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("4Gi")}}
	lk := fakeLookup{
		cms:     map[string]*corev1.ConfigMap{"shop/cfg": {Data: map[string]string{"MODE": "fast", "1bad key": "x", "LEVEL": "3"}}},
		secrets: map[string]*corev1.Secret{"shop/db": {Data: map[string][]byte{"password": []byte("s3cr3t"), "USER": []byte("admin")}}},
	}
	field := func(p string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: p}}
	}
	res := func(r, div string) *corev1.EnvVarSource {
		s := &corev1.ResourceFieldSelector{Resource: r}
		if div != "" {
			s.Divisor = resource.MustParse(div)
		}
		return &corev1.EnvVarSource{ResourceFieldRef: s}
	}
	tests := []struct {
		name    string
		c       corev1.Container
		want    []string // NAME=VALUE in order
		wantErr string
	}{
		{"literal and expansion of earlier vars only",
			corev1.Container{Env: []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "B", Value: "$(A)-$(C)"}, {Name: "C", Value: "3"}}},
			[]string{"A=1", "B=1-$(C)", "C=3"}, ""},
		{"downward API fields",
			corev1.Container{Env: []corev1.EnvVar{
				{Name: "NAME", ValueFrom: field("metadata.name")}, {Name: "NS", ValueFrom: field("metadata.namespace")},
				{Name: "IP", ValueFrom: field("status.podIP")}, {Name: "NODE", ValueFrom: field("spec.nodeName")},
				{Name: "HOST", ValueFrom: field("status.hostIP")}, {Name: "APP", ValueFrom: field("metadata.labels['app']")},
				{Name: "TEAM", ValueFrom: field("metadata.annotations['team']")}, {Name: "UID", ValueFrom: field("metadata.uid")},
				{Name: "URL", Value: "http://$(IP):80"}}},
			[]string{"NAME=web-1", "NS=shop", "IP=10.244.0.7", "NODE=node-1", "HOST=127.0.1.1", "APP=web", "TEAM=blue", "UID=uid-1", "URL=http://10.244.0.7:80"}, ""},
		{"resourceFieldRef with limits, defaults and divisors",
			corev1.Container{
				Resources: corev1.ResourceRequirements{
					Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")}},
				Env: []corev1.EnvVar{
					{Name: "MEM_LIMIT_MI", ValueFrom: res("limits.memory", "1Mi")}, {Name: "CPU_LIMIT", ValueFrom: res("limits.cpu", "")},
					{Name: "CPU_REQ_M", ValueFrom: res("requests.cpu", "1m")}, {Name: "CPU_REQ", ValueFrom: res("requests.cpu", "")},
					{Name: "MEM_REQ", ValueFrom: res("requests.memory", "")}}},
			[]string{"MEM_LIMIT_MI=256", "CPU_LIMIT=2", "CPU_REQ_M=250", "CPU_REQ=1", "MEM_REQ=0"}, ""},
		{"envFrom with prefix skips invalid keys, env overrides keep position",
			corev1.Container{
				EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}},
					{Prefix: "DB_", SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}}}},
				Env: []corev1.EnvVar{{Name: "LEVEL", Value: "9"}, {Name: "X", Value: "$(MODE)"}}},
			[]string{"LEVEL=9", "MODE=fast", "DB_USER=admin", "DB_password=s3cr3t", "X=fast"}, ""},
		{"key refs",
			corev1.Container{Env: []corev1.EnvVar{
				{Name: "PW", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "password"}}},
				{Name: "MODE", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Key: "MODE"}}},
				{Name: "OPT", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}, Key: "k", Optional: &yes}}},
				{Name: "OPTKEY", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "nokey", Optional: &yes}}}}},
			[]string{"PW=s3cr3t", "MODE=fast"}, ""},
		{"missing secret is a config error",
			corev1.Container{Env: []corev1.EnvVar{{Name: "PW", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "gone"}, Key: "k"}}}}},
			nil, `env PW: secret "gone"`},
		{"missing key is a config error",
			corev1.Container{Env: []corev1.EnvVar{{Name: "M", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Key: "nokey"}}}}},
			nil, "couldn't find key nokey in ConfigMap shop/cfg"},
		{"missing envFrom configmap", corev1.Container{EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "gone"}}}}},
			nil, `envFrom configmap "gone"`},
		{"optional missing envFrom", corev1.Container{EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "gone"}, Optional: &yes}}}},
			nil, ""},
		{"unsupported field path", corev1.Container{Env: []corev1.EnvVar{{Name: "F", ValueFrom: field("spec.nope")}}}, nil, "unsupported fieldRef"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ResolveEnv(context.Background(), pe, &tt.c, lk)
			if wanterr.Check(t, err, tt.wantErr) {
				if !errors.Is(err, ErrConfig) {
					t.Fatalf("error = %v, want ErrConfig", err)
				}
				return
			}
			var flat []string
			for _, v := range got {
				flat = append(flat, v.Name+"="+v.Value)
			}
			if strings.Join(flat, " ") != strings.Join(tt.want, " ") {
				t.Errorf("env =\n  %v\nwant\n  %v", flat, tt.want)
			}
		})
	}
}
