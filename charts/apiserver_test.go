package charts_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/switchyard/switchyard/convert"
	"github.com/switchyard/switchyard/internal/kubeclient"
	"github.com/switchyard/switchyard/internal/testenv"
	"github.com/switchyard/switchyard/lab"
	"github.com/switchyard/switchyard/lab/component"
	"github.com/switchyard/switchyard/lab/kube"
	"github.com/switchyard/switchyard/lab/labconfig"
	"github.com/switchyard/switchyard/marathon"
)

// controlPlane is the etcd and kube-apiserver (lab/kube's, with RBAC
// authorization as in the lab and kubeadm clusters) the API server tests
// share: the first test that needs it starts it with the lab supervisor
// (lab.Up), TestMain stops it (lab.Down, which also checks that no process
// or port of it is left).
var controlPlane struct {
	once    sync.Once
	dir     string
	cfg     labconfig.Config
	specs   []component.Spec
	rc      *rest.Config
	missing error
	err     error
	log     bytes.Buffer
}

func TestMain(m *testing.M) {
	code := m.Run()
	if cp := &controlPlane; cp.specs != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := lab.Down(ctx, cp.cfg, cp.specs, &cp.log); err != nil {
			fmt.Fprintf(os.Stderr, "control plane: %v\n%s", err, cp.log.String())
			code = 1
		}
		cancel()
	}
	if controlPlane.dir != "" {
		os.RemoveAll(controlPlane.dir)
	}
	os.Exit(code)
}

// apiServer returns an admin (system:masters) config of the shared API
// server, starting it on first use.
func apiServer(t *testing.T) *rest.Config {
	t.Helper()
	testenv.SkipIfShort(t, "etcd and kube-apiserver")
	controlPlane.once.Do(startControlPlane)
	testenv.Prerequisite(t, controlPlane.missing)
	if controlPlane.err != nil {
		t.Fatalf("control plane: %v\n%s", controlPlane.err, controlPlane.log.String())
	}
	return rest.CopyConfig(controlPlane.rc)
}

func startControlPlane() {
	cp := &controlPlane
	for _, b := range []string{"etcd", "kube-apiserver"} {
		if _, err := kube.Binary(kube.PinnedVersion, b); err != nil {
			cp.missing = fmt.Errorf("%w (run scripts/build-kube.sh)", err)
			return
		}
	}
	if cp.dir, cp.err = os.MkdirTemp("", "charts-apiserver-"); cp.err != nil {
		return
	}
	ports, err := testenv.FreePorts(5)
	if err != nil {
		cp.err = err
		return
	}
	cfg := labconfig.Default()
	cfg.ID = "charts-test-" + strconv.Itoa(os.Getpid())
	cfg.Dir = cp.dir
	k := &cfg.Kubernetes
	k.EtcdClientPort, k.EtcdPeerPort, k.APIServerPort, k.ControllerManagerPort, k.SchedulerPort = ports[0], ports[1], ports[2], ports[3], ports[4]
	if cp.err = cfg.Validate(); cp.err != nil {
		return
	}
	all, err := kube.Components(cfg, "")
	if err != nil {
		cp.err = err
		return
	}
	var specs []component.Spec
	for _, s := range all {
		if s.Name == kube.EtcdName || s.Name == kube.APIServerName { // objects and authorization only: no controllers
			specs = append(specs, s)
		}
	}
	cp.cfg, cp.specs = cfg, specs
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if cp.err = lab.Up(ctx, cfg, specs, &cp.log); cp.err != nil {
		return
	}
	cp.rc, cp.err = kube.RESTConfig(cfg)
}

