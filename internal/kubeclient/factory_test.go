package kubeclient

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const twoClusters = `apiVersion: v1
kind: Config
clusters:
- name: a
  cluster: {server: "https://10.0.0.1:6443"}
- name: b
  cluster: {server: "https://10.0.0.2:6443"}
users:
- name: u
  user: {token: t}
contexts:
- name: ctx-a
  context: {cluster: a, user: u, namespace: apps}
- name: ctx-b
  context: {cluster: b, user: u}
current-context: ctx-a
`

// TestFactory: the kubeconfig's context, the namespace (flag, else the
// context's, else default), the rate limits and the timeout all come from
// the one factory, and the Helm getter sees the same cluster with its own
// namespace.
func TestFactory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte(twoClusters), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name               string
		f                  *Factory
		host, ns, getterNS string
		qps                float32
		timeout            time.Duration
	}{
		{"current context", &Factory{Kubeconfig: path}, "https://10.0.0.1:6443", "apps", "rel", 0, 0},
		{"named context, default namespace", &Factory{Kubeconfig: path, Context: "ctx-b"}, "https://10.0.0.2:6443", "default", "rel", 0, 0},
		{"namespace given", &Factory{Kubeconfig: path, Namespace: "mine", QPS: 50, Burst: 100, Timeout: 30 * time.Second}, "https://10.0.0.1:6443", "mine", "rel", 50, 30 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc, err := tc.f.RESTConfig()
			if err != nil {
				t.Fatal(err)
			}
			ns, _ := tc.f.DefaultNamespace()
			if rc.Host != tc.host || tc.f.Host() != tc.host || ns != tc.ns || rc.QPS != tc.qps || rc.Timeout != tc.timeout {
				t.Fatalf("host %s ns %s qps %v timeout %v", rc.Host, ns, rc.QPS, rc.Timeout)
			}
			if _, err := tc.f.Clients(); err != nil {
				t.Fatal(err)
			}
			g := tc.f.Getter(tc.getterNS)
			grc, err := g.ToRESTConfig()
			if err != nil || grc.Host != tc.host || grc.QPS != tc.qps {
				t.Fatalf("getter: %v %v", grc, err)
			}
			if gns, _, err := g.ToRawKubeConfigLoader().Namespace(); err != nil || gns != tc.getterNS {
				t.Fatalf("getter namespace %q %v", gns, err)
			}
		})
	}
}

func TestFactoryErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte(twoClusters), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "nope")
	for _, tc := range []struct {
		name string
		f    *Factory
		want string
	}{
		{"missing file", &Factory{Kubeconfig: missing}, "kubeconfig " + missing},
		{"unknown context", &Factory{Kubeconfig: path, Context: "ctx-c"}, "kubeconfig " + path + " context ctx-c"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.f.Clients()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
			if tc.f.Host() != "(unknown API server)" {
				t.Fatal(tc.f.Host())
			}
		})
	}
}
