package nodeagent_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/switchyard/switchyard/internal/testenv"
	"github.com/switchyard/switchyard/lab"
	"github.com/switchyard/switchyard/lab/component"
	"github.com/switchyard/switchyard/lab/kube"
	"github.com/switchyard/switchyard/lab/labconfig"
	"github.com/switchyard/switchyard/lab/labtest"
	"github.com/switchyard/switchyard/lab/nodeagent"
	"github.com/switchyard/switchyard/lab/proc"
)

// env is the shared integration environment of this package: a real
// control plane (lab/kube components under the lab supervisor) and one
// in-process node agent per lab node with a share.
type env struct {
	cfg     labconfig.Config
	cfgPath string
	bin     string
	specs   []component.Spec
	cs      *kubernetes.Clientset

	mu     sync.Mutex
	agents map[string]*agentRun
}

type agentRun struct {
	cancel context.CancelFunc
	done   chan error
}

var (
	theEnv  *env
	skipMsg string
)

func TestMain(m *testing.M) {
	code := func() int {
		if testenv.Short() {
			skipMsg = "-short: no control plane started"
			return m.Run()
		}
		e, err := startEnv()
		if err != nil {
			if e != nil {
				_ = e.stop()
			}
			if errors.Is(err, labtest.ErrPrerequisite) && testenv.MayRunWithout(err) {
				skipMsg = err.Error()
				return m.Run()
			}
			fmt.Fprintln(os.Stderr, "node agent integration environment:", err)
			return 1
		}
		theEnv = e
		code := m.Run()
		if err := e.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "node agent integration environment left something behind:", err)
			if code == 0 {
				code = 1
			}
		}
		return code
	}()
	os.Exit(code)
}

func need(t testing.TB) *env {
	t.Helper()
	if theEnv == nil {
		t.Skip("skipping node agent integration test: " + skipMsg)
	}
	return theEnv
}

func startEnv() (*env, error) {
	for _, b := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"} {
		if _, err := kube.Binary(kube.PinnedVersion, b); err != nil {
			return nil, fmt.Errorf("%w: %w", labtest.ErrPrerequisite, err)
		}
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return nil, fmt.Errorf("%w: ip (Debian package iproute2; run `make deps`)", labtest.ErrPrerequisite)
	}
	dir, err := os.MkdirTemp("", "nodeagent-it-")
	if err != nil {
		return nil, err
	}
	cfg, err := labtest.Config(dir, labtest.Options{Nodes: 3, Kubernetes: true, Configure: func(c *labconfig.Config) {
		c.Kubernetes.Images["lab/shell"] = labconfig.Image{Command: []string{"/bin/sh", "-c"}}
		c.Nodes[2].KubernetesShare = &labconfig.Resources{} // joins with zero share
	}})
	if err != nil {
		return nil, err
	}
	bin, err := labtest.Binary()
	if err != nil {
		return nil, err
	}
	e := &env{cfg: cfg, cfgPath: filepath.Join(dir, "lab.yaml"), bin: bin, agents: map[string]*agentRun{}}
	b, _ := cfg.Marshal()
	if err := os.WriteFile(e.cfgPath, b, 0o644); err != nil {
		return nil, err
	}
	if e.specs, err = kube.Components(cfg, bin); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := lab.Up(ctx, cfg, e.specs, &out); err != nil {
		return e, fmt.Errorf("control plane: %w\n%s", err, out.String())
	}
	rc, err := kube.RESTConfig(cfg)
	if err != nil {
		return e, err
	}
	if e.cs, err = kubernetes.NewForConfig(rc); err != nil {
		return e, err
	}
	for _, n := range cfg.Nodes {
		if err := e.startAgent(n.Name); err != nil {
			return e, err
		}
	}
	return e, nil
}

// startAgent runs a node agent in this process (its pods are children of
// the test binary; they carry the lab marker like any lab process).
func (e *env) startAgent(node string) error { return e.startAgentWith(node, nil) }