// TestInstallOnAPIServer installs each variant of the chart on a real API
// server (server-side apply, for real), then acts as its ServiceAccount,
// with a token the API server issued for it: serve may do what it needs
// (SelfSubjectAccessReviews, table-driven, and real requests), and nothing
// it must not; the converted Marathon app of examples/serve applies in a
// target namespace with those permissions.
func TestInstallOnAPIServer(t *testing.T) {
	rc := apiServer(t)
	admin, err := kubeclient.New(rc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, ns := range []string{"sy-defaults", "sy-hardened", "apps-a", "apps-b", "elsewhere"} {
		if _, err := admin.Clientset.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatalf("namespace %s: %v", ns, err)
		}
	}
	tests := []struct {
		variant     string
		ns, target  string // the release's namespace, a namespace apps migrate to
		tokenReview bool
	}{
		{"defaults", "sy-defaults", "sy-defaults", false},
		{"hardened", "sy-hardened", "apps-a", true},
	}
	for _, tc := range tests {
		t.Run(tc.variant, func(t *testing.T) {
			objs, err := renderIn(t, tc.ns, parseValues(t, valuesOf(tc.variant)))
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range objs {
				if err := admin.Apply(ctx, o, "charts-test"); err != nil {
					t.Fatal(err)
				}
			}
			d, err := admin.Clientset.AppsV1().Deployments(tc.ns).Get(ctx, fullname, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if d.Spec.Replicas == nil || *d.Spec.Replicas != 3 || !*d.Spec.Template.Spec.Containers[0].SecurityContext.ReadOnlyRootFilesystem {
				t.Errorf("stored Deployment: replicas %v, securityContext %+v", d.Spec.Replicas, d.Spec.Template.Spec.Containers[0].SecurityContext)
			}
			if _, err := admin.Clientset.PolicyV1().PodDisruptionBudgets(tc.ns).Get(ctx, fullname, metav1.GetOptions{}); err != nil {
				t.Errorf("PodDisruptionBudget: %v", err)
			}

			saRC, token := serviceAccountConfig(t, rc, admin.Clientset, tc.ns, fullname)
			sa, err := kubeclient.New(saRC)
			if err != nil {
				t.Fatal(err)
			}
			user := "system:serviceaccount:" + tc.ns + ":" + fullname
			who, err := sa.Clientset.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
			if err != nil || who.Status.UserInfo.Username != user {
				t.Fatalf("the token authenticates as %+v (%v), want %s", who, err, user)
			}
			t.Run("access reviews", func(t *testing.T) { checkAccess(t, sa.Clientset, tc.ns, tc.target, tc.tokenReview) })
			t.Run("requests", func(t *testing.T) { checkRequests(t, sa.Clientset, tc.target, user, token, tc.tokenReview) })
			t.Run("converted Marathon app", func(t *testing.T) {
				def, err := marathon.DecodeFile(marathonDef)
				if err != nil {
					t.Fatal(err)
				}
				res, err := convert.Definition(def, convert.Options{Namespace: tc.target})
				if err != nil {
					t.Fatal(err)
				}
				manifest, err := convert.YAML(res.Objects())
				if err != nil {
					t.Fatal(err)
				}
				conv, err := kubeclient.DecodeObjects(manifest)
				if err != nil {
					t.Fatal(err)
				}
				for _, o := range conv {
					if err := sa.DryRunApply(ctx, o, "switchyard", tc.target); err != nil {
						t.Errorf("as serve's ServiceAccount: %v", err)
					}
				}
			})
		})
	}
}

// serviceAccountConfig returns a config that authenticates with a token the
// API server issues for ServiceAccount ns/name (TokenRequest), as the
// kubelet mounts it in serve's pods, and that token.
func serviceAccountConfig(t *testing.T, admin *rest.Config, cs kubernetes.Interface, ns, name string) (*rest.Config, string) {
	t.Helper()
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(context.Background(), name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](600)}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token for %s/%s: %v", ns, name, err)
	}
	rc := rest.AnonymousClientConfig(admin) // the CA, no client certificate
	rc.BearerToken = tr.Status.Token
	return rc, tr.Status.Token
}

