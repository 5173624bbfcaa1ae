// Package e2ekube tests `switchyard lb sync` on a lab with Kubernetes: routes
// from the converter's Service annotations, pools from ready EndpointSlice
// endpoints, and one route with both platforms' backends.
package e2ekube

import (
	"context"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/switchyard/switchyard/internal/kubeclient"
	"github.com/switchyard/switchyard/lab/labtest"
	labnginx "github.com/switchyard/switchyard/lab/nginx"
	"github.com/switchyard/switchyard/lbsync"
	"github.com/switchyard/switchyard/traffic"
)

var theLab *labtest.Lab

func TestMain(m *testing.M) {
	os.Exit(labtest.Main(m, labtest.Options{Nginx: true, Kubernetes: true, Demo: true}, &theLab))
}

func TestKubernetesRoutes(t *testing.T) {
	l := labtest.Need(t, theLab)
	ctx := context.Background()
	n, err := labnginx.New(l.Config)
	if err != nil {
		t.Fatal(err)
	}
	lb := n.TrafficClient()
	kc, err := (&kubeclient.Factory{Kubeconfig: l.Kubeconfig}).Clients()
	if err != nil {
		t.Fatal(err)
	}
	cs := kc.Clientset
	wait := func(name string, ok func(traffic.Route, bool) bool) traffic.Route {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			s, err := lb.Get(ctx)
			if err != nil {
				t.Fatal(err)
			}
			r, found := s.Route(name)
			if ok(r, found) {
				return r
			}
			if time.Now().After(deadline) {
				log, _ := l.Run("lab", "logs", "lb-sync")
				t.Fatalf("route %s: %+v (found %v)\nlb-sync log:\n%s", name, r, found, log)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	count := func(r traffic.Route, platform string) int {
		c := 0
		for _, b := range r.Backends {
			if b.Platform == platform {
				c++
			}
		}
		return c
	}

	// The demo's Service: its annotations route /demo/shop to its pods.
	shop := wait("/demo/shop", func(r traffic.Route, ok bool) bool { return ok && count(r, traffic.Kubernetes) == 2 })
	if shop.Owner != lbsync.Owner || shop.PathPrefix != "/demo/shop" {
		t.Fatalf("route %+v", shop)
	}
	if code := get(t, l.LBURL+"/demo/shop/"); code != http.StatusOK {
		t.Fatalf("/demo/shop/ through nginx: %d", code)
	}

	// A pod goes: the pool follows (the Deployment replaces it).
	victim := shop.Backends[0]
	if err := cs.CoreV1().Pods("demo").Delete(ctx, victim.ID, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	wait("/demo/shop", func(r traffic.Route, _ bool) bool {
		for _, b := range r.Backends {
			if b.ID == victim.ID {
				return false
			}
		}
		return count(r, traffic.Kubernetes) == 2
	})

	// A converted web Service (marathon-id /demo/web) joins the Marathon
	// app's route: one pool, both platforms.
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "demo-web", Annotations: map[string]string{
		"switchyard.io/marathon-id": "/demo/web", "switchyard.io/haproxy-group": "external", "switchyard.io/haproxy-path": "/demo/web"}},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "shop"}, Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}}}}
	if _, err := cs.CoreV1().Services("demo").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer deleteService(cs, "demo", "demo-web")
	both := wait("/demo/web", func(r traffic.Route, _ bool) bool {
		return count(r, traffic.Kubernetes) == 2 && count(r, traffic.Marathon) == 2
	})
	t.Logf("/demo/web: %+v", both.Backends)
	if err := deleteService(cs, "demo", "demo-web"); err != nil {
		t.Fatal(err)
	}
	wait("/demo/web", func(r traffic.Route, _ bool) bool {
		return count(r, traffic.Kubernetes) == 0 && count(r, traffic.Marathon) == 2
	})
}

func deleteService(cs kubernetes.Interface, ns, name string) error {
	return cs.CoreV1().Services(ns).Delete(context.Background(), name, metav1.DeleteOptions{})
}

func get(t *testing.T, u string) int {
	t.Helper()
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}
