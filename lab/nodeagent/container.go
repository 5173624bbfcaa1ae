package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/switchyard/switchyard/lab/proc"
)

// launch is everything needed to start a container process.
type launch struct {
	spec proc.Spec
	env  []string
}

// prepare resolves image, env, argv and working dir. A non-nil error comes
// with the waiting reason to report.
func (p *podRunner) prepare(c *ctr) (launch, string, error) {
	cfg, _ := p.rt.config()
	img, err := LookupImage(cfg.Kubernetes.Images, c.spec.Image)
	if err != nil {
		return launch{}, "ImageNotMapped", err
	}
	pe := p.podEnv()
	pod := pe.Pod
	vars, err := ResolveEnv(p.ctx, pe, &c.spec, p.rt.lookup)
	if err != nil {
		return launch{}, "CreateContainerConfigError", err
	}
	envMap := map[string]string{}
	env := p.rt.baseEnv(pod)
	for _, v := range vars {
		envMap[v.Name] = v.Value
		env = append(env, v.Name+"="+v.Value)
	}
	argv, err := Argv(img, c.spec.Command, c.spec.Args, envMap, p.rt.self)
	if err != nil {
		return launch{}, "CreateContainerError", err
	}
	dir := filepath.Join(p.dir, WorkDirName)
	if c.spec.WorkingDir != "" {
		if st, err := os.Stat(c.spec.WorkingDir); err != nil || !st.IsDir() {
			return launch{}, "CreateContainerError", fmt.Errorf("workingDir %s does not exist on the lab machine (lab containers run local programs)", c.spec.WorkingDir)
		}
		dir = c.spec.WorkingDir
	}
	if err := p.makeWorkDir(); err != nil {
		return launch{}, "CreateContainerError", err
	}
	mounts, err := p.volumes(&c.spec, pe)
	if err != nil {
		if errors.Is(err, ErrConfig) {
			return launch{}, "CreateContainerConfigError", err
		}
		return launch{}, "CreateContainerError", err
	}
	return launch{
		spec: proc.Spec{Argv: argv, Env: env, Dir: dir, LogPath: filepath.Join(p.dir, c.spec.Name+".log"), Wrap: p.wrapMounts(mounts)},
		env:  env,
	}, "", nil
}

// podEnv is what env and volumes of the pod's containers are computed from.
func (p *podRunner) podEnv() PodEnv {
	_, alloc := p.rt.config()
	p.mu.Lock()
	pod := p.pod
	p.mu.Unlock()
	return PodEnv{Pod: pod, PodIP: p.ip.String(), HostIP: p.rt.hostIP, NodeAllocatable: alloc}
}

// volumeDir is the host directory of the pod's volume name.
func (p *podRunner) volumeDir(name string) string {
	return filepath.Join(p.dir, VolumesDirName, name)
}

// syncVolume computes volume v's content and writes it to its directory;
// it returns whether the volume is the containers' to write (emptyDir).
func (p *podRunner) syncVolume(ctx context.Context, pe PodEnv, v corev1.Volume) (writable bool, err error) {
	if err := checkRelPath(v.Name); err != nil || strings.Contains(v.Name, "/") {
		return false, fmt.Errorf("%w: volume name %q", ErrConfig, v.Name)
	}
	vc, err := VolumeContents(ctx, pe, v, p.rt.lookup, p.tokens)
	if err != nil {
		return false, err
	}
	p.volMu.Lock()
	defer p.volMu.Unlock()
	if err := writeVolume(p.volumeDir(v.Name), vc, p.rt.user); err != nil {
		return false, fmt.Errorf("volume %s: %w", v.Name, err)
	}
	return vc.Writable, nil
}

// volumes writes the volumes container c mounts under the pod's directory
// (VolumesDirName), makes sure their mount points exist, and returns the
// mounts (see volumes.go for what is supported).
func (p *podRunner) volumes(c *corev1.Container, pe PodEnv) ([]Mount, error) {
	if len(c.VolumeMounts) == 0 {
		return nil, nil
	}
	if err := os.MkdirAll(filepath.Join(p.dir, VolumesDirName), 0o700); err != nil {
		return nil, fmt.Errorf("pod volumes: %w", err)
	}
	byName := map[string]corev1.Volume{}
	for _, v := range pe.Pod.Spec.Volumes {
		byName[v.Name] = v
	}
	writable := map[string]bool{}
	for _, m := range c.VolumeMounts {
		v, ok := byName[m.Name]
		if !ok {
			continue // ContainerMounts reports it
		}
		w, err := p.syncVolume(p.ctx, pe, v)
		if err != nil {
			return nil, err
		}
		writable[v.Name] = w
	}
	mounts, err := ContainerMounts(c, pe.Pod.Spec.Volumes, p.volumeDir, func(n string) bool { return writable[n] })
	if err != nil {
		return nil, err
	}
	for _, m := range mounts {
		if err := EnsureMountPoint(p.rt.ledger, m.Target); err != nil {
			return nil, fmt.Errorf("volumeMount %s: %w", m.Target, err)
		}
	}
	return mounts, nil
}