// checkAccess asks the API server, as serve, what it may do: release is
// the chart's namespace, target one it migrates apps to.
func checkAccess(t *testing.T, cs kubernetes.Interface, release, target string, tokenReview bool) {
	tests := []struct {
		verb, group, resource, sub, ns string
		want                           bool
	}{
		// A migration in a target namespace: the converted chart's objects, Helm's release Secrets.
		{"create", "apps", "deployments", "", target, true},
		{"delete", "apps", "deployments", "", target, true},
		{"patch", "apps", "statefulsets", "", target, true},
		{"create", "", "secrets", "", target, true},
		{"list", "", "secrets", "", target, true},
		{"update", "", "services", "", target, true},
		{"create", "policy", "poddisruptionbudgets", "", target, true},
		{"get", "", "pods", "log", target, true},
		{"list", "", "events", "", target, true},
		{"watch", "discovery.k8s.io", "endpointslices", "", target, true},
		// Cluster-wide reads: the congestion monitor and the load-balancer sync.
		{"list", "", "nodes", "", "", true},
		{"list", "", "pods", "", "", true},
		{"watch", "", "services", "", "", true},
		{"watch", "discovery.k8s.io", "endpointslices", "", "", true},
		{"create", "authentication.k8s.io", "tokenreviews", "", "", tokenReview},
		// Never.
		{"delete", "", "nodes", "", "", false},
		{"patch", "", "nodes", "", "", false},
		{"list", "", "secrets", "", "", false},
		{"get", "", "secrets", "", "elsewhere", false},
		{"create", "apps", "deployments", "", "elsewhere", false},
		{"create", "", "pods", "", target, false},
		{"create", "", "pods", "exec", target, false},
		{"create", "", "serviceaccounts", "", target, false},
		{"create", "", "namespaces", "", "", false},
		{"create", "rbac.authorization.k8s.io", "clusterroles", "", "", false},
		{"create", "rbac.authorization.k8s.io", "rolebindings", "", target, false},
		{"create", "coordination.k8s.io", "leases", "", release, false},
		{"create", "authorization.k8s.io", "subjectaccessreviews", "", "", false},
		{"create", "apps", "deployments", "", "apps-b", target == "apps-a"},
		{"create", "apps", "deployments", "", release, release == target},
	}
	for _, tc := range tests {
		name := fmt.Sprintf("%s %s.%s/%s in %q", tc.verb, tc.resource, tc.group, tc.sub, tc.ns)
		r, err := cs.AuthorizationV1().SelfSubjectAccessReviews().Create(context.Background(), &authorizationv1.SelfSubjectAccessReview{
			Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: tc.ns, Verb: tc.verb, Group: tc.group, Resource: tc.resource, Subresource: tc.sub}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if r.Status.Allowed != tc.want {
			t.Errorf("%s: allowed = %v, want %v (%s)", name, r.Status.Allowed, tc.want, r.Status.Reason)
		}
	}
}

// checkRequests makes real requests as serve: the answers agree with the
// reviews (a review could be asked wrongly; a request cannot).
func checkRequests(t *testing.T, cs kubernetes.Interface, target, user, token string, tokenReview bool) {
	ctx := context.Background()
	dry := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}
	labels := map[string]string{"app": "probe"}
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "probe"}, Spec: appsv1.DeploymentSpec{
		Selector: &metav1.LabelSelector{MatchLabels: labels},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "switchyard/demo-app:1"}}}}}}
	allowed := []struct {
		name string
		do   func() error
	}{
		{"create a Deployment in " + target, func() error {
			_, err := cs.AppsV1().Deployments(target).Create(ctx, dep, dry)
			return err
		}},
		{"list nodes", func() error { _, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); return err }},
		{"list Services of every namespace", func() error {
			_, err := cs.CoreV1().Services(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
			return err
		}},
		{"list Secrets in " + target, func() error { _, err := cs.CoreV1().Secrets(target).List(ctx, metav1.ListOptions{}); return err }},
	}
	for _, a := range allowed {
		if err := a.do(); err != nil {
			t.Errorf("%s: %v", a.name, err)
		}
	}
	forbidden := []struct {
		name string
		do   func() error
	}{
		{"delete a node", func() error { return cs.CoreV1().Nodes().Delete(ctx, "no-such-node", metav1.DeleteOptions{}) }},
		{"list Secrets elsewhere", func() error { _, err := cs.CoreV1().Secrets("elsewhere").List(ctx, metav1.ListOptions{}); return err }},
		{"create a Deployment elsewhere", func() error {
			_, err := cs.AppsV1().Deployments("elsewhere").Create(ctx, dep, dry)
			return err
		}},
		{"create a ClusterRole", func() error {
			_, err := cs.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "escalate"},
				Rules: []rbacv1.PolicyRule{{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"*"}}}}, dry)
			return err
		}},
	}
	for _, f := range forbidden {
		if err := f.do(); !apierrors.IsForbidden(err) {
			t.Errorf("%s: %v, want Forbidden", f.name, err)
		}
	}
	// --token-review: serve learns who holds a token (here its own) and their groups.
	tr, err := cs.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: token}}, metav1.CreateOptions{})
	switch {
	case !tokenReview && !apierrors.IsForbidden(err):
		t.Errorf("TokenReview without tokenReview.enabled: %v, want Forbidden", err)
	case tokenReview && err != nil:
		t.Errorf("TokenReview: %v", err)
	case tokenReview && (!tr.Status.Authenticated || tr.Status.User.Username != user):
		t.Errorf("TokenReview status = %+v, want %s authenticated", tr.Status, user)
	}
}
