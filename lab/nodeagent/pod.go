package nodeagent

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/switchyard/switchyard/lab/proc"
)

// podRunner runs one pod: network namespace, init containers in order, then
// one supervisor per container; it owns the pod's status.
type podRunner struct {
	rt  *Runtime
	key string
	dir string
	ip  netip.Addr

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // closed when run returns
	dirty  chan struct{}
	gone   chan struct{} // closed when the runtime forgets the pod

	adopted *podState
	tokens  TokenRequester // the runtime's, with this pod's token cache

	volMu sync.Mutex // one writer of the pod's volume directories at a time

	// Immutable in a pod's spec, so readable without the lock.
	uidStr   string
	name, ns string
	policy   corev1.RestartPolicy
	hostNet  bool

	mu          sync.Mutex
	pod         *corev1.Pod
	startTime   metav1.Time
	sandbox     bool
	initDone    bool
	initFailed  bool
	inits, ctrs []*ctr
	terminating bool
	finished    bool
	conds       map[corev1.PodConditionType]corev1.PodCondition
	termOnce    sync.Once
	wasReady    map[string]bool // API readiness of containers at re-adoption
}

// ctr is one container's runtime state; fields are guarded by podRunner.mu.
type ctr struct {
	spec     corev1.Container
	init     bool
	state    corev1.ContainerState
	last     corev1.ContainerState
	restarts int32
	runs     int
	ready    bool
	started  bool
	proc     *proc.Process
	backoff  Backoff
	done     bool // init container completed
}

func (c *ctr) stateKey() string {
	if c.init {
		return "init:" + c.spec.Name
	}
	return c.spec.Name
}

func newPodRunner(rt *Runtime, pod *corev1.Pod, ip netip.Addr, adopted *podState) *podRunner {
	ctx, cancel := context.WithCancel(rt.ctx)
	p := &podRunner{
		rt: rt, key: podKey(pod.Namespace, pod.Name), dir: rt.podDir(pod), ip: ip,
		ctx: ctx, cancel: cancel, done: make(chan struct{}), dirty: make(chan struct{}, 1), gone: make(chan struct{}),
		adopted: adopted, pod: pod, startTime: metav1.Now(),
		uidStr: string(pod.UID), name: pod.Name, ns: pod.Namespace, policy: pod.Spec.RestartPolicy, hostNet: pod.Spec.HostNetwork,
		conds:  map[corev1.PodConditionType]corev1.PodCondition{},
		tokens: newTokenCache(rt.tokens, time.Now),
	}
	if adopted != nil {
		p.startTime = metav1.NewTime(adopted.StartTime)
		p.initDone = adopted.InitDone
	}
	for _, c := range pod.Spec.InitContainers {
		p.inits = append(p.inits, &ctr{spec: c, init: true, backoff: NewBackoff(),
			state: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "PodInitializing"}}})
	}
	for _, c := range pod.Spec.Containers {
		reason := "ContainerCreating"
		if len(pod.Spec.InitContainers) > 0 {
			reason = "PodInitializing"
		}
		p.ctrs = append(p.ctrs, &ctr{spec: c, backoff: NewBackoff(),
			state: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}})
	}
	if adopted != nil {
		for _, c := range append(append([]*ctr{}, p.inits...), p.ctrs...) {
			if s, ok := adopted.Containers[c.stateKey()]; ok {
				c.restarts = s.Restarts
				c.done = s.Done
				if s.Done {
					c.state = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed", StartedAt: metav1.NewTime(s.StartedAt)}}
				}
			}
		}
	}
	go p.notifier()
	return p
}

func (p *podRunner) uid() types.UID { return types.UID(p.uidStr) }

func (p *podRunner) hostNetwork() bool { return p.hostNet }

func (p *podRunner) update(pod *corev1.Pod) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pod = pod
	p.persistLocked()
}

// wrap is the argv prefix of a container's probes and hooks: enter the
// pod's network namespace, then become the lab's task user (when run as
// root). They do not see the container's volumes (wrapMounts).
func (p *podRunner) wrap() []string { return p.wrapMounts(nil) }