// refreshVolumes rewrites, every resync until ctx ends, the volumes that
// the pod's containers mount and that were written already (the container
// started), as the kubelet does: a changed Secret or ConfigMap reaches the
// running containers (through their directory mounts; like the kubelet's,
// subPath mounts are not supported), and a ServiceAccount token is renewed
// before it expires. A volume that cannot be computed now keeps its last
// content (and the error is logged). emptyDir volumes are left alone.
func (p *podRunner) refreshVolumes(ctx context.Context) {
	wait.UntilWithContext(ctx, func(ctx context.Context) {
		pe := p.podEnv()
		mounted := map[string]bool{}
		for _, c := range pe.Pod.Spec.Containers {
			for _, m := range c.VolumeMounts {
				mounted[m.Name] = true
			}
		}
		for _, v := range pe.Pod.Spec.Volumes {
			if !mounted[v.Name] || v.EmptyDir != nil {
				continue
			}
			if _, err := os.Lstat(p.volumeDir(v.Name)); err != nil {
				continue // no container mounted it yet
			}
			if _, err := p.syncVolume(ctx, pe, v); err != nil && ctx.Err() == nil {
				p.rt.log.Error("refresh pod volume", "pod", p.key, "volume", v.Name, "err", err)
			}
		}
	}, p.rt.resync)
}

// removeVolumes deletes the pod's volume directories (its containers have
// stopped: their mounts went with their mount namespaces).
func (p *podRunner) removeVolumes() {
	if err := os.RemoveAll(filepath.Join(p.dir, VolumesDirName)); err != nil {
		p.rt.log.Error("remove pod volumes", "pod", p.key, "err", err)
	}
}

// WorkDirName is the directory inside a pod's directory where its
// containers start (unless they set workingDir) and may write, as in their
// root filesystem; the containers of a pod share it. The pod's directory
// itself (the agent's state, the container logs) is not theirs.
const WorkDirName = "rootfs"

// makeWorkDir creates the pod's directory (searchable, not listable, by
// others) and its work directory (the containers' user's only).
func (p *podRunner) makeWorkDir() error {
	if err := os.MkdirAll(p.dir, 0o711); err != nil {
		return fmt.Errorf("pod dir: %w", err)
	}
	work := filepath.Join(p.dir, WorkDirName)
	if err := os.MkdirAll(work, 0o700); err != nil {
		return fmt.Errorf("pod work dir: %w", err)
	}
	if u := p.rt.user; u != nil {
		if err := os.Chown(work, int(u.UID), int(u.GID)); err != nil {
			return fmt.Errorf("pod work dir: %w", err)
		}
	}
	return nil
}

