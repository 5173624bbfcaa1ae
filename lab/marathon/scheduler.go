package marathon

import (
	"context"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/switchyard/switchyard/lab/labconfig"
	"github.com/switchyard/switchyard/lab/proc"
	"github.com/switchyard/switchyard/marathon"
)

// agent is one lab node seen as a Mesos agent.
type agent struct {
	ID       string // Mesos agent (slave) id: the node name
	Hostname string // the node's loopback address (what $HOST and task "host" carry)
	Node     labconfig.Node
	// Resources are what the node gives Mesos: its total minus its
	// kubernetesShare (the node agent gives Kubernetes exactly that share and
	// reserves the rest for "the Mesos side"), so the two never overlap.
	Resources labconfig.Resources
}

// mesosResources is a node's total minus its Kubernetes share; in wrapper
// mode (labconfig.NodeAgentsWrapper) the whole node, since the kubelet
// wrapper is a Marathon task that holds the share itself.
func mesosResources(cfg labconfig.Config, n labconfig.Node) labconfig.Resources {
	r := n.Resources
	if s := n.KubernetesShare; s != nil && !cfg.WrapperMode() {
		r.CPUs = max(0, r.CPUs-s.CPUs)
		r.Mem = max(0, r.Mem-s.Mem)
		r.Disk = max(0, r.Disk-s.Disk)
		r.GPUs = max(0, r.GPUs-s.GPUs)
	}
	return r
}

// kickNow asks the reconcile loop to run soon.
func (s *Server) kickNow() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// loop runs reconcile on every kick and at least every TickInterval.
func (s *Server) loop(ctx context.Context) {
	t := time.NewTicker(s.opts.TickInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.kick:
		}
		s.reconcile()
	}
}

// appMode says which action (if any) of which deployment drives the app.
func (s *Server) appMode(a *appState) (mode, *deploymentState) {
	for _, d := range s.deployments {
		if !contains(d.AffectedApps, a.ID) {
			continue
		}
		if d.CurrentStep < len(d.Steps) {
			for _, act := range d.Steps[d.CurrentStep].Actions {
				if act.App != a.ID {
					continue
				}
				switch act.Action {
				case actScale:
					return modeScale, d
				case actRestart:
					return modeRestart, d
				case actStop:
					return modeStop, d
				default:
					return modeHold, d
				}
			}
		}
		return modeHold, d
	}
	if a.Deleted {
		return modeStop, nil
	}
	return modeSteady, nil
}

