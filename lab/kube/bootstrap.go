package kube

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/switchyard/switchyard/lab/component"
)

// kwokStages are the stage configs scripts/build-kube.sh copies from the
// kwok module into <bin dir>/stages.
var kwokStages = []string{"node-initialize", "node-heartbeat-with-lease", "pod-ready", "pod-complete", "pod-delete"}

// apiserverReady is the apiserver's probe: /readyz with the admin
// credentials, then the lab's bootstrap RBAC objects (created when missing),
// so that node agents, which start after the apiserver is ready, find them.
func (l layout) apiserverReady(ctx context.Context) error {
	if err := l.probeHTTPS(ctx, APIServerURL(l.cfg)+"/readyz", "admin"); err != nil {
		return err
	}
	cs, err := l.clientset()
	if err != nil {
		return err
	}
	if err := ensureNodeAgentRBAC(ctx, cs); err != nil {
		return fmt.Errorf("bootstrap RBAC for node agents: %w", err)
	}
	if err := pruneKwokNodes(ctx, cs, l.cfg.Kubernetes.KwokNodes); err != nil {
		return fmt.Errorf("remove kwok nodes beyond kubernetes.kwokNodes=%d: %w", l.cfg.Kubernetes.KwokNodes, err)
	}
	return nil
}

// pruneKwokNodes deletes the kwok nodes that the config no longer asks for
// (kubernetes.kwokNodes lowered or set to 0 since the last `lab up`); the
// pod garbage collector then removes their pods.
func pruneKwokNodes(ctx context.Context, cs kubernetes.Interface, n int) error {
	list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: KwokNodeLabel + "=kwok", ResourceVersion: "0"})
	if err != nil {
		return fmt.Errorf("list kwok nodes: %w", err)
	}
	want := make(map[string]bool, n)
	for i := range n {
		want[KwokNodeName(i)] = true
	}
	var errs []error
	for _, nd := range list.Items {
		if want[nd.Name] || nd.Annotations[KwokAnnotation] != "fake" {
			continue
		}
		if err := cs.CoreV1().Nodes().Delete(ctx, nd.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete node %s: %w", nd.Name, err))
		}
	}
	return errors.Join(errs...)
}

func (l layout) clientset() (*kubernetes.Clientset, error) {
	rc, err := RESTConfig(l.cfg)
	if err != nil {
		return nil, err
	}
	rc.Timeout = 30 * time.Second
	// Creating thousands of kwok nodes: the admin user is exempt from the
	// apiserver's flow control, so the client's own limit is what counts.
	rc.QPS, rc.Burst = 1000, 2000
	rc.ContentType = "application/vnd.kubernetes.protobuf"
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return cs, nil
}

// nodeAgentRBAC returns the ClusterRole and bindings that let node agents
// (group system:nodes) work: the built-in system:node role (not bound by
// default since Kubernetes 1.8) and read-only list/watch of the kinds a
// virtual-kubelet node agent watches through informers.
func nodeAgentRBAC() (*rbacv1.ClusterRole, []*rbacv1.ClusterRoleBinding) {
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: NodeAgentClusterRole, Labels: map[string]string{"app.kubernetes.io/managed-by": "switchyard-lab"}},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"pods", "secrets", "configmaps", "services", "endpoints", "nodes", "namespaces"}, Verbs: []string{"get", "list", "watch"}},
			{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"get", "list", "watch"}},
		},
	}
	group := []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: NodeGroup}}
	bind := func(name, roleName string) *rbacv1.ClusterRoleBinding {
		return &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: role.Labels},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: roleName},
			Subjects:   group,
		}
	}
	return role, []*rbacv1.ClusterRoleBinding{
		bind("switchyard:node-agents:system-node", "system:node"),
		bind("switchyard:node-agents:read", NodeAgentClusterRole),
	}
}

func ensureNodeAgentRBAC(ctx context.Context, cs kubernetes.Interface) error {
	role, bindings := nodeAgentRBAC()
	if _, err := cs.RbacV1().ClusterRoles().Get(ctx, role.Name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		if _, err := cs.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create ClusterRole %s: %w", role.Name, err)
		}
	} else if err != nil {
		return fmt.Errorf("get ClusterRole %s: %w", role.Name, err)
	}
	for _, b := range bindings {
		if _, err := cs.RbacV1().ClusterRoleBindings().Get(ctx, b.Name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, b, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("create ClusterRoleBinding %s: %w", b.Name, err)
			}
		} else if err != nil {
			return fmt.Errorf("get ClusterRoleBinding %s: %w", b.Name, err)
		}
	}
	return nil
}