// runOnce starts (or adopts) the container, runs its probes and waits for it
// to exit. It returns the exit code, or ok=false when the pod's context
// ended first (the process is then left to terminate or to a later agent).
func (p *podRunner) runOnce(c *ctr) (code int32, ok bool) {
	var pr *proc.Process
	var env []string
	if id, started := p.adoptable(c); id.PID > 0 {
		if a, err := proc.Adopt(id); err == nil {
			pr = a
			p.mu.Lock()
			c.proc = pr
			c.runs++
			c.state = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(started)}}
			c.started = c.spec.StartupProbe == nil
			c.ready = c.spec.ReadinessProbe == nil && c.spec.StartupProbe == nil
			if p.wasReady[c.spec.Name] {
				c.started, c.ready = true, true
			}
			p.persistLocked()
			p.mu.Unlock()
			p.markDirty()
			if l, _, err := p.prepare(c); err == nil {
				env = l.env
			}
		} else {
			// The process died while no agent watched it; count it as a
			// failed run so that the restart policy applies.
			p.mu.Lock()
			c.runs++
			c.state = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: 255, Reason: "Unknown", Message: "the process ended while the node agent was not running",
				StartedAt: metav1.NewTime(started), FinishedAt: metav1.Now()}}
			p.mu.Unlock()
			p.markDirty()
			return 255, true
		}
	}
	for pr == nil {
		l, reason, err := p.prepare(c)
		if err != nil {
			p.mu.Lock()
			changed := c.state.Waiting == nil || c.state.Waiting.Message != err.Error()
			if c.state.Terminated != nil {
				c.last = c.state
			}
			c.state = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: err.Error()}}
			p.mu.Unlock()
			if changed {
				p.markDirty()
				if reason == "ImageNotMapped" {
					p.event(corev1.EventTypeWarning, "Failed", "Failed to pull image %q: %v", c.spec.Image, err)
				} else {
					p.event(corev1.EventTypeWarning, "Failed", "Error: %v", err)
				}
			}
			if !p.sleep(p.rt.retry) {
				return 0, false
			}
			continue
		}
		if p.ctx.Err() != nil {
			return 0, false
		}
		if c.runs == 0 {
			p.event(corev1.EventTypeNormal, "Pulled", "Container image %q is mapped to a local program by lab.yaml kubernetes.images", c.spec.Image)
		}
		started, err := proc.Start(l.spec)
		p.mu.Lock()
		if c.state.Terminated != nil {
			c.last = c.state
		}
		if c.runs > 0 {
			c.restarts++
		}
		c.runs++
		if err != nil {
			now := metav1.Now()
			c.state = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 128, Reason: "StartError", Message: err.Error(), StartedAt: now, FinishedAt: now}}
			p.mu.Unlock()
			p.markDirty()
			p.event(corev1.EventTypeWarning, "Failed", "Error: %v", err)
			return 128, true
		}
		pr, env = started, l.env
		c.proc = pr
		c.state = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}
		c.started = c.spec.StartupProbe == nil
		c.ready = c.spec.ReadinessProbe == nil && c.spec.StartupProbe == nil
		p.persistLocked()
		p.mu.Unlock()
		p.markDirty()
		p.event(corev1.EventTypeNormal, "Started", "Started container %s: %s", c.spec.Name, strings.Join(l.spec.Argv, " "))
	}
	pctx, stopProbes := context.WithCancel(p.ctx)
	var probes sync.WaitGroup
	if !c.init {
		probes.Add(1)
		go func() { defer probes.Done(); p.probe(pctx, c, pr, env) }()
	}
	select {
	case <-pr.Done():
	case <-p.ctx.Done():
		stopProbes()
		probes.Wait()
		return 0, false
	}
	stopProbes()
	probes.Wait()
	code = exitCode(pr.Exit())
	reason := "Completed"
	if code != 0 {
		reason = "Error"
	}
	p.mu.Lock()
	st := c.state.Running
	started := metav1.Now()
	if st != nil {
		started = st.StartedAt
	}
	c.state = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		ExitCode: code, Reason: reason, StartedAt: started, FinishedAt: metav1.Now(),
		ContainerID: containerID(pr), Message: pr.Exit().String(),
	}}
	c.ready = false
	p.persistLocked()
	p.mu.Unlock()
	p.markDirty()
	return code, true
}

// adoptable returns the persisted process of a container to re-adopt (once).
func (p *podRunner) adoptable(c *ctr) (proc.ID, time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.adopted == nil || c.runs > 0 || c.done {
		return proc.ID{}, time.Time{}
	}
	s, ok := p.adopted.Containers[c.stateKey()]
	if !ok {
		return proc.ID{}, time.Time{}
	}
	return s.Proc, s.StartedAt
}

func exitCode(e proc.Exit) int32 {
	switch {
	case e.Signal != 0:
		return 128 + int32(e.Signal)
	case e.Code < 0:
		return 255
	}
	return int32(e.Code)
}

func containerID(pr *proc.Process) string {
	return "switchyard://" + strconv.Itoa(pr.ID().PID) + "-" + strconv.FormatUint(pr.ID().StartTime, 10)
}

