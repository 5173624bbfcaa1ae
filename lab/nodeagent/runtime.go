package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"

	"github.com/switchyard/switchyard/lab/kube"
	"github.com/switchyard/switchyard/lab/labconfig"
	"github.com/switchyard/switchyard/lab/proc"
)

// RuntimeOptions configures a Runtime.
type RuntimeOptions struct {
	// Config is the lab config; Node names this agent's node in it.
	Config labconfig.Config
	Node   string
	// Self is the switchyard binary ("{switchyard}" in image commands).
	Self string
	// Lookup reads ConfigMaps and Secrets for env and volumes.
	Lookup Lookup
	// Tokens issues the ServiceAccount tokens of projected volumes (nil:
	// pods that mount one do not start).
	Tokens TokenRequester
	// Recorder emits pod events.
	Recorder record.EventRecorder
	// Probe runs probe attempts and httpGet/exec hooks (default DefaultProbe).
	Probe ProbeFunc
	// Logger receives the agent's own log (default: discard).
	Logger *slog.Logger
	// Finalize, when set, removes a pod from the API once all its containers
	// stopped after a deletion (the kubelet's final delete with grace 0).
	Finalize func(ctx context.Context, namespace, name string, uid types.UID) error
	// RetryDelay is how long a container whose image is unmapped or whose
	// env cannot be resolved waits before trying again (default 5s).
	RetryDelay time.Duration
	// VolumeResync is how often a running pod's Secret, ConfigMap,
	// downwardAPI and projected volumes are rewritten from the API
	// (default DefaultVolumeResync).
	VolumeResync time.Duration
}

// DefaultVolumeResync is how often the volumes of running pods are
// rewritten (the kubelet's sync period is a minute too).
const DefaultVolumeResync = time.Minute

// Runtime runs the pods bound to one lab node as local processes. It
// implements virtual-kubelet's node.PodLifecycleHandler and node.PodNotifier.
type Runtime struct {
	node     string
	hostIP   string
	podCIDR  netip.Prefix
	net      Network
	self     string
	user     *proc.User // who containers run as (nil: the agent's own identity)
	podsDir  string
	marker   string
	lookup   Lookup
	tokens   TokenRequester
	ledger   string // the lab's mount-point ledger
	recorder record.EventRecorder
	probe    ProbeFunc
	log      *slog.Logger
	retry    time.Duration
	resync   time.Duration // VolumeResync
	finalize func(ctx context.Context, namespace, name string, uid types.UID) error

	mu          sync.Mutex
	cfg         labconfig.Config
	allocatable corev1.ResourceList
	pods        map[string]*podRunner // namespace/name
	ips         map[netip.Addr]bool
	notify      func(*corev1.Pod)
	ctx         context.Context
	runners     sync.WaitGroup
}

// NewRuntime prepares a runtime; ctx bounds its supervision (cancelling it
// leaves the pods' processes running, see Drain).
func NewRuntime(ctx context.Context, o RuntimeOptions) (*Runtime, error) {
	idx, err := NodeIndex(o.Config, o.Node)
	if err != nil {
		return nil, err
	}
	cidr, err := NodePodCIDR(o.Config, idx)
	if err != nil {
		return nil, err
	}
	nw, err := NetworkFor(o.Config)
	if err != nil {
		return nil, err
	}
	if o.Probe == nil {
		o.Probe = DefaultProbe
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = 5 * time.Second
	}
	if o.VolumeResync <= 0 {
		o.VolumeResync = DefaultVolumeResync
	}
	if o.Recorder == nil {
		return nil, errors.New("nodeagent: RuntimeOptions.Recorder is required")
	}
	user, err := proc.WorkloadUser(o.Config.TaskUserName())
	if err != nil {
		return nil, fmt.Errorf("nodeagent: lab.yaml taskUser: %w", err)
	}
	podsDir := o.Config.Path("pods")
	if user != nil {
		// Containers run in their pod's directory (moved out of a lab
		// directory they cannot reach).
		if podsDir, err = proc.WorkDir(*user, o.Config.Dir, o.Config.ID, podsDir); err != nil {
			return nil, fmt.Errorf("nodeagent: pod directories: %w", err)
		}
		if o.Self != "" {
			if o.Self, err = proc.ExposeToLab(o.Self, *user, o.Config.Dir, o.Config.ID); err != nil {
				return nil, fmt.Errorf("nodeagent: the switchyard binary for containers: %w", err)
			}
		}
	}
	return &Runtime{
		node: o.Node, hostIP: o.Config.Nodes[idx].Address, podCIDR: cidr, net: nw, self: o.Self, user: user,
		podsDir: podsDir, marker: labconfig.MarkerEnv + "=" + o.Config.ID,
		lookup: o.Lookup, tokens: o.Tokens, ledger: mountPointLedger(o.Config), recorder: o.Recorder, probe: o.Probe, log: o.Logger, retry: o.RetryDelay, resync: o.VolumeResync, finalize: o.Finalize,
		cfg: o.Config, allocatable: NodeResources(o.Config.Nodes[idx]).Allocatable,
		pods: map[string]*podRunner{}, ips: map[netip.Addr]bool{}, ctx: ctx,
		notify: func(*corev1.Pod) {},
	}, nil
}