func (l layout) kwokSpec() component.Spec {
	n := l.cfg.Kubernetes.KwokNodes
	throttle := &minInterval{}
	argv := []string{
		l.bin["kwok"],
		"--kubeconfig=" + l.kubeconfig("kwok"),
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector=" + KwokAnnotation + "=fake",
		"--cidr=" + l.kwokNet,
		"--node-ip=127.0.0.1",
		"--node-lease-duration-seconds=" + strconv.Itoa(kwokLeaseSeconds(n)),
		"--v=WARN",
		"--config=" + l.kwokConfigPath(),
	}
	for _, s := range kwokStages {
		argv = append(argv, "--config="+filepath.Join(filepath.Dir(l.bin["kwok"]), "stages", s+".yaml"))
	}
	return component.Spec{
		Name: KwokName,
		Argv: argv,
		// kwok reads ~/.kwok unless told otherwise: keep it in the lab dir.
		Env:     append(l.env(), "KWOK_WORKDIR="+filepath.Join(l.dir, "kwok")),
		After:   []string{APIServerName},
		Address: strconv.Itoa(n) + " simulated nodes " + KwokNodePrefix + "0.." + KwokNodePrefix + strconv.Itoa(n-1),
		Prepare: func(context.Context) error {
			if err := l.prepareFiles(); err != nil {
				return err
			}
			return writeFileAtomic(l.kwokConfigPath(), kwokConfig(n), 0o644)
		},
		Ready: func(ctx context.Context) error {
			// Listing thousands of nodes is not free: at most one check a second.
			if err := throttle.wait(ctx, time.Second); err != nil {
				return err
			}
			cs, err := l.clientset()
			if err != nil {
				return err
			}
			return ensureKwokNodes(ctx, cs, n)
		},
		ReadyTimeout: 60*time.Second + time.Duration(n)*50*time.Millisecond,
	}
}

func (l layout) kwokConfigPath() string { return filepath.Join(l.dir, "kwok", "kwok.yaml") }

// kwokLeaseSeconds is the node Lease duration of kwok nodes. kwok renews a
// Lease every quarter of it, like a kubelet; with thousands of nodes the
// kubelet's 40 s would mean hundreds of writes a second on a laptop-sized
// machine, so larger sets renew every 20 s: one failed renewal is still
// inside the controller-manager's 50 s node-monitor grace period.
func kwokLeaseSeconds(n int) int {
	if n <= 500 {
		return 40
	}
	return 80
}

// kwokConfig is kwok's KwokConfiguration: more workers than its defaults (4)
// so that thousands of nodes initialise and keep their Leases.
func kwokConfig(n int) []byte {
	par := min(max(n/100, 4), 32)
	p := strconv.Itoa(par)
	return []byte("apiVersion: config.kwok.x-k8s.io/v1alpha1\n" +
		"kind: KwokConfiguration\n" +
		"options:\n" +
		"  nodePlayStageParallelism: " + p + "\n" +
		"  nodeLeaseParallelism: " + p + "\n" +
		"  podPlayStageParallelism: " + p + "\n")
}

// kwokNode is the Node object of a simulated node: kwok manages it because
// of the annotation, and its taint keeps ordinary workloads off it.
func kwokNode(name string) *corev1.Node {
	res := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("32"),
		corev1.ResourceMemory: resource.MustParse("256Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: name,
			Labels: map[string]string{
				KwokNodeLabel:                  "kwok",
				"kubernetes.io/hostname":       name,
				"kubernetes.io/os":             "linux",
				"kubernetes.io/arch":           "amd64",
				"node-role.kubernetes.io/kwok": "",
			},
			Annotations: map[string]string{KwokAnnotation: "fake", "node.alpha.kubernetes.io/ttl": "0"},
		},
		Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: KwokTaintKey, Value: "fake", Effect: corev1.TaintEffectNoSchedule}}},
		Status: corev1.NodeStatus{
			Capacity:    res,
			Allocatable: res,
		},
	}
}

// ensureKwokNodes creates the missing kwok nodes kwok-0..kwok-(n-1) and
// reports an error until all of them are Ready (kwok sets that).
func ensureKwokNodes(ctx context.Context, cs kubernetes.Interface, n int) error {
	list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: KwokNodeLabel + "=kwok", ResourceVersion: "0"})
	if err != nil {
		return fmt.Errorf("list kwok nodes: %w", err)
	}
	have, ready := map[string]bool{}, 0
	var notReady []string
	for _, nd := range list.Items {
		have[nd.Name] = true
		ok := false
		for _, c := range nd.Status.Conditions {
			ok = ok || (c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue)
		}
		if ok {
			ready++
		} else if len(notReady) < 3 {
			notReady = append(notReady, nd.Name)
		}
	}
	var missing []string
	for i := range n {
		if name := KwokNodeName(i); !have[name] {
			missing = append(missing, name)
		}
	}
	if err := createNodes(ctx, cs, missing); err != nil {
		return err
	}
	if ready < n {
		return fmt.Errorf("%d of %d kwok nodes Ready (not yet: %v)", ready, n, notReady)
	}
	return nil
}

// createNodes creates kwok nodes with a few requests in flight.
func createNodes(ctx context.Context, cs kubernetes.Interface, names []string) error {
	const workers = 32
	ch := make(chan string)
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for range min(workers, len(names)) {
		wg.Go(func() {
			for name := range ch {
				_, err := cs.CoreV1().Nodes().Create(ctx, kwokNode(name), metav1.CreateOptions{})
				if err != nil && !apierrors.IsAlreadyExists(err) {
					mu.Lock()
					errs = append(errs, fmt.Errorf("create kwok node %s: %w", name, err))
					mu.Unlock()
				}
			}
		})
	}
	for _, name := range names {
		ch <- name
	}
	close(ch)
	wg.Wait()
	if len(errs) > 3 {
		errs = append(errs[:3], fmt.Errorf("and %d more", len(errs)-3))
	}
	return errors.Join(errs...)
}

// minInterval spaces calls at least d apart.
type minInterval struct {
	mu   sync.Mutex
	last time.Time
}

// wait blocks until d has passed since the previous call returned.
func (m *minInterval) wait(ctx context.Context, d time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if wait := d - time.Since(m.last); !m.last.IsZero() && wait > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
	m.last = time.Now()
	return nil
}