// probe runs the container's startup probe, then its liveness and readiness
// probes, until ctx ends; a failed startup or liveness probe kills the
// container (the supervisor then applies the restart policy).
func (p *podRunner) probe(ctx context.Context, c *ctr, pr *proc.Process, env []string) {
	s := c.spec
	p.mu.Lock()
	started, ready := c.started, c.ready
	p.mu.Unlock()
	if s.StartupProbe != nil && !started {
		if !p.probeLoop(ctx, c, pr, env, "Startup", s.StartupProbe, false) {
			return
		}
		p.mu.Lock()
		c.started = true
		c.ready = s.ReadinessProbe == nil
		p.mu.Unlock()
		p.markDirty()
	}
	var wg sync.WaitGroup
	if s.LivenessProbe != nil {
		wg.Add(1)
		go func() { defer wg.Done(); p.probeLoop(ctx, c, pr, env, "Liveness", s.LivenessProbe, true) }()
	}
	if s.ReadinessProbe != nil {
		wg.Add(1)
		go func() { defer wg.Done(); p.probeLoop(ctx, c, pr, env, "Readiness", s.ReadinessProbe, ready) }()
	}
	wg.Wait()
}

// probeLoop runs one probe on its schedule. Startup: returns true once it
// succeeded, kills the container after FailureThreshold failures. Liveness:
// kills the container when the result turns to failure. Readiness: updates
// the container's ready flag until ctx ends.
func (p *podRunner) probeLoop(ctx context.Context, c *ctr, pr *proc.Process, env []string, kind string, pb *corev1.Probe, initial bool) bool {
	t := TimingOf(pb)
	st := NewProbeState(t, initial)
	check, err := CheckFor(pb.ProbeHandler, &c.spec, p.ip.String(), env, p.wrap(), t.Timeout)
	check.Dir = filepath.Join(p.dir, WorkDirName)
	if err != nil {
		p.event(corev1.EventTypeWarning, "Unhealthy", "%s probe cannot run: %v", kind, err)
	}
	wait := t.InitialDelay
	for {
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return false
		case <-timer.C:
		}
		wait = t.Period
		perr := err
		if perr == nil {
			perr = p.rt.probe(ctx, check)
		}
		if ctx.Err() != nil {
			return false
		}
		if perr != nil {
			p.event(corev1.EventTypeWarning, "Unhealthy", "%s probe failed: %v", kind, perr)
		}
		res, changed := st.Record(perr == nil)
		switch kind {
		case "Startup":
			if res {
				return true
			}
			if st.Failures() >= t.FailureThreshold {
				p.killForProbe(c, pr, pb, "failed startup probe")
				return false
			}
		case "Liveness":
			if changed && !res {
				p.killForProbe(c, pr, pb, "failed liveness probe")
				return false
			}
		default:
			if changed {
				p.mu.Lock()
				c.ready = res
				p.mu.Unlock()
				p.markDirty()
			}
		}
	}
}

func (p *podRunner) killForProbe(c *ctr, pr *proc.Process, pb *corev1.Probe, why string) {
	grace := p.graceSeconds()
	if pb.TerminationGracePeriodSeconds != nil {
		grace = *pb.TerminationGracePeriodSeconds
	}
	p.event(corev1.EventTypeNormal, "Killing", "Container %s %s, will be restarted", c.spec.Name, why)
	pr.Stop(time.Duration(grace) * time.Second)
}

func (p *podRunner) graceSeconds() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if g := p.pod.Spec.TerminationGracePeriodSeconds; g != nil {
		return *g
	}
	return 30
}

// stopContainer runs the preStop hook (bounded by deadline), then SIGTERM
// and, after the remaining grace (at least 2s), SIGKILL.
func (p *podRunner) stopContainer(c *ctr, pr *proc.Process, deadline time.Time, msg string) {
	p.event(corev1.EventTypeNormal, "Killing", msg, c.spec.Name)
	if lc := c.spec.Lifecycle; lc != nil && lc.PreStop != nil {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		if err := p.runHook(ctx, c, *lc.PreStop); err != nil {
			p.event(corev1.EventTypeWarning, "FailedPreStopHook", "PreStopHook failed: %v", err)
		}
		cancel()
	}
	remaining := time.Until(deadline)
	if remaining < 2*time.Second {
		remaining = 2 * time.Second
	}
	pr.Stop(remaining)
	<-pr.Done()
	code := exitCode(pr.Exit())
	reason := "Completed"
	if code != 0 {
		reason = "Error"
	}
	p.mu.Lock()
	started := metav1.Now()
	if c.state.Running != nil {
		started = c.state.Running.StartedAt
	}
	c.state = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		ExitCode: code, Reason: reason, StartedAt: started, FinishedAt: metav1.Now(), ContainerID: containerID(pr), Message: pr.Exit().String()}}
	c.ready = false
	p.mu.Unlock()
}