// Network returns the lab pod network the runtime plugs pods into.
func (r *Runtime) Network() Network { return r.net }

// SetConfig applies a reloaded lab config (the image map) and the node's
// allocatable (what resourceFieldRef limits default to); running containers
// are not touched.
func (r *Runtime) SetConfig(cfg labconfig.Config, allocatable corev1.ResourceList) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cfg = cfg
	if allocatable != nil {
		r.allocatable = allocatable
	}
}

func (r *Runtime) config() (labconfig.Config, corev1.ResourceList) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cfg, r.allocatable
}

func podKey(ns, name string) string { return ns + "/" + name }

// NotifyPods registers the status callback (virtual-kubelet's PodNotifier).
func (r *Runtime) NotifyPods(_ context.Context, cb func(*corev1.Pod)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notify = cb
}

func (r *Runtime) callback() func(*corev1.Pod) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.notify
}

// CreatePod starts a pod: its network, init containers, then containers.
func (r *Runtime) CreatePod(_ context.Context, pod *corev1.Pod) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := podKey(pod.Namespace, pod.Name)
	if old, ok := r.pods[key]; ok {
		if old.uid() == pod.UID {
			return nil
		}
		return fmt.Errorf("pod %s: an earlier pod of that name (uid %s) is still terminating", key, old.uid())
	}
	var ip netip.Addr
	if pod.Spec.HostNetwork {
		ip = netip.MustParseAddr(r.hostIP)
	} else {
		var err error
		if ip, err = PickPodIP(r.podCIDR, r.ips); err != nil {
			return errdefs.AsInvalidInput(fmt.Errorf("node %s: %w", r.node, err))
		}
		r.ips[ip] = true
	}
	p := newPodRunner(r, pod.DeepCopy(), ip, nil)
	r.pods[key] = p
	r.runners.Add(1)
	go func() { defer r.runners.Done(); p.run() }()
	return nil
}

// UpdatePod records the pod's new metadata and spec; the lab, like a
// kubelet for most fields, does not restart containers for it.
func (r *Runtime) UpdatePod(_ context.Context, pod *corev1.Pod) error {
	p := r.get(pod.Namespace, pod.Name)
	if p == nil {
		return errdefs.NotFoundf("pod %s/%s is not running on node %s", pod.Namespace, pod.Name, r.node)
	}
	p.update(pod.DeepCopy())
	return nil
}

// DeletePod starts the pod's graceful termination (preStop hooks, SIGTERM,
// grace period, SIGKILL) and returns; the terminal status is notified when
// every container has stopped.
func (r *Runtime) DeletePod(_ context.Context, pod *corev1.Pod) error {
	p := r.get(pod.Namespace, pod.Name)
	if p == nil || (pod.UID != "" && p.uid() != pod.UID) {
		return errdefs.NotFoundf("pod %s/%s is not running on node %s", pod.Namespace, pod.Name, r.node)
	}
	grace := int64(30)
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		grace = *pod.Spec.TerminationGracePeriodSeconds
	}
	if pod.DeletionGracePeriodSeconds != nil {
		grace = *pod.DeletionGracePeriodSeconds
	}
	deleted := pod.DeletionTimestamp != nil
	go func() {
		p.terminate(time.Duration(grace) * time.Second)
		if deleted && r.finalize != nil {
			if err := r.finalize(r.ctx, pod.Namespace, pod.Name, pod.UID); err != nil {
				r.log.Warn("final pod delete", "pod", p.key, "err", err)
			}
		}
	}()
	return nil
}

// GetPod returns the pod as the runtime knows it, with its current status.
func (r *Runtime) GetPod(_ context.Context, namespace, name string) (*corev1.Pod, error) {
	p := r.get(namespace, name)
	if p == nil {
		return nil, errdefs.NotFoundf("pod %s/%s is not on node %s", namespace, name, r.node)
	}
	return p.snapshot(), nil
}

// GetPodStatus returns the pod's current status.
func (r *Runtime) GetPodStatus(ctx context.Context, namespace, name string) (*corev1.PodStatus, error) {
	pod, err := r.GetPod(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	return &pod.Status, nil
}

// GetPods returns every pod the runtime runs.
func (r *Runtime) GetPods(context.Context) ([]*corev1.Pod, error) {
	r.mu.Lock()
	ps := make([]*podRunner, 0, len(r.pods))
	for _, p := range r.pods {
		ps = append(ps, p)
	}
	r.mu.Unlock()
	out := make([]*corev1.Pod, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.snapshot())
	}
	return out, nil
}

func (r *Runtime) get(ns, name string) *podRunner {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pods[podKey(ns, name)]
}

