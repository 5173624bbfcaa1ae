package marathon

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/internal/ctxtime"
	"github.com/switchyard/switchyard/lab/health"
	"github.com/switchyard/switchyard/marathon"
)

// startChecks starts the health check loops of a running task (one per
// check) and, for tasks of the current configuration, its readiness loop.
func (s *Server) startChecks(a *appState, t *taskState) {
	sp := s.specFor(a, t.Version)
	if len(sp.HealthChecks) == 0 && len(sp.Readiness) == 0 {
		return
	}
	if len(t.Health) < len(sp.HealthChecks) {
		t.Health = append(t.Health, make([]healthState, len(sp.HealthChecks)-len(t.Health))...)
	}
	ctx, cancel := context.WithCancel(s.ctx)
	s.checkCancel[t.ID] = cancel
	for i := range sp.HealthChecks {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.healthLoop(ctx, t.ID, sp, i)
		}()
	}
	if len(sp.Readiness) > 0 && !t.ready(len(sp.Readiness)) {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.readinessLoop(ctx, t.ID, sp)
		}()
	}
}

// probeTarget resolves the check's address for the task.
func probeTarget(sp *appSpec, hc healthCheckSpec, t *taskState) (int, error) {
	if hc.PortIndex < 0 {
		return hc.Port, nil
	}
	if hc.PortIndex >= len(t.Ports) {
		return 0, fmt.Errorf("health check portIndex %d: the task has %d port(s)", hc.PortIndex, len(t.Ports))
	}
	return t.Ports[hc.PortIndex], nil
}

// healthLoop probes one health check of a task until the task goes away.
// The first probe runs after delaySeconds for MESOS_* checks and right away
// for Marathon checks; later probes every intervalSeconds. Until the task's
// first success, probes repeat at most every Options.HealthRetry, so a
// deployment does not wait a whole interval for a task that came up a moment
// after its first probe.
func (s *Server) healthLoop(ctx context.Context, taskID string, sp *appSpec, idx int) {
	hc := sp.HealthChecks[idx]
	interval := secs(hc.Interval)
	if interval <= 0 {
		interval = time.Second
	}
	if strings.HasPrefix(hc.Protocol, "MESOS_") && hc.DelaySeconds > 0 {
		if ctxtime.Sleep(ctx, secs(hc.DelaySeconds)) != nil {
			return
		}
	}
	for {
		t := s.lockRunning(taskID)
		if t == nil {
			return
		}
		check := health.Check{
			Protocol:      health.Protocol(hc.Protocol),
			Host:          t.Host,
			Path:          hc.Path,
			Command:       hc.Command,
			Timeout:       secs(hc.Timeout),
			IgnoreHTTP1xx: hc.IgnoreHTTP1xx,
		}
		if check.Protocol == "MESOS_COMMAND" {
			check.Protocol = health.COMMAND
		}
		if check.Protocol == health.COMMAND {
			check.Env = map[string]string{}
			for _, kv := range taskEnv(s.cfg, s.opts.PATH, sp, t.Version, t) {
				k, v, _ := strings.Cut(kv, "=")
				check.Env[k] = v
			}
			check.Dir = t.Sandbox
			if u := s.userFor(sp); u != nil {
				check.Wrap = u.Setpriv() // as the task runs
			}
		}
		port, perr := probeTarget(sp, hc, t)
		check.Port = port
		succeeded := idx < len(t.Health) && !t.Health[idx].FirstSuccess.IsZero()
		s.mu.Unlock()
		var res health.Result
		if perr != nil && check.Protocol != health.COMMAND {
			res = health.Result{Message: perr.Error()}
		} else {
			res = health.Probe(ctx, check)
		}
		if ctx.Err() != nil {
			return
		}
		if !res.Ignored {
			s.mu.Lock()
			s.healthResult(taskID, sp, idx, res)
			s.mu.Unlock()
		}
		wait := interval
		if !succeeded && !res.Healthy {
			wait = min(interval, s.opts.HealthRetry)
		}
		if ctxtime.Sleep(ctx, wait) != nil {
			return
		}
	}
}