// tasksOf lists the app's tasks sorted by id.
func (s *Server) tasksOf(appID string) []*taskState {
	var out []*taskState
	for _, t := range s.tasks {
		if t.AppID == appID {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// specFor is the parsed definition of the app at a version (the current one
// when the version is unknown).
func (s *Server) specFor(a *appState, version string) *appSpec {
	key := a.ID + "@" + version
	if sp, ok := s.specCache[key]; ok {
		return sp
	}
	d, ok := a.Versions[version]
	if !ok {
		return a.spec
	}
	sp, errs := parseSpec(d)
	if len(errs) > 0 || sp == nil {
		return a.spec
	}
	s.specCache[key] = sp
	return sp
}

// views builds the decision inputs for the app's tasks.
func (s *Server) views(a *appState, tasks []*taskState) []taskView {
	cur := formatTime(a.LastConfigChangeAt)
	out := make([]taskView, 0, len(tasks))
	for _, t := range tasks {
		sp := s.specFor(a, t.Version)
		out = append(out, taskView{
			ID:       t.ID,
			Current:  t.ConfigVersion == cur,
			Killing:  t.State == taskKilling,
			Running:  t.State == taskRunning,
			Healthy:  t.State == taskRunning && t.healthy(len(sp.HealthChecks)),
			Ready:    t.ready(len(sp.Readiness)),
			StagedAt: t.StagedAt,
		})
	}
	return out
}

// reconcile is one pass of the scheduler: for every app, decide and act;
// then advance deployments whose current step is done; then persist.
func (s *Server) reconcile() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	now := time.Now()
	done := map[string]bool{}
	for _, id := range slices.Sorted(maps.Keys(s.apps)) {
		a := s.apps[id]
		m, dep := s.appMode(a)
		tasks := s.tasksOf(a.ID)
		target := a.spec.Instances
		d := decide(m, target, strategy{a.spec.MinHealth, a.spec.MaxOver, a.spec.KillSelection}, s.views(a, tasks))
		if dep != nil {
			done[a.ID] = d.Done
		}
		for _, tid := range d.Kill {
			s.killTask(tid, "")
		}
		if d.Launch > 0 {
			s.launch(a, d.Launch, now)
		} else {
			a.queue = nil
		}
		if a.Deleted && dep == nil && len(tasks) == 0 {
			s.removeApp(a)
		}
	}
	s.advanceDeployments(done)
	s.flush()
}

// advanceDeployments moves each deployment past its finished steps.
func (s *Server) advanceDeployments(done map[string]bool) {
	var keep []*deploymentState
	for _, d := range s.deployments {
		finished := false
		evaluated := d.CurrentStep // the step this pass's decisions were made for
		for d.CurrentStep < len(d.Steps) {
			st := d.Steps[d.CurrentStep]
			all := true
			for _, act := range st.Actions {
				if act.Action == actStart {
					continue
				}
				if d.CurrentStep != evaluated || !done[act.App] {
					all = false
				}
			}
			if !all {
				break
			}
			for _, act := range st.Actions {
				if act.Action == actStop {
					if a := s.apps[act.App]; a != nil && a.Deleted {
						s.removeApp(a)
					}
				}
			}
			s.bus.publish(marathon.EventDeploymentStepSuccess, s.stepEvent(marathon.EventDeploymentStepSuccess, d, st))
			d.CurrentStep++
			s.dirty = true
			if d.CurrentStep < len(d.Steps) {
				s.bus.publish(marathon.EventDeploymentInfo, s.stepEvent(marathon.EventDeploymentInfo, d, d.Steps[d.CurrentStep]))
			}
		}
		if d.CurrentStep >= len(d.Steps) {
			finished = true
		}
		if finished {
			plan := s.planOf(d)
			s.bus.publish(marathon.EventDeploymentSuccess, marathon.DeploymentSuccessEvent{EventMeta: meta(marathon.EventDeploymentSuccess), ID: d.ID, Plan: &plan})
			if d.Group != "" {
				s.bus.publish(marathon.EventGroupChangeSuccess, marathon.GroupChangeEvent{EventMeta: meta(marathon.EventGroupChangeSuccess), GroupID: d.Group, Version: formatTime(d.Version)})
			}
			s.logf("deployment %s finished (%s)", d.ID, describeSteps(d.Steps))
			s.dirty = true
			continue
		}
		keep = append(keep, d)
	}
	s.deployments = keep
}

// removeApp forgets an app whose tasks are all gone.
func (s *Server) removeApp(a *appState) {
	delete(s.apps, a.ID)
	for k := range s.specCache {
		if len(k) > len(a.ID) && k[:len(a.ID)+1] == a.ID+"@" {
			delete(s.specCache, k)
		}
	}
	s.dirty = true
	s.bus.publish(marathon.EventAppTerminated, marathon.AppTerminatedEvent{EventMeta: meta(marathon.EventAppTerminated), AppID: a.ID})
}

// planOf renders a deployment as the plan carried by events.
func (s *Server) planOf(d *deploymentState) marathon.DeploymentPlan {
	p := marathon.DeploymentPlan{ID: d.ID, Version: formatTime(d.Version)}
	for _, st := range d.Steps {
		p.Steps = append(p.Steps, wireStep(st))
	}
	return p
}

func wireStep(st step) marathon.DeploymentStep {
	var ws marathon.DeploymentStep
	for _, a := range st.Actions {
		ws.Actions = append(ws.Actions, marathon.DeploymentAction{Action: a.Action, App: a.App})
	}
	return ws
}

// eventPlan is the deployment plan as Marathon puts it in deployment_info
// and deployment_step_* events: with the original and target group states
// (clients such as python-marathon require them).
type eventPlan struct {
	ID       string                    `json:"id"`
	Version  string                    `json:"version"`
	Steps    []marathon.DeploymentStep `json:"steps"`
	Original map[string]any            `json:"original"`
	Target   map[string]any            `json:"target"`
}

// stepEvent is the body of deployment_info and deployment_step_* events.
type stepEvent struct {
	marathon.EventMeta
	Plan        eventPlan               `json:"plan"`
	CurrentStep marathon.DeploymentStep `json:"currentStep"`
}

func (s *Server) stepEvent(typ string, d *deploymentState, st step) stepEvent {
	p := s.planOf(d)
	state := func(defs map[string]appDef) map[string]any {
		apps := []map[string]any{}
		for _, id := range slices.Sorted(maps.Keys(defs)) {
			a := map[string]any{}
			for k, v := range defs[id] {
				a[k] = v
			}
			apps = append(apps, a)
		}
		return map[string]any{"id": "/", "apps": apps, "groups": []any{}, "pods": []any{}, "dependencies": []string{}, "version": formatTime(d.Version)}
	}
	return stepEvent{
		EventMeta:   meta(typ),
		Plan:        eventPlan{ID: p.ID, Version: p.Version, Steps: p.Steps, Original: state(d.Original), Target: state(d.Target)},
		CurrentStep: wireStep(st),
	}
}

// launch starts up to n tasks of the app's current configuration, honouring
// the launch backoff and placement; what cannot launch waits in the queue.
func (s *Server) launch(a *appState, n int, now time.Time) {
	if a.queue == nil {
		a.queue = &queueInfo{Since: now, Reasons: map[string]int{}, LastOfferReason: map[string][]string{}}
	}
	if now.Before(a.DelayUntil) {
		return
	}
	for i := 0; i < n; i++ {
		res, reasons, ok := s.placeTask(a)
		a.queue.Processed += len(s.agents)
		if !ok {
			a.queue.Unused += len(s.agents)
			a.queue.LastUnusedAt = now
			a.queue.Reasons = reasons.counts
			a.queue.LastOfferReason = reasons.perAgent
			return
		}
		a.queue.LastUsedAt = now
		s.startTask(a, res)
	}
	a.queue = nil
}

// startTask creates the task record and starts its process.
func (s *Server) startTask(a *appState, pl placed) {
	sp := a.spec
	ag := s.agents[pl.agent]
	t := &taskState{
		ID:            newTaskID(a.ID),
		AppID:         a.ID,
		Version:       formatTime(a.Version),
		ConfigVersion: formatTime(a.LastConfigChangeAt),
		AgentID:       ag.ID,
		Host:          ag.Hostname,
		Ports:         pl.ports,
		ServicePorts:  sp.servicePorts(),
		State:         taskStaging,
		StagedAt:      time.Now().UTC(),
		CPUs:          sp.CPUs,
		Mem:           sp.Mem,
		Disk:          sp.Disk,
		GPUs:          sp.GPUs,
		KillGrace:     time.Duration(sp.KillGrace * float64(time.Second)),
		Health:        make([]healthState, len(sp.HealthChecks)),
	}
	t.Sandbox = filepath.Join(s.sandboxes, t.ID)
	s.tasks[t.ID] = t
	s.dirty = true
	s.publishStatus(t, "")
	spec, err := s.processSpec(a, sp, t, ag)
	var p *proc.Process
	if err == nil {
		p, err = proc.Start(spec)
	}
	if err != nil {
		s.logf("task %s of %s failed to start: %v", t.ID, a.ID, err)
		s.taskEnded(t, evStartFailed, err.Error())
		return
	}
	t.Proc = p.ID()
	s.procs[t.ID] = p
	next, _, _ := transition(t.State, evStarted)
	t.State = next
	t.StartedAt = time.Now().UTC()
	s.publishStatus(t, "")
	s.watch(t.ID, p)
	s.startChecks(a, t)
}

// watch waits for the task's process to end.
func (s *Server) watch(taskID string, p *proc.Process) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		select {
		case <-p.Done():
		case <-s.ctx.Done():
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		t := s.tasks[taskID]
		if t == nil || s.closed {
			return
		}
		ex := p.Exit()
		ev := evExitedFailed
		switch {
		case ex.Code == 0 && ex.Signal == 0 && ex.Err == nil:
			ev = evExitedOK
		case ex.Code == -1 && ex.Signal == 0 && ex.Err == nil:
			ev = evVanished
		}
		msg := "Command " + ex.String()
		s.taskEnded(t, ev, msg)
		s.flush()
		s.kickNow()
	}()
}

// taskEnded applies a terminal event to a task: status events, the app's
// lastTaskFailure and launch backoff, and removal from the task list.
func (s *Server) taskEnded(t *taskState, ev taskEvent, msg string) {
	next, failure, ok := transition(t.State, ev)
	if !ok {
		next = taskFailed
		failure = t.State != taskKilling
	}
	t.State = next
	s.publishStatus(t, msg)
	if a := s.apps[t.AppID]; a != nil && failure {
		now := time.Now()
		a.LastTaskFailure = &taskFailure{
			AppID: a.ID, Host: t.Host, Message: msg, State: next, TaskID: t.ID,
			Timestamp: formatTime(now), Version: t.Version, SlaveID: t.AgentID,
		}
		sp := a.spec
		a.Delay = nextDelay(a.Delay, sp.BackoffSeconds, sp.BackoffFactor, sp.MaxLaunchDelay)
		a.DelayUntil = now.Add(a.Delay)
		s.logf("task %s of %s: %s (%s); next launch in %s", t.ID, a.ID, next, msg, a.Delay)
	}
	if c := s.checkCancel[t.ID]; c != nil {
		c()
		delete(s.checkCancel, t.ID)
	}
	delete(s.procs, t.ID)
	delete(s.tasks, t.ID)
	s.dirty = true
}

// killTask asks a task to stop: SIGTERM, then SIGKILL after the app's
// taskKillGracePeriodSeconds. The watcher records the end.
func (s *Server) killTask(taskID, reason string) {
	t := s.tasks[taskID]
	if t == nil || t.State == taskKilling || terminal(t.State) {
		return
	}
	next, _, _ := transition(t.State, evKillRequested)
	t.State = next
	t.KillReason = reason
	s.dirty = true
	s.publishStatus(t, reason)
	if c := s.checkCancel[t.ID]; c != nil {
		c()
		delete(s.checkCancel, t.ID)
	}
	p := s.procs[t.ID]
	id, grace := t.Proc, t.KillGrace
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if p != nil {
			p.Stop(grace)
		} else {
			proc.StopID(id, grace, nil)
			// No watcher for a process we never had: record the end here.
			s.mu.Lock()
			if t := s.tasks[taskID]; t != nil && !s.closed {
				s.taskEnded(t, evExitedFailed, "killed")
				s.flush()
			}
			s.mu.Unlock()
			s.kickNow()
		}
	}()
}