// runHook runs an exec (inside the pod's namespace) or httpGet hook.
func (p *podRunner) runHook(ctx context.Context, c *ctr, h corev1.LifecycleHandler) error {
	if h.Sleep != nil {
		t := time.NewTimer(time.Duration(h.Sleep.Seconds) * time.Second)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		return nil
	}
	var env []string
	if l, _, err := p.prepare(c); err == nil {
		env = l.env
	}
	timeout := time.Until(deadlineOr(ctx, time.Now().Add(30*time.Second)))
	check, err := CheckFor(corev1.ProbeHandler{Exec: h.Exec, HTTPGet: h.HTTPGet, TCPSocket: h.TCPSocket}, &c.spec, p.ip.String(), env, p.wrap(), timeout)
	if err != nil {
		return err
	}
	check.Dir = filepath.Join(p.dir, WorkDirName)
	return p.rt.probe(ctx, check)
}

func deadlineOr(ctx context.Context, d time.Time) time.Time {
	if dl, ok := ctx.Deadline(); ok {
		return dl
	}
	return d
}

// snapshot returns a copy of the pod with its current status.
func (p *podRunner) snapshot() *corev1.Pod {
	p.mu.Lock()
	defer p.mu.Unlock()
	pod := p.pod.DeepCopy()
	pod.Status = p.statusLocked()
	return pod
}

func (p *podRunner) statusLocked() corev1.PodStatus {
	st := corev1.PodStatus{
		HostIP:    p.rt.hostIP,
		HostIPs:   []corev1.HostIP{{IP: p.rt.hostIP}},
		StartTime: &p.startTime,
		QOSClass:  p.pod.Status.QOSClass,
	}
	if p.sandbox || p.finished {
		st.PodIP = p.ip.String()
		st.PodIPs = []corev1.PodIP{{IP: st.PodIP}}
	}
	cs := func(c *ctr) corev1.ContainerStatus {
		started := c.started && c.state.Running != nil
		s := corev1.ContainerStatus{
			Name: c.spec.Name, Image: c.spec.Image, ImageID: "switchyard-lab://" + c.spec.Image,
			State: *c.state.DeepCopy(), LastTerminationState: *c.last.DeepCopy(),
			Ready: c.ready && c.state.Running != nil && !p.terminating, RestartCount: c.restarts, Started: &started,
		}
		if c.proc != nil {
			s.ContainerID = containerID(c.proc)
		}
		return s
	}
	for _, c := range p.inits {
		st.InitContainerStatuses = append(st.InitContainerStatuses, cs(c))
	}
	allReady := len(p.ctrs) > 0
	for _, c := range p.ctrs {
		s := cs(c)
		allReady = allReady && s.Ready
		st.ContainerStatuses = append(st.ContainerStatuses, s)
	}
	if p.finished {
		st.Phase = corev1.PodSucceeded
		for _, s := range st.ContainerStatuses {
			if s.State.Terminated == nil || s.State.Terminated.ExitCode != 0 {
				st.Phase = corev1.PodFailed
			}
		}
	} else {
		st.Phase = PodPhase(p.policy, st.InitContainerStatuses, st.ContainerStatuses, p.initFailed)
	}
	initialized := p.initDone || len(p.inits) == 0
	ready := allReady && !p.finished && st.Phase == corev1.PodRunning
	p.setCond(corev1.PodScheduled, true, "")
	p.setCond(corev1.PodReadyToStartContainers, p.sandbox && !p.finished, "")
	p.setCond(corev1.PodInitialized, initialized, "ContainersNotInitialized")
	p.setCond(corev1.ContainersReady, ready, "ContainersNotReady")
	p.setCond(corev1.PodReady, ready, "ContainersNotReady")
	for _, t := range []corev1.PodConditionType{corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.PodReady, corev1.ContainersReady, corev1.PodScheduled} {
		st.Conditions = append(st.Conditions, p.conds[t])
	}
	return st
}

// setCond records a condition, keeping its transition time while unchanged.
func (p *podRunner) setCond(t corev1.PodConditionType, ok bool, reason string) {
	s := corev1.ConditionFalse
	if ok {
		s, reason = corev1.ConditionTrue, ""
	}
	if old, have := p.conds[t]; have && old.Status == s {
		return
	}
	p.conds[t] = corev1.PodCondition{Type: t, Status: s, Reason: reason, LastTransitionTime: metav1.Now()}
}