// healthResult records one probe result with Marathon's semantics: failures
// within gracePeriodSeconds of the start (before the first success) are
// ignored; maxConsecutiveFailures failures in a row kill the task.
func (s *Server) healthResult(taskID string, sp *appSpec, idx int, res health.Result) {
	t := s.tasks[taskID]
	if t == nil || t.State != taskRunning || idx >= len(t.Health) {
		return
	}
	hc := sp.HealthChecks[idx]
	h := &t.Health[idx]
	now := time.Now().UTC()
	wasAlive, wasChecked := h.Alive, h.Checked
	if res.Healthy {
		if h.FirstSuccess.IsZero() {
			h.FirstSuccess = now
		}
		h.LastSuccess = now
		h.ConsecutiveFailures = 0
		h.Alive = true
		h.Checked = true
	} else {
		if h.FirstSuccess.IsZero() && now.Before(t.StartedAt.Add(secs(hc.GracePeriod))) {
			return
		}
		h.Checked = true
		h.Alive = false
		h.ConsecutiveFailures++
		h.LastFailure = now
		h.LastFailureCause = res.Message
		s.bus.publish(marathon.EventFailedHealthCheck, marathon.FailedHealthCheckEvent{
			EventMeta: meta(marathon.EventFailedHealthCheck), AppID: t.AppID, TaskID: t.ID, InstanceID: t.ID,
			HealthCheck: toWireHealthCheck(hc),
		})
	}
	if h.Alive != wasAlive || !wasChecked {
		s.dirty = true
		s.bus.publish(marathon.EventHealthStatusChanged, marathon.HealthStatusChangedEvent{
			EventMeta: meta(marathon.EventHealthStatusChanged), AppID: t.AppID, InstanceID: t.ID, TaskID: t.ID,
			Version: t.Version, Alive: h.Alive,
		})
		healthy := t.healthy(len(sp.HealthChecks))
		s.bus.publish(marathon.EventInstanceHealthChanged, marathon.InstanceHealthChangedEvent{
			EventMeta: meta(marathon.EventInstanceHealthChanged), InstanceID: t.ID, RunSpecID: t.AppID,
			RunSpecVersion: t.Version, Healthy: &healthy,
		})
		s.kickNow()
	}
	if !res.Healthy && hc.MaxConsecutiveFailures > 0 && h.ConsecutiveFailures >= hc.MaxConsecutiveFailures {
		s.bus.publish(marathon.EventUnhealthyTaskKill, marathon.UnhealthyTaskKillEvent{
			EventMeta: meta(marathon.EventUnhealthyTaskKill), AppID: t.AppID, TaskID: t.ID, InstanceID: t.ID,
			Version: t.Version, Reason: res.Message, Host: t.Host, SlaveID: t.AgentID,
		})
		s.logf("task %s of %s is unhealthy (%d consecutive failures: %s): killing it", t.ID, t.AppID, h.ConsecutiveFailures, res.Message)
		s.killTask(t.ID, "unhealthy: "+res.Message)
		s.kickNow()
	}
}

func toWireHealthCheck(hc healthCheckSpec) *marathon.HealthCheck {
	var out marathon.HealthCheck
	if err := json.Unmarshal(hc.Raw, &out); err != nil {
		return nil
	}
	return &out
}

// lockRunning locks s.mu and returns the task while it runs and the server
// is open; the caller unlocks. Otherwise it unlocks and returns nil: a
// probe loop of the task is done.
func (s *Server) lockRunning(taskID string) *taskState {
	s.mu.Lock()
	t := s.tasks[taskID]
	if t == nil || t.State != taskRunning || s.closed {
		s.mu.Unlock()
		return nil
	}
	return t
}

// readinessLoop polls a task's readiness checks until all pass.
func (s *Server) readinessLoop(ctx context.Context, taskID string, sp *appSpec) {
	for {
		t := s.lockRunning(taskID)
		if t == nil {
			return
		}
		host, ports := t.Host, t.Ports
		s.mu.Unlock()
		results := make([]readyState, len(sp.Readiness))
		all := true
		wait := s.opts.HealthRetry
		for i, rc := range sp.Readiness {
			results[i] = probeReadiness(ctx, sp, rc, host, ports)
			all = all && results[i].Ready
			wait = min(wait, secs(rc.Interval))
		}
		s.mu.Lock()
		if t := s.tasks[taskID]; t != nil {
			t.Readiness = results
			if all {
				s.dirty = true
				s.kickNow()
			}
		}
		s.mu.Unlock()
		if all || ctxtime.Sleep(ctx, max(wait, 50*time.Millisecond)) != nil {
			return
		}
	}
}

// probeReadiness runs one HTTP(S) readiness check against the task's named port.
func probeReadiness(ctx context.Context, sp *appSpec, rc readinessSpec, host string, ports []int) readyState {
	r := readyState{Name: rc.Name, Checked: true}
	port := 0
	for i, n := range sp.portNames() {
		if n == rc.PortName && i < len(ports) {
			port = ports[i]
		}
	}
	if port == 0 && rc.PortName == "" && len(ports) > 0 {
		port = ports[0]
	}
	if port == 0 {
		r.Body = fmt.Sprintf("readiness check %s: no port named %q", rc.Name, rc.PortName)
		return r
	}
	scheme := "http"
	if rc.Protocol == "HTTPS" {
		scheme = "https"
	}
	ctx, cancel := context.WithTimeout(ctx, secs(rc.Timeout))
	defer cancel()
	url := scheme + "://" + net.JoinHostPort(host, strconv.Itoa(port)) + rc.Path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		r.Body = err.Error()
		return r
	}
	resp, err := readinessClient.Do(req)
	if err != nil {
		r.Body = err.Error()
		return r
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	r.Status = resp.StatusCode
	r.ContentType, _, _ = mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if rc.PreserveLastResponse {
		r.Body = string(body)
	}
	for _, c := range rc.ReadyStatusCodes {
		if c == resp.StatusCode {
			r.Ready = true
		}
	}
	return r
}

var readinessClient = &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}

func secs(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