// publishStatus emits status_update_event and instance_changed_event.
func (s *Server) publishStatus(t *taskState, msg string) {
	s.bus.publish(marathon.EventStatusUpdate, marathon.StatusUpdateEvent{
		EventMeta: meta(marathon.EventStatusUpdate), SlaveID: t.AgentID, TaskID: t.ID, TaskStatus: t.State,
		Message: msg, AppID: t.AppID, Host: t.Host, Ports: t.Ports, Version: t.Version,
		IPAddresses: []marathon.TaskIPAddress{{IPAddress: t.Host, Protocol: "IPv4"}},
	})
	s.bus.publish(marathon.EventInstanceChanged, marathon.InstanceChangedEvent{
		EventMeta: meta(marathon.EventInstanceChanged), InstanceID: t.ID, Condition: instanceCondition(t.State),
		RunSpecID: t.AppID, AgentID: t.AgentID, Host: t.Host, RunSpecVersion: t.Version,
	})
}

// flush persists the state when something changed. It logs write errors:
// the scheduler keeps running and retries on the next change.
func (s *Server) flush() {
	if !s.dirty {
		return
	}
	p := &persisted{Deployments: s.deployments, LastVersion: s.clock.last, Saved: time.Now().UTC(), History: s.history}
	for _, a := range s.apps {
		p.Apps = append(p.Apps, a)
	}
	for _, t := range s.tasks {
		p.Tasks = append(p.Tasks, t)
	}
	for _, g := range s.groups {
		p.Groups = append(p.Groups, g)
	}
	if err := s.store.save(p); err != nil {
		s.logf("persist state: %v", err)
		return
	}
	s.dirty = false
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func (s *Server) logf(format string, a ...any) {
	if s.opts.Logf != nil {
		s.opts.Logf(format, a...)
	}
}