// wrapMounts is the argv prefix of a container: enter the pod's network
// namespace, mount the container's volumes in a mount namespace of its own
// (MountExecArgv), then become the lab's task user (when run as root).
func (p *podRunner) wrapMounts(mounts []Mount) []string {
	var w []string
	if !p.hostNetwork() {
		w = p.rt.net.Wrap(p.uidStr)
	}
	if len(mounts) > 0 {
		w = append(w, MountExecArgv(p.rt.self, mounts)...)
	}
	if p.rt.user != nil {
		// After entering the network namespace, which needs root.
		w = append(w, p.rt.user.Setpriv()...)
	}
	return w
}

func (p *podRunner) event(typ, reason, msgFmt string, args ...any) {
	p.mu.Lock()
	pod := p.pod
	p.mu.Unlock()
	p.rt.recorder.Eventf(pod, typ, reason, msgFmt, args...)
}

// markDirty schedules a status notification (coalesced).
func (p *podRunner) markDirty() {
	select {
	case p.dirty <- struct{}{}:
	default:
	}
}

func (p *podRunner) notifier() {
	for {
		select {
		case <-p.rt.ctx.Done():
			return
		case <-p.gone:
			return
		case <-p.dirty:
			p.rt.callback()(p.snapshot())
		}
	}
}

// sleep waits d or until the pod's context ends (false).
func (p *podRunner) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-p.ctx.Done():
		return false
	}
}

// run brings the pod up and supervises it until the pod completes or its
// context ends.
func (p *podRunner) run() {
	defer close(p.done)
	uid := p.uidStr
	p.persist()
	p.markDirty()
	if !p.hostNetwork() && !(p.adopted != nil && p.rt.net.HasNetns(uid)) {
		for {
			err := p.rt.net.SetupPod(p.ctx, uid, p.ip)
			if err == nil {
				break
			}
			if p.ctx.Err() != nil {
				return
			}
			p.rt.log.Error("pod sandbox", "pod", p.key, "err", err)
			p.event(corev1.EventTypeWarning, "FailedCreatePodSandBox", "Failed to create pod sandbox: %v", err)
			if !p.sleep(p.rt.retry) {
				return
			}
		}
	}
	p.mu.Lock()
	p.sandbox = true
	p.mu.Unlock()
	p.markDirty()

	if !p.initDone {
		for _, c := range p.inits {
			if c.done {
				continue
			}
			if !p.runInit(c) {
				return
			}
		}
		p.mu.Lock()
		p.initDone = true
		p.persistLocked()
		p.mu.Unlock()
		p.markDirty()
	}
	refresh, stopRefresh := context.WithCancel(p.ctx)
	refreshed := make(chan struct{})
	go func() { defer close(refreshed); p.refreshVolumes(refresh) }()
	var wg sync.WaitGroup
	for _, c := range p.ctrs {
		wg.Add(1)
		go func() { defer wg.Done(); p.supervise(c) }()
	}
	wg.Wait()
	stopRefresh()
	<-refreshed
	if p.ctx.Err() == nil && !p.hostNetwork() {
		// Every container finished for good: the pod completed.
		_ = p.rt.net.TeardownPod(context.WithoutCancel(p.ctx), uid)
	}
}

// runInit runs one init container to success, restarting it on failure
// (unless restartPolicy is Never). It returns false when the pod cannot go on.
func (p *podRunner) runInit(c *ctr) bool {
	for {
		code, ok := p.runOnce(c)
		if !ok {
			return false
		}
		if code == 0 {
			p.mu.Lock()
			c.done = true
			p.persistLocked()
			p.mu.Unlock()
			return true
		}
		if p.policy == corev1.RestartPolicyNever {
			p.mu.Lock()
			p.initFailed = true
			p.mu.Unlock()
			p.markDirty()
			return false
		}
		if !p.backoffWait(c) {
			return false
		}
	}
}

// supervise runs a container and restarts it under the pod's restart policy.
func (p *podRunner) supervise(c *ctr) {
	for {
		code, ok := p.runOnce(c)
		if !ok || !ShouldRestart(p.policy, code) {
			return
		}
		if !p.backoffWait(c) {
			return
		}
	}
}