// startAgentWith starts a node agent with options adjusted by mod.
func (e *env) startAgentWith(node string, mod func(*nodeagent.Options)) error {
	kc, err := kube.NodeKubeconfig(e.cfg, node)
	if err != nil {
		return err
	}
	rc, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		return err
	}
	logf, err := os.OpenFile(e.cfg.Path("logs", "node-agent-"+node+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	run := &agentRun{cancel: cancel, done: make(chan error, 1)}
	go func() {
		defer logf.Close()
		o := nodeagent.Options{
			ConfigPath: e.cfgPath, Config: e.cfg, Node: node, REST: rc, Self: e.bin,
			Logger: slog.New(slog.NewTextHandler(logf, nil)), OnReady: func() { close(ready) },
			// Volumes are rewritten often here, beside everything the
			// other tests do to their pods.
			VolumeResync: 500 * time.Millisecond,
		}
		if mod != nil {
			mod(&o)
		}
		run.done <- nodeagent.Run(ctx, o)
	}()
	select {
	case <-ready:
	case err := <-run.done:
		cancel()
		return fmt.Errorf("node agent %s: %v", node, err)
	case <-time.After(60 * time.Second):
		cancel()
		return fmt.Errorf("node agent %s did not become ready in 60s", node)
	}
	e.mu.Lock()
	e.agents[node] = run
	e.mu.Unlock()
	return nil
}

// stopAgent stops a node agent without draining: its pods keep running.
func (e *env) stopAgent(node string) error {
	e.mu.Lock()
	run := e.agents[node]
	delete(e.agents, node)
	e.mu.Unlock()
	if run == nil {
		return nil
	}
	run.cancel()
	select {
	case err := <-run.done:
		return err
	case <-time.After(30 * time.Second):
		return fmt.Errorf("node agent %s did not stop in 30s", node)
	}
}

// stop stops the agents and the control plane, runs the lab cleanup, and
// reports anything of the lab still on the machine: processes carrying the
// lab marker, pod network namespaces, the lab bridge.
func (e *env) stop() error {
	e.mu.Lock()
	nodes := make([]string, 0, len(e.agents))
	for n := range e.agents {
		nodes = append(nodes, n)
	}
	e.mu.Unlock()
	var errs []error
	for _, n := range nodes {
		if err := e.stopAgent(n); err != nil {
			errs = append(errs, err)
		}
	}
	ctx := context.Background()
	if err := nodeagent.Cleanup(ctx, e.cfg); err != nil {
		errs = append(errs, fmt.Errorf("node agent cleanup: %w", err))
	}
	var out bytes.Buffer
	if err := lab.Down(ctx, e.cfg, e.specs, &out); err != nil {
		errs = append(errs, fmt.Errorf("lab down: %w\n%s", err, out.String()))
	}
	nw, _ := nodeagent.NetworkFor(e.cfg)
	if _, err := os.Stat("/sys/class/net/" + nw.Bridge); err == nil {
		errs = append(errs, fmt.Errorf("bridge %s left", nw.Bridge))
	}
	ents, _ := os.ReadDir("/run/netns")
	for _, en := range ents {
		if strings.HasPrefix(en.Name(), nw.NetnsPrefix) {
			errs = append(errs, fmt.Errorf("network namespace %s left", en.Name()))
		}
	}
	if left := proc.FindByEnv(labconfig.MarkerEnv + "=" + e.cfg.ID); len(left) > 0 {
		errs = append(errs, fmt.Errorf("processes left: %v", left))
	}
	if os.Getenv("NODEAGENT_KEEP_DIR") == "" {
		_ = os.RemoveAll(e.cfg.Dir)
	}
	return errors.Join(errs...)
}

// namespace creates a fresh namespace for one test and deletes it after.
func (e *env) namespace(t testing.TB) string {
	t.Helper()
	name := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	if len(name) > 50 {
		name = name[:50]
	}
	name = strings.Trim(name, "-") + fmt.Sprintf("-%d", time.Now().UnixNano()%100000)
	ctx := context.Background()
	if _, err := e.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The lab's controller-manager creates the default ServiceAccount.
	t.Cleanup(func() {
		_ = e.cs.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	return name
}

func waitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	testenv.Eventually(t, timeout, 200*time.Millisecond, what, cond)
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func demoContainer() corev1.Container {
	field := func(p string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: p}}
	}
	return corev1.Container{
		Name:  "web",
		Image: "switchyard/demo-app:1",
		Env: []corev1.EnvVar{
			{Name: "PORT", Value: "8080"},
			{Name: "POD_IP", ValueFrom: field("status.podIP")},
			{Name: "POD_NAME", ValueFrom: field("metadata.name")},
			{Name: "NODE_NAME", ValueFrom: field("spec.nodeName")},
		},
		Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
		ReadinessProbe: &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromString("http")}},
			PeriodSeconds: 1, FailureThreshold: 1,
		},
	}
}

func httpGet(url string) (int, []byte, error) {
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func TestNodesRegisterWithConfiguredAllocatable(t *testing.T) {
	e := need(t)
	ctx := context.Background()
	for _, n := range e.cfg.Nodes {
		node, err := e.cs.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("node %s: %v", n.Name, err)
		}
		want := nodeagent.NodeResources(n)
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage, corev1.ResourcePods} {
			gotA, gotC := node.Status.Allocatable[r], node.Status.Capacity[r]
			if gotA.Cmp(want.Allocatable[r]) != 0 || gotC.Cmp(want.Capacity[r]) != 0 {
				t.Errorf("node %s %s: allocatable %s capacity %s, want %s / %s", n.Name, r, gotA.String(), gotC.String(), ptr(want.Allocatable[r]), ptr(want.Capacity[r]))
			}
		}
		if err := nodeagent.NodeReady(ctx, e.cfg, n.Name); err != nil {
			t.Errorf("node %s: %v", n.Name, err)
		}
		if node.Status.Addresses[0].Address != n.Address || node.Labels[corev1.LabelHostname] != n.Name || node.Labels["rack"] != n.Attributes["rack"] {
			t.Errorf("node %s: addresses %v labels %v", n.Name, node.Status.Addresses, node.Labels)
		}
	}
	// The zero-share node offers nothing to the scheduler.
	zero, _ := e.cs.CoreV1().Nodes().Get(ctx, e.cfg.Nodes[2].Name, metav1.GetOptions{})
	if q := zero.Status.Allocatable[corev1.ResourceCPU]; !q.IsZero() {
		t.Errorf("zero-share node has allocatable cpu %s", q.String())
	}
}

func ptr(q resource.Quantity) string { return q.String() }

