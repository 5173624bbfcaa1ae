package kube

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"

	"github.com/switchyard/switchyard/lab/component"
)

func adminClient(t *testing.T, c *testCluster) *kubernetes.Clientset {
	t.Helper()
	cs, err := AdminClient(c.cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// eventually polls f until it returns nil or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, f func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last error
	for {
		if last = f(ctx); last == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: not true after %s: %v", what, timeout, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func testNamespace(t *testing.T, cs kubernetes.Interface, name string) string {
	t.Helper()
	ctx := context.Background()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	t.Cleanup(func() { _ = cs.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{}) })
	return name
}

func TestControlPlaneReadyAndVersioned(t *testing.T) {
	c := sharedCluster(t)
	for _, s := range c.specs {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := s.Ready(ctx); err != nil {
			t.Errorf("%s: Ready after start: %v", s.Name, err)
		}
		cancel()
	}
	cs := adminClient(t, c)
	v, err := cs.Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if v.GitVersion != PinnedVersion || v.Major != "1" || v.Minor != "37" {
		t.Errorf("server version = %s (major %q minor %q), want %s: version ldflags missing in scripts/build-kube.sh?", v.GitVersion, v.Major, v.Minor, PinnedVersion)
	}
}

func TestAdminKubeconfigWorksWithKubectl(t *testing.T) {
	c := sharedCluster(t)
	kubectl, err := Binary(PinnedVersion, "kubectl")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(kubectl, "--kubeconfig", AdminKubeconfig(c.cfg), "auth", "whoami", "-o", "json").CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl auth whoami: %v\n%s", err, out)
	}
	var review authenticationv1.SelfSubjectReview
	if err := json.Unmarshal(out, &review); err != nil {
		t.Fatalf("kubectl auth whoami output: %v\n%s", err, out)
	}
	if u := review.Status.UserInfo; u.Username != AdminUser || !slices.Contains(u.Groups, "system:masters") {
		t.Errorf("admin kubeconfig authenticates as %s %v, want %s in system:masters", u.Username, u.Groups, AdminUser)
	}
	out, err = exec.Command(kubectl, "--kubeconfig", AdminKubeconfig(c.cfg), "version", "-o", "json").CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"gitVersion": "`+PinnedVersion+`"`) {
		t.Errorf("kubectl version: %v\n%s", err, out)
	}
}

func TestAnonymousRequestsAreRejected(t *testing.T) {
	c := sharedCluster(t)
	// Trust the CA but present no client certificate.
	l := layout{cfg: c.cfg, pki: pkiDir(c.cfg)}
	hc, err := l.httpClient("")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Get(APIServerURL(c.cfg) + "/api/v1/namespaces")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("anonymous GET /api/v1/namespaces = %s, want 401", resp.Status)
	}
	// A client certificate from another CA is not accepted either.
	other := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // checks the server side
	resp, err = other.Get(APIServerURL(c.cfg) + "/api/v1/namespaces")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET without trusted client cert = %s, want 401", resp.Status)
	}
}

// TestEtcdNeedsALabClientCertificate: etcd holds every Secret, so it serves
// TLS only and answers only clients with a certificate from the lab's CA.
func TestEtcdNeedsALabClientCertificate(t *testing.T) {
	c := sharedCluster(t)
	l := layout{cfg: c.cfg, pki: pkiDir(c.cfg)}
	addr := hostPort(c.cfg.Kubernetes.EtcdClientPort)
	withCert, err := l.httpClient("apiserver-etcd-client")
	if err != nil {
		t.Fatal(err)
	}
	noCert, err := l.httpClient("")
	if err != nil {
		t.Fatal(err)
	}
	plain := &http.Client{Timeout: 5 * time.Second}
	for _, tc := range []struct {
		name   string
		client *http.Client
		url    string
		ok     bool
	}{
		{"lab client certificate", withCert, "https://" + addr + "/health", true},
		{"no client certificate", noCert, "https://" + addr + "/health", false},
		{"plain HTTP", plain, "http://" + addr + "/health", false},
		{"plain HTTP, keys", plain, "http://" + addr + "/v3/kv/range", false},
		{"peer port, no client certificate", noCert, "https://" + hostPort(c.cfg.Kubernetes.EtcdPeerPort) + "/members", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := tc.client.Get(tc.url)
			if err == nil {
				defer resp.Body.Close()
			}
			got := err == nil && resp.StatusCode == http.StatusOK
			if got != tc.ok {
				status := ""
				if err == nil {
					status = resp.Status
				}
				t.Errorf("GET %s: err %v, status %q; want success %v", tc.url, err, status, tc.ok)
			}
		})
	}
}

func TestServiceAccountsGetTokens(t *testing.T) {
	c := sharedCluster(t)
	cs := adminClient(t, c)
	ctx := context.Background()
	ns := testNamespace(t, cs, "sa-test")

	// The serviceaccount controller creates "default", the root-ca publisher the CA bundle.
	eventually(t, 30*time.Second, "default ServiceAccount created", func(ctx context.Context) error {
		_, err := cs.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err
	})
	eventually(t, 30*time.Second, "kube-root-ca.crt published", func(ctx context.Context) error {
		cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
		if err != nil {
			return err
		}
		ca, _ := os.ReadFile(CAFile(c.cfg))
		if cm.Data["ca.crt"] != string(ca) {
			return fmt.Errorf("kube-root-ca.crt holds a different CA")
		}
		return nil
	})

	sa, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "app"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa.Name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](600)},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenRequest: %v", err)
	}
	if tr.Status.Token == "" {
		t.Fatal("TokenRequest returned an empty token")
	}
	// The token authenticates as the service account.
	saClient := kubernetes.NewForConfigOrDie(&rest.Config{
		Host:            APIServerURL(c.cfg),
		BearerToken:     tr.Status.Token,
		TLSClientConfig: rest.TLSClientConfig{CAFile: CAFile(c.cfg)},
	})
	review, err := saClient.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("SelfSubjectReview with the service-account token: %v", err)
	}
	if want := "system:serviceaccount:" + ns + ":app"; review.Status.UserInfo.Username != want {
		t.Errorf("token authenticates as %q, want %q", review.Status.UserInfo.Username, want)
	}
	// RBAC is on: the service account may not list secrets.
	if _, err := saClient.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("service account listing secrets: err = %v, want Forbidden", err)
	}
	// The token controller fills a legacy token Secret.
	_, err = cs.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "app-token", Annotations: map[string]string{corev1.ServiceAccountNameKey: "app"}},
		Type:       corev1.SecretTypeServiceAccountToken,
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "token Secret populated", func(ctx context.Context) error {
		s, err := cs.CoreV1().Secrets(ns).Get(ctx, "app-token", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if len(s.Data[corev1.ServiceAccountTokenKey]) == 0 || len(s.Data[corev1.ServiceAccountRootCAKey]) == 0 {
			return fmt.Errorf("secret has keys %v", mapsKeys(s.Data))
		}
		return nil
	})
}

func mapsKeys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func deployment(name string, replicas int32, onKwok bool) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	spec := corev1.PodSpec{Containers: []corev1.Container{{
		Name: "web", Image: "switchyard/demo-app:1",
		Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
	}}}
	if onKwok {
		spec.NodeSelector = map[string]string{KwokNodeLabel: "kwok"}
		spec.Tolerations = []corev1.Toleration{{Key: KwokTaintKey, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec},
		},
	}
}

func podsOf(ctx context.Context, cs kubernetes.Interface, ns, app string) ([]corev1.Pod, error) {
	l, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

func podCondition(p corev1.Pod, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == t {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

// Without a node that admits them (kwok nodes are tainted), the
// controller-manager still creates the ReplicaSet and Pods, and the
// scheduler marks them Unschedulable.
func TestDeploymentWithoutUsableNodesStaysPending(t *testing.T) {
	c := sharedCluster(t)
	cs := adminClient(t, c)
	ctx := context.Background()
	ns := testNamespace(t, cs, "pending-test")
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, deployment("web", 2, false), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "ReplicaSet owned by the Deployment", func(ctx context.Context) error {
		rs, err := cs.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return err
		}
		if len(rs.Items) != 1 || len(rs.Items[0].OwnerReferences) != 1 || rs.Items[0].OwnerReferences[0].Kind != "Deployment" {
			return fmt.Errorf("%d ReplicaSets", len(rs.Items))
		}
		return nil
	})
	eventually(t, 30*time.Second, "2 Pods Pending and Unschedulable", func(ctx context.Context) error {
		pods, err := podsOf(ctx, cs, ns, "web")
		if err != nil {
			return err
		}
		if len(pods) != 2 {
			return fmt.Errorf("%d pods", len(pods))
		}
		for _, p := range pods {
			cond := podCondition(p, corev1.PodScheduled)
			if p.Status.Phase != corev1.PodPending || p.Spec.NodeName != "" || cond == nil || cond.Status != corev1.ConditionFalse || cond.Reason != corev1.PodReasonUnschedulable {
				return fmt.Errorf("pod %s: phase %s node %q scheduled-condition %+v", p.Name, p.Status.Phase, p.Spec.NodeName, cond)
			}
		}
		return nil
	})
}

// On kwok nodes, a Deployment's pods are scheduled and Running, and a
// Service gets EndpointSlices with their addresses from the controller-manager.
func TestDeploymentOnKwokNodesRunsWithEndpoints(t *testing.T) {
	c := sharedCluster(t)
	cs := adminClient(t, c)
	ctx := context.Background()
	ns := testNamespace(t, cs, "kwok-test")
	kwokNet := netip.MustParsePrefix(mustKwokCIDR(t, c.cfg.Kubernetes.PodCIDR))
	svcNet := netip.MustParsePrefix(c.cfg.Kubernetes.ServiceCIDR)

	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, deployment("web", 3, true), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc, err := cs.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ip, err := netip.ParseAddr(svc.Spec.ClusterIP); err != nil || !svcNet.Contains(ip) {
		t.Errorf("Service ClusterIP %q not in %s", svc.Spec.ClusterIP, svcNet)
	}

	var podIPs []string
	eventually(t, 60*time.Second, "3 pods Running and Ready on kwok nodes", func(ctx context.Context) error {
		pods, err := podsOf(ctx, cs, ns, "web")
		if err != nil {
			return err
		}
		podIPs = podIPs[:0]
		ready := 0
		for _, p := range pods {
			cond := podCondition(p, corev1.PodReady)
			if p.Status.Phase == corev1.PodRunning && cond != nil && cond.Status == corev1.ConditionTrue {
				if !strings.HasPrefix(p.Spec.NodeName, KwokNodePrefix) {
					return fmt.Errorf("pod %s on node %q", p.Name, p.Spec.NodeName)
				}
				ip, err := netip.ParseAddr(p.Status.PodIP)
				if err != nil || !kwokNet.Contains(ip) {
					return fmt.Errorf("pod %s IP %q not in kwok range %s", p.Name, p.Status.PodIP, kwokNet)
				}
				podIPs = append(podIPs, p.Status.PodIP)
				ready++
			}
		}
		if len(pods) != 3 || ready != 3 {
			return fmt.Errorf("%d pods, %d running and ready", len(pods), ready)
		}
		return nil
	})
	slices.Sort(podIPs)

	eventually(t, 30*time.Second, "EndpointSlice lists the 3 ready pods", func(ctx context.Context) error {
		l, err := cs.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=web"})
		if err != nil {
			return err
		}
		var got []string
		for _, s := range l.Items {
			for _, e := range s.Endpoints {
				if e.Conditions.Ready != nil && *e.Conditions.Ready {
					got = append(got, e.Addresses...)
				}
			}
			if len(s.Ports) != 1 || s.Ports[0].Port == nil || *s.Ports[0].Port != 8080 {
				return fmt.Errorf("slice %s ports %+v, want 8080", s.Name, s.Ports)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, podIPs) {
			return fmt.Errorf("ready endpoints %v, want %v", got, podIPs)
		}
		return nil
	})

	// Deleting a pod makes the ReplicaSet replace it.
	pods, err := podsOf(ctx, cs, ns, "web")
	if err != nil {
		t.Fatal(err)
	}
	victim := pods[0].Name
	if err := cs.CoreV1().Pods(ns).Delete(ctx, victim, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "deleted pod replaced", func(ctx context.Context) error {
		pods, err := podsOf(ctx, cs, ns, "web")
		if err != nil {
			return err
		}
		running := 0
		for _, p := range pods {
			if p.Name == victim {
				return fmt.Errorf("pod %s still present", victim)
			}
			if p.Status.Phase == corev1.PodRunning {
				running++
			}
		}
		if running != 3 {
			return fmt.Errorf("%d running", running)
		}
		return nil
	})
}

func mustKwokCIDR(t *testing.T, podCIDR string) string {
	t.Helper()
	s, err := kwokCIDR(podCIDR)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestKwokNodesAreCreatedReadyAndTainted(t *testing.T) {
	c := sharedCluster(t)
	cs := adminClient(t, c)
	ctx := context.Background()
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: KwokNodeLabel + "=kwok"})
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes.Items) != sharedKwokNodes {
		t.Fatalf("%d kwok nodes, want %d", len(nodes.Items), sharedKwokNodes)
	}
	for _, n := range nodes.Items {
		ready := false
		for _, cond := range n.Status.Conditions {
			ready = ready || (cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue)
		}
		if !ready {
			t.Errorf("node %s not Ready", n.Name)
		}
		if !slices.ContainsFunc(n.Spec.Taints, func(tt corev1.Taint) bool {
			return tt.Key == KwokTaintKey && tt.Effect == corev1.TaintEffectNoSchedule
		}) {
			t.Errorf("node %s lacks the %s taint: %v", n.Name, KwokTaintKey, n.Spec.Taints)
		}
	}
	eventually(t, 30*time.Second, "kwok keeps node Leases", func(ctx context.Context) error {
		_, err := cs.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, KwokNodeName(0), metav1.GetOptions{})
		return err
	})
}

// A node agent's kubeconfig authenticates as system:node:<name>; the Node
// authorizer and NodeRestriction let it manage only its own Node and Lease.
func TestNodeAgentIdentityIsRestrictedToItsNode(t *testing.T) {
	c := sharedCluster(t)
	admin := adminClient(t, c)
	ctx := context.Background()
	node := c.cfg.Nodes[0].Name
	other := c.cfg.Nodes[1].Name

	path, err := NodeKubeconfig(c.cfg, node)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatal(err)
	}
	cs := kubernetes.NewForConfigOrDie(rc)

	review, err := cs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if u := review.Status.UserInfo; u.Username != NodeUserPrefix+node || !slices.Contains(u.Groups, NodeGroup) {
		t.Errorf("node kubeconfig authenticates as %s %v", u.Username, u.Groups)
	}

	// Unschedulable, so that no other test's pod lands on this process-less node.
	mk := func(name string) *corev1.Node {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{Unschedulable: true}}
	}
	t.Cleanup(func() { _ = admin.CoreV1().Nodes().Delete(context.Background(), node, metav1.DeleteOptions{}) })
	// The node agent sets its own podCIDR (the controller-manager does not allocate).
	own := mk(node)
	own.Spec.PodCIDR, own.Spec.PodCIDRs = "10.244.0.0/24", []string{"10.244.0.0/24"}
	created, err := cs.CoreV1().Nodes().Create(ctx, own, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("node agent registering its own Node: %v", err)
	}
	if created.Spec.PodCIDR != "10.244.0.0/24" {
		t.Errorf("registered Node has podCIDR %q, want the one the agent set", created.Spec.PodCIDR)
	}
	// The controller-manager taints an unschedulable Node meanwhile: the
	// status update must start from the Node as it is now (NodeRestriction
	// refuses a status update that would undo a taint), as a real node
	// agent does.
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionFalse, Reason: "Test", LastHeartbeatTime: metav1.Now()}}
		_, err = cs.CoreV1().Nodes().UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		if apierrors.IsForbidden(err) && strings.Contains(err.Error(), "taints") {
			// A taint landed between the Get and the update: read again.
			return apierrors.NewConflict(corev1.Resource("nodes"), node, err)
		}
		return err
	})
	if err != nil {
		t.Errorf("node agent updating its Node status: %v", err)
	}
	if _, err := cs.CoreV1().Nodes().Create(ctx, mk(other), metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		_ = admin.CoreV1().Nodes().Delete(ctx, other, metav1.DeleteOptions{})
		t.Errorf("node agent of %s creating Node %s: err = %v, want Forbidden", node, other, err)
	}
	lease := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: node, Namespace: corev1.NamespaceNodeLease},
		Spec:       coordinationv1.LeaseSpec{HolderIdentity: ptr.To(node), LeaseDurationSeconds: ptr.To[int32](40)},
	}
	if _, err := cs.CoordinationV1().Leases(corev1.NamespaceNodeLease).Create(ctx, lease, metav1.CreateOptions{}); err != nil {
		t.Errorf("node agent creating its Lease: %v", err)
	}
	t.Cleanup(func() {
		_ = admin.CoordinationV1().Leases(corev1.NamespaceNodeLease).Delete(context.Background(), node, metav1.DeleteOptions{})
	})
	// Informer access for a virtual-kubelet node agent.
	for what, f := range map[string]func() error{
		"list pods on its node": func() error {
			_, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + node})
			return err
		},
		"list secrets":    func() error { _, err := cs.CoreV1().Secrets("").List(ctx, metav1.ListOptions{}); return err },
		"list configmaps": func() error { _, err := cs.CoreV1().ConfigMaps("").List(ctx, metav1.ListOptions{}); return err },
		"list services":   func() error { _, err := cs.CoreV1().Services("").List(ctx, metav1.ListOptions{}); return err },
	} {
		if err := f(); err != nil {
			t.Errorf("node agent may %s: %v", what, err)
		}
	}
	if err := cs.CoreV1().Namespaces().Delete(ctx, "default", metav1.DeleteOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("node agent deleting a namespace: err = %v, want Forbidden", err)
	}
}

// kwok nodes beyond kubernetes.kwokNodes (left from an earlier `lab up` with
// more) are removed when the apiserver is found ready.
func TestExtraKwokNodesArePruned(t *testing.T) {
	c := sharedCluster(t)
	cs := adminClient(t, c)
	ctx := context.Background()
	extra := KwokNodeName(sharedKwokNodes + 7)
	if _, err := cs.CoreV1().Nodes().Create(ctx, kwokNode(extra), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var apiserver component.Spec
	for _, s := range c.specs {
		if s.Name == APIServerName {
			apiserver = s
		}
	}
	eventually(t, 30*time.Second, "extra kwok node deleted", func(ctx context.Context) error {
		if err := apiserver.Ready(ctx); err != nil {
			return err
		}
		if _, err := cs.CoreV1().Nodes().Get(ctx, extra, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("node %s: err = %v, want NotFound", extra, err)
		}
		return nil
	})
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: KwokNodeLabel + "=kwok"})
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes.Items) != sharedKwokNodes {
		t.Errorf("%d kwok nodes left, want %d", len(nodes.Items), sharedKwokNodes)
	}
}