// backoffWait holds a restart in CrashLoopBackOff as long as the backoff says.
func (p *podRunner) backoffWait(c *ctr) bool {
	now := time.Now()
	wait := c.backoff.Wait(now)
	if wait > 0 {
		p.mu.Lock()
		c.last = c.state
		c.state = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
			Reason:  "CrashLoopBackOff",
			Message: "back-off " + c.backoff.Current(now).String() + " restarting failed container=" + c.spec.Name + " pod=" + p.name + "_" + p.ns + "(" + p.uidStr + ")",
		}}
		p.mu.Unlock()
		p.markDirty()
		p.event(corev1.EventTypeWarning, "BackOff", "Back-off restarting failed container %s in pod %s", c.spec.Name, p.name)
		if !p.sleep(wait) {
			return false
		}
	}
	c.backoff.Restarted(time.Now())
	return true
}

// persist writes the pod's state file (for re-adoption after a restart).
func (p *podRunner) persist() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.persistLocked()
}

func (p *podRunner) persistLocked() {
	if p.finished {
		return
	}
	s := &podState{Pod: p.pod, IP: p.ip.String(), StartTime: p.startTime.Time, InitDone: p.initDone, Containers: map[string]containerState{}}
	for _, c := range append(append([]*ctr{}, p.inits...), p.ctrs...) {
		cs := containerState{Restarts: c.restarts, Done: c.done}
		if c.proc != nil {
			cs.Proc = c.proc.ID()
		} else if a, ok := p.adopted.containerOK(c.stateKey()); ok && c.runs == 0 {
			// Not looked at yet since the agent restarted: keep what was known.
			cs.Proc, cs.StartedAt = a.Proc, a.StartedAt
		}
		if c.state.Running != nil {
			cs.StartedAt = c.state.Running.StartedAt.Time
		} else if c.state.Terminated != nil {
			cs.StartedAt = c.state.Terminated.StartedAt.Time
		}
		s.Containers[c.stateKey()] = cs
	}
	if err := writeState(p.dir, s); err != nil {
		p.rt.log.Error("persist pod state", "pod", p.key, "err", err)
	}
}

// terminate stops the pod: preStop hooks, SIGTERM, grace, SIGKILL; then
// tears down its network and reports the terminal status.
func (p *podRunner) terminate(grace time.Duration) {
	p.termOnce.Do(func() {
		p.mu.Lock()
		p.terminating = true
		p.mu.Unlock()
		p.markDirty()
		p.cancel()
		<-p.done
		deadline := time.Now().Add(grace)
		var wg sync.WaitGroup
		for _, c := range append(append([]*ctr{}, p.inits...), p.ctrs...) {
			p.mu.Lock()
			pr := c.proc
			running := c.state.Running != nil
			p.mu.Unlock()
			if pr == nil || !running {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				p.stopContainer(c, pr, deadline, "Stopping container %s")
			}()
		}
		wg.Wait()
		if !p.hostNetwork() {
			if err := p.rt.net.TeardownPod(context.Background(), p.uidStr); err != nil {
				p.rt.log.Error("pod network teardown", "pod", p.key, "err", err)
			}
		}
		p.mu.Lock()
		p.finished = true
		for _, c := range append(append([]*ctr{}, p.inits...), p.ctrs...) {
			if c.state.Terminated == nil {
				if c.state.Waiting != nil && c.last.Terminated != nil {
					c.state = c.last
				} else {
					c.state = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "ContainerStatusUnknown", Message: "The container was not running when the pod was terminated"}}
				}
			}
			c.ready = false
		}
		p.mu.Unlock()
		_ = os.Remove(filepath.Join(p.dir, "state.json"))
		p.removeVolumes()
		p.rt.callback()(p.snapshot())
		p.rt.forget(p)
	})
}

// stopAdopted kills the leftovers of a persisted pod that no longer exists.
func (p *podRunner) stopAdopted() {
	defer p.cancel()
	for _, cs := range p.adopted.Containers {
		if cs.Proc.PID > 0 {
			killStray(cs.Proc, 5*time.Second)
		}
	}
	if !p.hostNetwork() {
		_ = p.rt.net.TeardownPod(context.Background(), p.uidStr)
	}
	_ = os.Remove(filepath.Join(p.dir, "state.json"))
	p.removeVolumes()
	p.mu.Lock()
	p.finished = true
	p.mu.Unlock()
	p.rt.forget(p)
}

// seedReadiness remembers which containers the API shows ready, so that a
// re-adopted container does not flap to unready while its probe restarts.
func (p *podRunner) seedReadiness(st []corev1.ContainerStatus) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.wasReady = map[string]bool{}
	for _, s := range st {
		p.wasReady[s.Name] = s.Ready
	}
}