func TestDeploymentServesThroughPodIPsAndEndpointSlices(t *testing.T) {
	e := need(t)
	ctx := context.Background()
	ns := e.namespace(t)
	replicas := int32(3)
	labels := map[string]string{"app": "demo"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "demo"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{demoContainer()}, TerminationGracePeriodSeconds: int64p(5)},
			},
		},
	}
	if _, err := e.cs.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "demo"},
		Spec:       corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromString("http")}}},
	}
	if _, err := e.cs.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	readyPods := func() []corev1.Pod {
		l, err := e.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=demo"})
		if err != nil {
			return nil
		}
		var out []corev1.Pod
		for _, p := range l.Items {
			if p.Status.Phase == corev1.PodRunning && podReady(&p) && p.DeletionTimestamp == nil {
				out = append(out, p)
			}
		}
		return out
	}
	waitFor(t, 90*time.Second, "3 Running+Ready demo pods", func() (bool, string) {
		ps := readyPods()
		return len(ps) == 3, fmt.Sprintf("%d ready", len(ps))
	})
	pods := readyPods()
	var ips []string
	for _, p := range pods {
		if p.Status.PodIP == "" || strings.HasPrefix(p.Status.PodIP, "127.") || p.Status.HostIP == "" {
			t.Fatalf("pod %s: podIP %q hostIP %q", p.Name, p.Status.PodIP, p.Status.HostIP)
		}
		if p.Spec.NodeName == e.cfg.Nodes[2].Name {
			t.Errorf("pod %s was scheduled to the zero-share node", p.Name)
		}
		code, body, err := httpGet("http://" + p.Status.PodIP + ":8080/")
		if err != nil || code != 200 {
			t.Fatalf("pod %s at %s: %d %v", p.Name, p.Status.PodIP, code, err)
		}
		var info struct {
			TaskID   string `json:"taskId"`
			Host     string `json:"host"`
			Platform string `json:"platform"`
		}
		_ = json.Unmarshal(body, &info)
		if info.TaskID != p.Name || info.Host != p.Spec.NodeName {
			t.Errorf("pod %s answered %s (downward API env not applied?)", p.Name, body)
		}
		ips = append(ips, p.Status.PodIP)
	}
	sort.Strings(ips)

	sliceReady := func() (ready, notReady []string) {
		l, err := e.cs.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=demo"})
		if err != nil {
			return nil, nil
		}
		for _, s := range l.Items {
			for _, ep := range s.Endpoints {
				if ep.Conditions.Ready != nil && *ep.Conditions.Ready {
					ready = append(ready, ep.Addresses...)
				} else {
					notReady = append(notReady, ep.Addresses...)
				}
			}
		}
		sort.Strings(ready)
		return ready, notReady
	}
	waitFor(t, 30*time.Second, "an EndpointSlice with the 3 pod IPs ready", func() (bool, string) {
		r, nr := sliceReady()
		return strings.Join(r, ",") == strings.Join(ips, ",") && len(nr) == 0, fmt.Sprintf("ready %v not ready %v", r, nr)
	})

	// Readiness failure takes the pod out of the endpoints.
	victim := pods[0]
	req, _ := http.NewRequest(http.MethodPost, "http://"+victim.Status.PodIP+":8080/admin/ready?v=false", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	waitFor(t, 30*time.Second, "the unready pod to leave the ready endpoints", func() (bool, string) {
		r, nr := sliceReady()
		return len(r) == 2 && len(nr) == 1 && nr[0] == victim.Status.PodIP, fmt.Sprintf("ready %v not ready %v", r, nr)
	})
	p, _ := e.cs.CoreV1().Pods(ns).Get(ctx, victim.Name, metav1.GetOptions{})
	if podReady(p) || p.Status.ContainerStatuses[0].Ready {
		t.Errorf("pod %s still Ready after its readiness probe failed", victim.Name)
	}

	// Deleting a pod makes the Deployment replace it; its process and
	// network namespace go away.
	pid := containerPID(t, &victim)
	if err := e.cs.CoreV1().Pods(ns).Delete(ctx, victim.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "a replacement pod", func() (bool, string) {
		ps := readyPods()
		for _, p := range ps {
			if p.Name == victim.Name {
				return false, "old pod still listed"
			}
		}
		return len(ps) == 3, fmt.Sprintf("%d ready", len(ps))
	})
	waitFor(t, 30*time.Second, "the deleted pod to be gone from the API", func() (bool, string) {
		_, err := e.cs.CoreV1().Pods(ns).Get(ctx, victim.Name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
	if proc.Alive(pid) {
		t.Errorf("process %d of the deleted pod still runs", pid.PID)
	}
	nw, _ := nodeagent.NetworkFor(e.cfg)
	if nw.HasNetns(string(victim.UID)) {
		t.Errorf("network namespace of the deleted pod is left")
	}
}

func int64p(v int64) *int64 { return &v }

// containerPID finds the process of a pod's first container from the
// state the agent persists.
func containerPID(t testing.TB, p *corev1.Pod) proc.ID {
	t.Helper()
	b, err := os.ReadFile(theEnv.cfg.Path("pods", nodeagent.PodDirName(p), "state.json"))
	if err != nil {
		t.Fatalf("pod state: %v", err)
	}
	var s struct {
		Containers map[string]struct {
			Proc proc.ID `json:"proc"`
		} `json:"containers"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	id := s.Containers[p.Spec.Containers[0].Name].Proc
	if !proc.Alive(id) {
		t.Fatalf("pod %s: container process %v is not running", p.Name, id)
	}
	return id
}

func createPod(t testing.TB, ns string, pod *corev1.Pod) *corev1.Pod {
	t.Helper()
	p, err := theEnv.cs.CoreV1().Pods(ns).Create(context.Background(), pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func getPod(ns, name string) *corev1.Pod {
	p, err := theEnv.cs.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return &corev1.Pod{}
	}
	return p
}

func events(ns, pod string) string {
	l, err := theEnv.cs.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{FieldSelector: "involvedObject.name=" + pod})
	if err != nil {
		return ""
	}
	var b strings.Builder
	for _, ev := range l.Items {
		fmt.Fprintf(&b, "%s %s: %s\n", ev.Type, ev.Reason, ev.Message)
	}
	return b.String()
}

func TestCrashingContainerRestartsWithBackoff(t *testing.T) {
	e := need(t)
	ns := e.namespace(t)
	createPod(t, ns, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "crasher"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "c", Image: "lab/shell", Args: []string{"echo boom; exit 3"},
		}}},
	})
	waitFor(t, 60*time.Second, "restartCount >= 2 in CrashLoopBackOff", func() (bool, string) {
		p := getPod(ns, "crasher")
		if len(p.Status.ContainerStatuses) == 0 {
			return false, "no status"
		}
		s := p.Status.ContainerStatuses[0]
		lt := s.LastTerminationState.Terminated
		ok := s.RestartCount >= 2 && s.State.Waiting != nil && s.State.Waiting.Reason == "CrashLoopBackOff" && lt != nil && lt.ExitCode == 3
		return ok, fmt.Sprintf("restarts=%d state=%+v last=%+v phase=%s", s.RestartCount, s.State, s.LastTerminationState, p.Status.Phase)
	})
	p := getPod(ns, "crasher")
	if p.Status.Phase != corev1.PodRunning {
		t.Errorf("phase = %s, want Running (kubelet semantics for a restarting container)", p.Status.Phase)
	}
	if msg := p.Status.ContainerStatuses[0].State.Waiting.Message; !strings.Contains(msg, "back-off 20s") && !strings.Contains(msg, "back-off 10s") {
		t.Errorf("waiting message = %q, want the backoff period", msg)
	}
	evs := events(ns, "crasher")
	if !strings.Contains(evs, "BackOff") {
		t.Errorf("no BackOff event; events:\n%s", evs)
	}
	logb, _ := os.ReadFile(e.cfg.Path("pods", nodeagent.PodDirName(p), "c.log"))
	if strings.Count(string(logb), "boom") < 2 {
		t.Errorf("container log has %d runs, want >= 2: %q", strings.Count(string(logb), "boom"), logb)
	}
}

func TestUnmappedImageFailsWithClearEvent(t *testing.T) {
	e := need(t)
	ns := e.namespace(t)
	createPod(t, ns, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "nomap"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "example.org/nothere:1"}}},
	})
	want := "ImageNotMapped: image example.org/nothere:1 has no local program in lab.yaml kubernetes.images"
	waitFor(t, 30*time.Second, "ImageNotMapped waiting state and event", func() (bool, string) {
		p := getPod(ns, "nomap")
		if len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].State.Waiting == nil {
			return false, "no waiting state"
		}
		w := p.Status.ContainerStatuses[0].State.Waiting
		evs := events(ns, "nomap")
		return w.Reason == "ImageNotMapped" && strings.Contains(w.Message, want) && strings.Contains(evs, want) && p.Status.Phase == corev1.PodPending,
			fmt.Sprintf("waiting=%+v phase=%s events=%s", w, p.Status.Phase, evs)
	})
}

func TestEnvSecretsConfigMapsInitContainersAndLogs(t *testing.T) {
	e := need(t)
	ctx := context.Background()
	ns := e.namespace(t)
	if _, err := e.cs.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Data: map[string][]byte{"password": []byte("s3cr3t")}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg"},
		Data: map[string]string{"MODE": "fast"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	createPod(t, ns, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "envpod", Labels: map[string]string{"tier": "gold"}},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{
				{Name: "init1", Image: "lab/shell", Args: []string{"echo first > init.txt"}},
				{Name: "init2", Image: "lab/shell", Args: []string{"cat init.txt && echo second >> init.txt"}},
			},
			Containers: []corev1.Container{{
				Name: "main", Image: "lab/shell",
				Command: []string{"/bin/sh", "-c"},
				Args:    []string{`cat init.txt; echo "PW=$PW MODE=$MODE TIER=$TIER IP=$IP NAME=$NAME GREETING=$(GREETING)"; ip -4 -o addr show dev eth0; exec sleep 600`},
				Env: []corev1.EnvVar{
					{Name: "PW", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "password"}}},
					{Name: "TIER", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['tier']"}}},
					{Name: "IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
					{Name: "NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
					{Name: "GREETING", Value: "hello-$(NAME)"},
				},
				EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
			}},
			TerminationGracePeriodSeconds: int64p(2),
		},
	})
	var p *corev1.Pod
	waitFor(t, 60*time.Second, "envpod Running and Ready", func() (bool, string) {
		p = getPod(ns, "envpod")
		return p.Status.Phase == corev1.PodRunning && podReady(p), fmt.Sprintf("phase=%s conds=%v", p.Status.Phase, p.Status.Conditions)
	})
	for i, s := range p.Status.InitContainerStatuses {
		if s.State.Terminated == nil || s.State.Terminated.ExitCode != 0 {
			t.Errorf("init container %d: %+v", i, s.State)
		}
	}
	logPath := e.cfg.Path("pods", nodeagent.PodDirName(p), "main.log")
	want := []string{"first", "second", "PW=s3cr3t MODE=fast TIER=gold IP=" + p.Status.PodIP + " NAME=envpod GREETING=hello-envpod", "inet " + p.Status.PodIP + "/"}
	waitFor(t, 10*time.Second, "the container's log", func() (bool, string) {
		b, _ := os.ReadFile(logPath)
		for _, w := range want {
			if !strings.Contains(string(b), w) {
				return false, fmt.Sprintf("missing %q in %q", w, b)
			}
		}
		return true, ""
	})
	// kubectl logs: the API server fetches the log from the node agent.
	logs, err := e.cs.CoreV1().Pods(ns).GetLogs("envpod", &corev1.PodLogOptions{Container: "main"}).Do(ctx).Raw()
	if err != nil || !strings.Contains(string(logs), "PW=s3cr3t") {
		t.Errorf("pod logs through the API: %v %q", err, logs)
	}
	tail := int64(1)
	logs, err = e.cs.CoreV1().Pods(ns).GetLogs("envpod", &corev1.PodLogOptions{Container: "main", TailLines: &tail}).Do(ctx).Raw()
	if err != nil || strings.Count(strings.TrimSpace(string(logs)), "\n") != 0 || !strings.Contains(string(logs), "inet ") {
		t.Errorf("tailLines=1: %v %q", err, logs)
	}
	// kubectl logs -f streams: a line written after the stream opened arrives.
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	rc, err := e.cs.CoreV1().Pods(ns).GetLogs("envpod", &corev1.PodLogOptions{Container: "main", Follow: true}).Stream(sctx)
	if err != nil {
		t.Fatalf("follow logs: %v", err)
	}
	defer rc.Close()
	f, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, "appended-after-follow")
	f.Close()
	var streamed []byte
	buf := make([]byte, 4096)
	for !strings.Contains(string(streamed), "appended-after-follow") {
		n, err := rc.Read(buf)
		streamed = append(streamed, buf[:n]...)
		if err != nil {
			t.Fatalf("follow stream ended (%v) before the appended line; got %q", err, streamed)
		}
	}
	id := containerPID(t, p)
	found := false
	for _, m := range proc.FindByEnv(labconfig.MarkerEnv + "=" + e.cfg.ID) {
		found = found || m.PID == id.PID
	}
	if !found {
		t.Errorf("container process %d does not carry %s", id.PID, labconfig.MarkerEnv)
	}
	// Like a kubelet, the agent hands every container the API server's
	// address: the lab's pod-facing one (the forwarder on the gateway).
	apiHost, apiPort, err := kube.PodAPIAddress(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", id.PID))
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range []string{"KUBERNETES_SERVICE_HOST=" + apiHost, "KUBERNETES_SERVICE_PORT=" + apiPort} {
		if !strings.Contains("\x00"+string(environ)+"\x00", "\x00"+kv+"\x00") {
			t.Errorf("container environment lacks %s", kv)
		}
	}
}

func TestLivenessFailureRestartsContainer(t *testing.T) {
	e := need(t)
	ns := e.namespace(t)
	createPod(t, ns, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "sick"},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name: "c", Image: "lab/shell", Args: []string{"exec sleep 600"},
				LivenessProbe: &corev1.Probe{
					// Exec probes run inside the pod's network namespace:
					// eth0 exists there and not in the root namespace.
					ProbeHandler:  corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"/bin/sh", "-c", "ip link show eth0 && test -e /nonexistent-file"}}},
					PeriodSeconds: 1, FailureThreshold: 2,
				},
			}},
			TerminationGracePeriodSeconds: int64p(1),
		},
	})
	waitFor(t, 60*time.Second, "a liveness restart", func() (bool, string) {
		p := getPod(ns, "sick")
		if len(p.Status.ContainerStatuses) == 0 {
			return false, "no status"
		}
		s := p.Status.ContainerStatuses[0]
		return s.RestartCount >= 1, fmt.Sprintf("restarts=%d", s.RestartCount)
	})
	evs := events(ns, "sick")
	if !strings.Contains(evs, "failed liveness probe, will be restarted") || !strings.Contains(evs, "Liveness probe failed") {
		t.Errorf("events:\n%s", evs)
	}
}

func TestAgentRestartReadoptsRunningPods(t *testing.T) {
	e := need(t)
	ns := e.namespace(t)
	node := e.cfg.Nodes[0].Name
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "sticky"},
		Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{demoContainer()}, TerminationGracePeriodSeconds: int64p(3)},
	}
	createPod(t, ns, pod)
	var p *corev1.Pod
	waitFor(t, 60*time.Second, "sticky Ready", func() (bool, string) {
		p = getPod(ns, "sticky")
		return podReady(p), string(p.Status.Phase)
	})
	id := containerPID(t, p)
	// Sample the pod's readiness in the API through the agent restart.
	stopSampling := make(chan struct{})
	sampled := make(chan []string, 1)
	go func() {
		var flaps []string
		for {
			select {
			case <-stopSampling:
				sampled <- flaps
				return
			case <-time.After(100 * time.Millisecond):
			}
			if q := getPod(ns, "sticky"); q.Name != "" && !podReady(q) {
				flaps = append(flaps, time.Now().Format("15:04:05.000"))
			}
		}
	}()
	if err := e.stopAgent(node); err != nil {
		t.Fatal(err)
	}
	if !proc.Alive(id) {
		t.Fatal("stopping the agent (no drain) stopped the pod's process")
	}
	if code, _, err := httpGet("http://" + p.Status.PodIP + ":8080/"); err != nil || code != 200 {
		t.Fatalf("pod stopped answering while its agent was down: %d %v", code, err)
	}
	if err := e.startAgent(node); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second) // a few probe periods under the new agent
	p2 := getPod(ns, "sticky")
	if !podReady(p2) || p2.Status.ContainerStatuses[0].RestartCount != 0 || p2.Status.PodIP != p.Status.PodIP {
		t.Errorf("after agent restart: ready=%v restarts=%d ip=%s (was %s)", podReady(p2), p2.Status.ContainerStatuses[0].RestartCount, p2.Status.PodIP, p.Status.PodIP)
	}
	if id2 := containerPID(t, p2); id2 != id {
		t.Errorf("container process changed from %v to %v: not re-adopted", id, id2)
	}
	close(stopSampling)
	if flaps := <-sampled; len(flaps) > 0 {
		t.Errorf("the pod was reported unready during the agent restart at %v", flaps)
	}
	// The re-adopted pod still stops cleanly on delete.
	if err := e.cs.CoreV1().Pods(ns).Delete(context.Background(), "sticky", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "sticky gone", func() (bool, string) {
		_, err := e.cs.CoreV1().Pods(ns).Get(context.Background(), "sticky", metav1.GetOptions{})
		return apierrors.IsNotFound(err) && !proc.Alive(id), fmt.Sprint(err)
	})
}

func TestShareChangeInLabConfigUpdatesAllocatable(t *testing.T) {
	e := need(t)
	ctx := context.Background()
	node := e.cfg.Nodes[2].Name
	write := func(share labconfig.Resources) {
		t.Helper()
		cfg := e.cfg
		cfg.Nodes = append([]labconfig.Node{}, e.cfg.Nodes...)
		cfg.Nodes[2].KubernetesShare = &share
		b, err := cfg.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		// The agent polls the file's modification time.
		time.Sleep(1100 * time.Millisecond)
		if err := os.WriteFile(e.cfgPath, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	alloc := func() (string, string) {
		n, err := e.cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			return "", ""
		}
		c, m := n.Status.Allocatable[corev1.ResourceCPU], n.Status.Allocatable[corev1.ResourceMemory]
		return c.String(), m.String()
	}
	write(labconfig.Resources{CPUs: 1.5, Mem: 1024, Disk: 100})
	t.Cleanup(func() { write(labconfig.Resources{}) })
	waitFor(t, 20*time.Second, "the grown share to show as allocatable", func() (bool, string) {
		c, m := alloc()
		return c == "1500m" && m == "1Gi", c + " " + m
	})
	n, _ := e.cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if q := n.Status.Capacity[corev1.ResourceCPU]; q.String() != "4" {
		t.Errorf("capacity changed with the share: cpu %s", q.String())
	}
}

func TestPreStopHookAndGracePeriodOnDelete(t *testing.T) {
	e := need(t)
	ctx := context.Background()
	ns := e.namespace(t)
	mk := func(name, script string, grace int64) *corev1.Pod {
		return createPod(t, ns, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PodSpec{
				NodeName: e.cfg.Nodes[1].Name,
				Containers: []corev1.Container{{
					Name: "c", Image: "lab/shell", Args: []string{script},
					Lifecycle: &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{
						Command: []string{"/bin/sh", "-c", "echo prestop-ran > prestop.txt"}}}},
				}},
				TerminationGracePeriodSeconds: int64p(grace),
			},
		})
	}
	// One container exits on SIGTERM, the other ignores it and needs SIGKILL.
	polite := mk("polite", `trap 'echo got-sigterm; exit 0' TERM; echo up; while :; do sleep 0.2; done`, 20)
	stubborn := mk("stubborn", `trap '' TERM; echo up; while :; do sleep 0.2; done`, 2)
	for _, name := range []string{"polite", "stubborn"} {
		waitFor(t, 30*time.Second, name+" running", func() (bool, string) {
			p := getPod(ns, name)
			return p.Status.Phase == corev1.PodRunning, string(p.Status.Phase)
		})
	}
	polite, stubborn = getPod(ns, "polite"), getPod(ns, "stubborn")
	time.Sleep(500 * time.Millisecond) // let the shells install their traps
	gone := func(p *corev1.Pod) time.Duration {
		t0 := time.Now()
		if err := e.cs.CoreV1().Pods(ns).Delete(ctx, p.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 40*time.Second, p.Name+" deleted", func() (bool, string) {
			_, err := e.cs.CoreV1().Pods(ns).Get(ctx, p.Name, metav1.GetOptions{})
			return apierrors.IsNotFound(err), fmt.Sprint(err)
		})
		return time.Since(t0)
	}
	politeTook, stubbornTook := gone(polite), gone(stubborn)
	dir := func(p *corev1.Pod) string { return e.cfg.Path("pods", nodeagent.PodDirName(p), nodeagent.WorkDirName) }
	for _, p := range []*corev1.Pod{polite, stubborn} {
		if b, err := os.ReadFile(filepath.Join(dir(p), "prestop.txt")); err != nil || !strings.Contains(string(b), "prestop-ran") {
			t.Errorf("%s: preStop hook did not run: %v", p.Name, err)
		}
	}
	if b, _ := os.ReadFile(e.cfg.Path("pods", nodeagent.PodDirName(polite), "c.log")); !strings.Contains(string(b), "got-sigterm") {
		t.Errorf("polite: no SIGTERM seen; log %q", b)
	}
	if politeTook > 10*time.Second {
		t.Errorf("polite pod took %s to go although it exits on SIGTERM", politeTook)
	}
	if stubbornTook < 2*time.Second {
		t.Errorf("stubborn pod went after %s, before its 2s grace period", stubbornTook)
	}
	t.Logf("deletion took %s (exits on SIGTERM) and %s (ignores SIGTERM, grace 2s)", politeTook, stubbornTook)
}

func TestKubeletAPIRefusesNonAdminClients(t *testing.T) {
	e := need(t)
	n := e.cfg.Nodes[0]
	kc, err := kube.NodeKubeconfig(e.cfg, n.Name)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("https://%s:%d/healthz", n.Address, e.cfg.Kubernetes.NodeAgentBasePort)
	try := func(certPEM, keyPEM []byte) int {
		t.Helper()
		tc := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the test checks client authentication, not the server
		if certPEM != nil {
			c, err := tls.X509KeyPair(certPEM, keyPEM)
			if err != nil {
				t.Fatal(err)
			}
			tc.Certificates = []tls.Certificate{c}
		}
		c := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}
		resp, err := c.Get(url)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := try(nil, nil); code != 0 {
		t.Errorf("no client certificate: status %d, want the TLS handshake refused", code)
	}
	if code := try(rc.CertData, rc.KeyData); code != http.StatusForbidden {
		t.Errorf("node identity: status %d, want 403", code)
	}
	adm, err := kube.RESTConfig(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if code := try(adm.CertData, adm.KeyData); code != http.StatusOK {
		t.Errorf("admin identity: status %d, want 200", code)
	}
}

func TestDrainOnExitStopsPodsAndReportsThem(t *testing.T) {
	e := need(t)
	ns := e.namespace(t)
	node := e.cfg.Nodes[1].Name
	if err := e.stopAgent(node); err != nil {
		t.Fatal(err)
	}
	if err := e.startAgentWith(node, func(o *nodeagent.Options) { o.DrainOnExit = true }); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = e.stopAgent(node)
		if err := e.startAgent(node); err != nil {
			t.Fatal(err)
		}
	}()
	createPod(t, ns, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "drained"},
		Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{demoContainer()}, TerminationGracePeriodSeconds: int64p(5)},
	})
	var p *corev1.Pod
	waitFor(t, 60*time.Second, "drained Ready", func() (bool, string) {
		p = getPod(ns, "drained")
		return podReady(p), string(p.Status.Phase)
	})
	id := containerPID(t, p)
	if err := e.stopAgent(node); err != nil {
		t.Fatal(err)
	}
	if proc.Alive(id) {
		t.Error("the pod's process survived a draining agent")
	}
	nw, _ := nodeagent.NetworkFor(e.cfg)
	if nw.HasNetns(string(p.UID)) {
		t.Error("the pod's network namespace survived a draining agent")
	}
	p = getPod(ns, "drained")
	if p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
		t.Errorf("phase after drain = %s, want a terminal phase reported before the agent exited", p.Status.Phase)
	}
}

func TestStartupProbeGatesReadinessAndLiveness(t *testing.T) {
	e := need(t)
	ns := e.namespace(t)
	createPod(t, ns, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "slowstart"},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name: "c", Image: "lab/shell", Args: []string{"sleep 2; touch started; exec sleep 600"},
				StartupProbe: &corev1.Probe{
					ProbeHandler:  corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"test", "-e", "started"}}},
					PeriodSeconds: 1, FailureThreshold: 10,
				},
				// Would kill the container if it ran before startup succeeded.
				LivenessProbe: &corev1.Probe{
					ProbeHandler:  corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"test", "-e", "started"}}},
					PeriodSeconds: 1, FailureThreshold: 1,
				},
			}},
			TerminationGracePeriodSeconds: int64p(1),
		},
	})
	sawUnstarted := false
	waitFor(t, 30*time.Second, "started and Ready", func() (bool, string) {
		p := getPod(ns, "slowstart")
		if len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].State.Running == nil {
			return false, "not running"
		}
		s := p.Status.ContainerStatuses[0]
		if s.Started != nil && !*s.Started {
			sawUnstarted = true
			if s.Ready || podReady(p) {
				t.Errorf("container Ready before its startup probe succeeded")
			}
		}
		return s.Started != nil && *s.Started && podReady(p), fmt.Sprintf("started=%v ready=%v", *s.Started, s.Ready)
	})
	if !sawUnstarted {
		t.Error("never saw the container running but not yet started")
	}
	if p := getPod(ns, "slowstart"); p.Status.ContainerStatuses[0].RestartCount != 0 {
		t.Errorf("restarted %d times: liveness ran before startup succeeded", p.Status.ContainerStatuses[0].RestartCount)
	}
}

func TestRestartPolicyNeverAndOnFailureComplete(t *testing.T) {
	e := need(t)
	ns := e.namespace(t)
	mk := func(name string, policy corev1.RestartPolicy, script string) {
		createPod(t, ns, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PodSpec{RestartPolicy: policy, Containers: []corev1.Container{{
				Name: "c", Image: "lab/shell", Args: []string{script}}}},
		})
	}
	mk("ok-never", corev1.RestartPolicyNever, "exit 0")
	mk("fail-never", corev1.RestartPolicyNever, "exit 4")
	// Fails on its first run, succeeds on the second (state kept in the pod dir).
	mk("retry-onfailure", corev1.RestartPolicyOnFailure, "if [ -e ran ]; then exit 0; fi; touch ran; exit 1")
	want := map[string]struct {
		phase    corev1.PodPhase
		code     int32
		restarts int32
	}{
		"ok-never":        {corev1.PodSucceeded, 0, 0},
		"fail-never":      {corev1.PodFailed, 4, 0},
		"retry-onfailure": {corev1.PodSucceeded, 0, 1},
	}
	for name, w := range want {
		waitFor(t, 30*time.Second, name+" "+string(w.phase), func() (bool, string) {
			p := getPod(ns, name)
			if len(p.Status.ContainerStatuses) == 0 {
				return false, string(p.Status.Phase)
			}
			s := p.Status.ContainerStatuses[0]
			ok := p.Status.Phase == w.phase && s.State.Terminated != nil && s.State.Terminated.ExitCode == w.code && s.RestartCount == w.restarts
			return ok, fmt.Sprintf("phase=%s state=%+v restarts=%d", p.Status.Phase, s.State, s.RestartCount)
		})
	}
}

func TestWorkingDir(t *testing.T) {
	e := need(t)
	ns := e.namespace(t)
	for name, dir := range map[string]string{"in-tmp": "/tmp", "nowhere": "/nonexistent-lab-dir"} {
		createPod(t, ns, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{
				Name: "c", Image: "lab/shell", Args: []string{"pwd"}, WorkingDir: dir}}},
		})
	}
	waitFor(t, 30*time.Second, "in-tmp Succeeded", func() (bool, string) {
		p := getPod(ns, "in-tmp")
		return p.Status.Phase == corev1.PodSucceeded, string(p.Status.Phase)
	})
	p := getPod(ns, "in-tmp")
	if b, _ := os.ReadFile(e.cfg.Path("pods", nodeagent.PodDirName(p), "c.log")); strings.TrimSpace(string(b)) != "/tmp" {
		t.Errorf("pwd printed %q, want /tmp", b)
	}
	waitFor(t, 30*time.Second, "nowhere waiting with CreateContainerError", func() (bool, string) {
		p := getPod(ns, "nowhere")
		if len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].State.Waiting == nil {
			return false, "no waiting state"
		}
		w := p.Status.ContainerStatuses[0].State.Waiting
		return w.Reason == "CreateContainerError" && strings.Contains(w.Message, "workingDir /nonexistent-lab-dir does not exist"), fmt.Sprintf("%+v", w)
	})
}

func TestKubeletReservationSetsAllocatable(t *testing.T) {
	e := need(t)
	ctx := context.Background()
	node := e.cfg.Nodes[2].Name // joined with a zero share
	r := nodeagent.Reservation{}
	var err error
	if r.SystemReserved, err = nodeagent.ParseResourceList("cpu=3,memory=6Gi"); err != nil {
		t.Fatal(err)
	}
	r.EvictionHard = map[string]string{"memory.available": "1Gi"}
	if err := e.stopAgent(node); err != nil {
		t.Fatal(err)
	}
	if err := e.startAgentWith(node, func(o *nodeagent.Options) { o.Reservation = &r }); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = e.stopAgent(node)
		if err := e.startAgent(node); err != nil {
			t.Fatal(err)
		}
	}()
	waitFor(t, 20*time.Second, "allocatable from the reservation", func() (bool, string) {
		n, err := e.cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		got := nodeagent.FormatResources(n.Status.Allocatable)
		return got == "cpu=1 ephemeral-storage=20Gi memory=1Gi pods=110", got
	})
}

// TestContainersDoNotRunAsRoot: a lab started by root runs pod containers,
// their exec probes and hooks as its unprivileged task user, in the pod
// network and on the host network alike; the pod's work directory is the
// containers' and its directory (the agent's state, the logs) is not.
func TestContainersDoNotRunAsRoot(t *testing.T) {
	e := need(t)
	if os.Geteuid() != 0 {
		t.Skip("the tests do not run as root: containers run as the test's own user")
	}
	u, err := proc.LookupUser(e.cfg.TaskUserName())
	if err != nil {
		t.Fatalf("%v: scripts/deps.sh creates it", err)
	}
	ns := e.namespace(t)
	for _, hostNet := range []bool{false, true} {
		name := "uid-pod-net"
		if hostNet {
			name = "uid-host-net"
		}
		createPod(t, ns, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PodSpec{HostNetwork: hostNet, Containers: []corev1.Container{{
				Name: "c", Image: "lab/shell", Args: []string{"echo uid=$(id -u); touch mine && exec sleep 600"},
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{
					Command: []string{"/bin/sh", "-c", "id -u > probe-uid"}}}, PeriodSeconds: 1},
			}}},
		})
	}
	want := strconv.FormatUint(uint64(u.UID), 10)
	for _, name := range []string{"uid-pod-net", "uid-host-net"} {
		waitFor(t, 30*time.Second, name+" ready", func() (bool, string) {
			p := getPod(ns, name)
			return podReady(p), string(p.Status.Phase)
		})
		p := getPod(ns, name)
		dir := e.cfg.Path("pods", nodeagent.PodDirName(p))
		// The exec probe may pass before the container's first line is
		// written (the mount shim runs before it): wait for the line.
		waitFor(t, 10*time.Second, name+" prints its uid", func() (bool, string) {
			b, _ := os.ReadFile(filepath.Join(dir, "c.log"))
			return strings.Contains(string(b), "uid=") || strings.Contains(string(b), "\n"), string(b)
		})
		if b, _ := os.ReadFile(filepath.Join(dir, "c.log")); !strings.Contains(string(b), "uid="+want+"\n") {
			t.Errorf("%s: the container printed %q, want uid=%s (%s)", name, b, want, u)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, nodeagent.WorkDirName, "probe-uid")); strings.TrimSpace(string(b)) != want {
			t.Errorf("%s: the exec probe ran as uid %q, want %s", name, b, want)
		}
		for path, owner := range map[string]uint32{dir: 0, filepath.Join(dir, "state.json"): 0, filepath.Join(dir, nodeagent.WorkDirName): u.UID} {
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := st.Sys().(*syscall.Stat_t).Uid; got != owner {
				t.Errorf("%s belongs to uid %d, want %d", path, got, owner)
			}
		}
	}
}

// TestRunningPodsSeeVolumeUpdates: like the kubelet, the agent rewrites a
// running pod's volumes, so a Secret changed through the API reaches the
// running container (through its mount, without a restart), beside a
// projected ServiceAccount token.
func TestRunningPodsSeeVolumeUpdates(t *testing.T) {
	e := need(t)
	if os.Geteuid() != 0 {
		t.Skip("the tests do not run as root: volumes need a mount namespace")
	}
	ctx := context.Background()
	ns := e.namespace(t)
	secrets := e.cs.CoreV1().Secrets(ns)
	if _, err := secrets.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "conf"},
		Data: map[string][]byte{"v": []byte("one")}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	const dir = "/var/run/switchyard-nodeagent-test"
	p := createPod(t, ns, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "refresh"},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name: "main", Image: "lab/shell",
				Args: []string{`while :; do echo "V=$(cat ` + dir + `/secret/v) T=$(wc -c < ` + dir + `/token/token)"; sleep 0.2; done`},
				VolumeMounts: []corev1.VolumeMount{
					{Name: "secret", MountPath: dir + "/secret", ReadOnly: true},
					{Name: "token", MountPath: dir + "/token", ReadOnly: true},
				},
			}},
			Volumes: []corev1.Volume{
				{Name: "secret", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "conf"}}},
				{Name: "token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
					{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: int64p(600)}}}}}},
			},
			TerminationGracePeriodSeconds: int64p(1),
		},
	})
	logPath := e.cfg.Path("pods", nodeagent.PodDirName(p), "main.log")
	lastLine := func() string {
		b, _ := os.ReadFile(logPath)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		return lines[len(lines)-1]
	}
	waitFor(t, 60*time.Second, "the container reads the Secret and a token", func() (bool, string) {
		l := lastLine()
		return strings.HasPrefix(l, "V=one T=") && !strings.HasSuffix(l, "T=0") && !strings.HasSuffix(l, "T="),
			fmt.Sprintf("last log line %q; events: %s", l, events(ns, "refresh"))
	})
	started := getPod(ns, "refresh").Status.ContainerStatuses
	if _, err := secrets.Update(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "conf"},
		Data: map[string][]byte{"v": []byte("two")}}, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the running container sees the updated Secret", func() (bool, string) {
		l := lastLine()
		return strings.HasPrefix(l, "V=two T="), fmt.Sprintf("last log line %q", l)
	})
	now := getPod(ns, "refresh").Status.ContainerStatuses
	if len(started) != 1 || len(now) != 1 || now[0].RestartCount != started[0].RestartCount {
		t.Errorf("the container restarted: %+v then %+v", started, now)
	}
}
