package nodeagent

import (
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Crash-loop backoff constants, as in the kubelet.
const (
	BackoffInitial = 10 * time.Second
	BackoffMax     = 5 * time.Minute
)

// Backoff is the kubelet's crash-loop backoff for one container: the first
// restart is immediate, each later one waits until Initial, 2×Initial, …
// (capped at Max) after the previous restart; after 2×Max without a restart
// it starts over.
type Backoff struct {
	Initial, Max time.Duration
	cur          time.Duration
	last         time.Time
}

// NewBackoff returns the kubelet's default backoff (10s doubling to 5m).
func NewBackoff() Backoff { return Backoff{Initial: BackoffInitial, Max: BackoffMax} }

func (b *Backoff) expired(now time.Time) bool { return b.cur == 0 || now.Sub(b.last) > 2*b.Max }

// Wait returns how long a container that exited should wait, at now, before
// its next restart.
func (b *Backoff) Wait(now time.Time) time.Duration {
	if b.expired(now) {
		return 0
	}
	if d := b.last.Add(b.cur).Sub(now); d > 0 {
		return d
	}
	return 0
}

// Current is the backoff period the next restart is held to (for messages).
func (b *Backoff) Current(now time.Time) time.Duration {
	if b.expired(now) {
		return 0
	}
	return b.cur
}

// Restarted records a restart at now and grows the period.
func (b *Backoff) Restarted(now time.Time) {
	if b.expired(now) {
		b.cur = b.Initial
	} else {
		b.cur = min(2*b.cur, b.Max)
	}
	b.last = now
}

// ShouldRestart applies a pod's restartPolicy to a container's exit code.
func ShouldRestart(policy corev1.RestartPolicy, exitCode int32) bool {
	switch policy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return exitCode != 0
	default:
		return true
	}
}

// ProbeTiming is a probe's schedule with Kubernetes defaults applied.
type ProbeTiming struct {
	InitialDelay, Period, Timeout      time.Duration
	SuccessThreshold, FailureThreshold int
}

// TimingOf applies the API defaults (period 10s, timeout 1s, thresholds 1/3).
func TimingOf(p *corev1.Probe) ProbeTiming {
	t := ProbeTiming{
		InitialDelay:     time.Duration(p.InitialDelaySeconds) * time.Second,
		Period:           time.Duration(p.PeriodSeconds) * time.Second,
		Timeout:          time.Duration(p.TimeoutSeconds) * time.Second,
		SuccessThreshold: int(p.SuccessThreshold),
		FailureThreshold: int(p.FailureThreshold),
	}
	if t.Period <= 0 {
		t.Period = 10 * time.Second
	}
	if t.Timeout <= 0 {
		t.Timeout = time.Second
	}
	if t.SuccessThreshold <= 0 {
		t.SuccessThreshold = 1
	}
	if t.FailureThreshold <= 0 {
		t.FailureThreshold = 3
	}
	return t
}

// ProbeState turns single probe outcomes into the probe's result the way the
// kubelet's prober worker does: the result flips only after
// SuccessThreshold consecutive successes or FailureThreshold consecutive
// failures.
type ProbeState struct {
	timing ProbeTiming
	result bool
	last   bool
	run    int
}

// NewProbeState starts with the given result (readiness and startup start
// failed, liveness starts succeeded).
func NewProbeState(t ProbeTiming, initial bool) *ProbeState {
	return &ProbeState{timing: t, result: initial}
}

// Record adds one outcome and returns the (possibly new) result and whether
// it changed.
func (s *ProbeState) Record(ok bool) (result, changed bool) {
	if s.run > 0 && ok == s.last {
		s.run++
	} else {
		s.last, s.run = ok, 1
	}
	need := s.timing.FailureThreshold
	if ok {
		need = s.timing.SuccessThreshold
	}
	if s.run >= need && s.result != ok {
		s.result = ok
		return ok, true
	}
	return s.result, false
}

// Result is the current result.
func (s *ProbeState) Result() bool { return s.result }

// Failures is the number of consecutive failed outcomes so far.
func (s *ProbeState) Failures() int {
	if s.last {
		return 0
	}
	return s.run
}

// PodPhase computes a pod's phase from its containers' states as the kubelet
// does: Pending while init containers have not all succeeded (Failed if one
// failed for good) or a container waits for its first start; Running while
// any container runs or will be restarted; Succeeded when all exited 0 for
// good; Failed when all exited and one failed for good.
func PodPhase(policy corev1.RestartPolicy, initStatuses, statuses []corev1.ContainerStatus, initFailed bool) corev1.PodPhase {
	if initFailed {
		return corev1.PodFailed
	}
	for _, s := range initStatuses {
		if s.State.Terminated == nil || s.State.Terminated.ExitCode != 0 {
			return corev1.PodPending
		}
	}
	var running, waiting, stopped, succeeded int
	for _, s := range statuses {
		switch {
		case s.State.Running != nil:
			running++
		case s.State.Terminated != nil:
			stopped++
			if s.State.Terminated.ExitCode == 0 {
				succeeded++
			}
		case s.LastTerminationState.Terminated != nil:
			stopped++
			if s.LastTerminationState.Terminated.ExitCode == 0 {
				succeeded++
			}
		default:
			waiting++
		}
	}
	switch {
	case waiting > 0:
		return corev1.PodPending
	case running > 0:
		return corev1.PodRunning
	case stopped > 0:
		if policy == corev1.RestartPolicyAlways {
			return corev1.PodRunning
		}
		if stopped == succeeded {
			return corev1.PodSucceeded
		}
		if policy == corev1.RestartPolicyNever {
			return corev1.PodFailed
		}
		return corev1.PodRunning
	}
	return corev1.PodPending
}