// forget drops a pod that finished terminating.
func (r *Runtime) forget(p *podRunner) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pods[p.key] == p {
		delete(r.pods, p.key)
		close(p.gone)
	}
	if !p.hostNetwork() {
		delete(r.ips, p.ip)
	}
}

// Recover re-adopts the pods persisted under <lab dir>/pods by an earlier
// agent of this node: containers whose processes still run are adopted,
// the others are restarted under the pod's restart policy. current returns
// the pod as the API has it now (nil when it is gone); persisted pods that
// are gone or were replaced (another UID) are stopped. An adopted
// container keeps the readiness the API shows until its probe says otherwise.
func (r *Runtime) Recover(ctx context.Context, current func(ns, name string) (*corev1.Pod, error)) error {
	states, errs := readStates(r.podsDir)
	for _, err := range errs {
		r.log.Warn("pod state", "err", err)
	}
	for dir, s := range states {
		if s.Pod.Spec.NodeName != r.node {
			continue
		}
		ip, err := netip.ParseAddr(s.IP)
		if err != nil {
			r.log.Warn("pod state has no valid IP, ignored", "dir", dir)
			continue
		}
		apiPod, err := current(s.Pod.Namespace, s.Pod.Name)
		if err != nil {
			return fmt.Errorf("recover pods: %w", err)
		}
		// A pod that is gone, replaced, or already reported finished is not
		// run again: its leftovers are stopped.
		ok := apiPod != nil && apiPod.UID == s.Pod.UID &&
			apiPod.Status.Phase != corev1.PodSucceeded && apiPod.Status.Phase != corev1.PodFailed
		r.mu.Lock()
		p := newPodRunner(r, s.Pod, ip, s)
		if ok {
			p.seedReadiness(apiPod.Status.ContainerStatuses)
		}
		r.pods[p.key] = p
		if !s.Pod.Spec.HostNetwork {
			r.ips[ip] = true
		}
		r.mu.Unlock()
		if !ok {
			r.log.Info("pod gone from the API or finished: stopping its leftovers", "pod", p.key)
			p.stopAdopted()
			continue
		}
		r.log.Info("re-adopting pod", "pod", p.key)
		r.runners.Add(1)
		go func() { defer r.runners.Done(); p.run() }()
	}
	return nil
}

// Drain terminates every pod gracefully (used when the agent is told to
// drain on exit) and waits until they stopped or ctx ends.
func (r *Runtime) Drain(ctx context.Context) {
	r.mu.Lock()
	ps := make([]*podRunner, 0, len(r.pods))
	for _, p := range r.pods {
		ps = append(ps, p)
	}
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			grace := int64(30)
			if g := p.snapshot().Spec.TerminationGracePeriodSeconds; g != nil {
				grace = *g
			}
			p.terminate(time.Duration(grace) * time.Second)
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// Wait blocks until every pod supervisor has returned (after the runtime's
// context ended).
func (r *Runtime) Wait() { r.runners.Wait() }

// baseEnv is what every container process gets besides its own env.
func (r *Runtime) baseEnv(pod *corev1.Pod) []string {
	path := os.Getenv("PATH")
	if path == "" {
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	}
	host := pod.Spec.Hostname
	if host == "" {
		host = pod.Name
	}
	env := []string{"PATH=" + path, "HOME=/root", "HOSTNAME=" + host, r.marker}
	// Like a kubelet, hand every container the API server's address (also
	// with enableServiceLinks: false): the lab's pod-facing one, since no
	// kube-proxy makes the `kubernetes` Service reachable.
	r.mu.Lock()
	cfg := r.cfg
	r.mu.Unlock()
	if host, port, err := kube.PodAPIAddress(cfg); err == nil {
		env = append(env, APIServerEnv(host, port)...)
	}
	return env
}

// APIServerEnv is what a kubelet tells every container about the API
// server: KUBERNETES_SERVICE_HOST/PORT (what rest.InClusterConfig reads) and
// the docker-link style KUBERNETES_PORT_* variables.
func APIServerEnv(host, port string) []string {
	addr := "tcp://" + net.JoinHostPort(host, port)
	return []string{
		"KUBERNETES_SERVICE_HOST=" + host, "KUBERNETES_SERVICE_PORT=" + port, "KUBERNETES_SERVICE_PORT_HTTPS=" + port,
		"KUBERNETES_PORT=" + addr, "KUBERNETES_PORT_" + port + "_TCP=" + addr,
		"KUBERNETES_PORT_" + port + "_TCP_PROTO=tcp", "KUBERNETES_PORT_" + port + "_TCP_PORT=" + port,
		"KUBERNETES_PORT_" + port + "_TCP_ADDR=" + host,
	}
}

func (r *Runtime) podDir(pod *corev1.Pod) string { return filepath.Join(r.podsDir, PodDirName(pod)) }

// killStray stops a process identity (adopted leftovers).
func killStray(id proc.ID, grace time.Duration) { proc.StopID(id, grace, nil) }
