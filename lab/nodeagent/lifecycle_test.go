package nodeagent

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

func TestBackoff(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := NewBackoff()
	// Each step: the container exits `ranFor` after its (re)start; the wait
	// before the next restart must be `want`.
	steps := []struct {
		ranFor, want time.Duration
	}{
		{time.Second, 0},                 // first crash: restart at once
		{time.Second, 9 * time.Second},   // held to 10s after the previous restart
		{time.Second, 19 * time.Second},  // 20s
		{time.Second, 39 * time.Second},  // 40s
		{time.Second, 79 * time.Second},  // 80s
		{time.Second, 159 * time.Second}, // 160s
		{time.Second, 299 * time.Second}, // capped at 5m
		{time.Second, 299 * time.Second}, // stays capped
		{30 * time.Second, 270 * time.Second},
		{11 * time.Minute, 0}, // ran longer than 2×max: starts over
		{time.Second, 9 * time.Second},
	}
	now := t0
	for i, s := range steps {
		now = now.Add(s.ranFor)
		if got := b.Wait(now); got != s.want {
			t.Fatalf("step %d: wait = %s, want %s", i, got, s.want)
		}
		now = now.Add(s.want)
		b.Restarted(now)
	}
}

func TestShouldRestart(t *testing.T) {
	tests := []struct {
		policy corev1.RestartPolicy
		code   int32
		want   bool
	}{
		{corev1.RestartPolicyAlways, 0, true}, {corev1.RestartPolicyAlways, 1, true}, {"", 0, true},
		{corev1.RestartPolicyOnFailure, 0, false}, {corev1.RestartPolicyOnFailure, 137, true},
		{corev1.RestartPolicyNever, 0, false}, {corev1.RestartPolicyNever, 1, false},
	}
	for _, tt := range tests {
		if got := ShouldRestart(tt.policy, tt.code); got != tt.want {
			t.Errorf("ShouldRestart(%s, %d) = %v", tt.policy, tt.code, got)
		}
	}
}

func TestTimingDefaults(t *testing.T) {
	got := TimingOf(&corev1.Probe{})
	want := ProbeTiming{Period: 10 * time.Second, Timeout: time.Second, SuccessThreshold: 1, FailureThreshold: 3}
	if got != want {
		t.Errorf("defaults = %+v, want %+v", got, want)
	}
	got = TimingOf(&corev1.Probe{InitialDelaySeconds: 5, PeriodSeconds: 2, TimeoutSeconds: 3, SuccessThreshold: 2, FailureThreshold: 1})
	want = ProbeTiming{InitialDelay: 5 * time.Second, Period: 2 * time.Second, Timeout: 3 * time.Second, SuccessThreshold: 2, FailureThreshold: 1}
	if got != want {
		t.Errorf("explicit = %+v, want %+v", got, want)
	}
}

func TestProbeState(t *testing.T) {
	tests := []struct {
		name            string
		success, fail   int
		initial         bool
		outcomes        string // s = success, f = failure
		results, change string // result after each outcome (1/0), and whether it changed (c/.)
	}{
		{"readiness defaults", 1, 3, false, "sffsfff", "1111110", "c.....c"},
		{"liveness needs 3 failures", 1, 3, true, "ffsfff", "111110", ".....c"},
		{"success threshold 2", 2, 1, false, "ssfsfss", "0100001", ".cc...c"},
		{"startup counts failures", 1, 2, false, "ff", "00", ".."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewProbeState(ProbeTiming{SuccessThreshold: tt.success, FailureThreshold: tt.fail}, tt.initial)
			var res, ch string
			for _, o := range tt.outcomes {
				r, c := s.Record(o == 's')
				res += map[bool]string{true: "1", false: "0"}[r]
				ch += map[bool]string{true: "c", false: "."}[c]
			}
			if res != tt.results || ch != tt.change {
				t.Errorf("results %s changes %s, want %s %s", res, ch, tt.results, tt.change)
			}
		})
	}
	s := NewProbeState(ProbeTiming{SuccessThreshold: 1, FailureThreshold: 3}, false)
	s.Record(false)
	s.Record(false)
	if s.Failures() != 2 {
		t.Errorf("Failures = %d, want 2", s.Failures())
	}
	s.Record(true)
	if s.Failures() != 0 {
		t.Errorf("Failures after success = %d", s.Failures())
	}
}

func TestPodPhase(t *testing.T) {
	running := corev1.ContainerStatus{State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
	waiting := corev1.ContainerStatus{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}
	exited := func(code int32) corev1.ContainerStatus {
		return corev1.ContainerStatus{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code}}}
	}
	backoff := corev1.ContainerStatus{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}}}
	cs := func(s ...corev1.ContainerStatus) []corev1.ContainerStatus { return s }
	tests := []struct {
		name       string
		policy     corev1.RestartPolicy
		init, ctrs []corev1.ContainerStatus
		initFailed bool
		want       corev1.PodPhase
	}{
		{"init running", corev1.RestartPolicyAlways, cs(running), cs(waiting), false, corev1.PodPending},
		{"init done, containers creating", corev1.RestartPolicyAlways, cs(exited(0)), cs(waiting), false, corev1.PodPending},
		{"init failed for good", corev1.RestartPolicyNever, cs(exited(1)), cs(waiting), true, corev1.PodFailed},
		{"running", corev1.RestartPolicyAlways, nil, cs(running, running), false, corev1.PodRunning},
		{"one running one creating", corev1.RestartPolicyAlways, nil, cs(running, waiting), false, corev1.PodPending},
		{"crash loop stays Running", corev1.RestartPolicyAlways, nil, cs(backoff), false, corev1.PodRunning},
		{"always: exited is Running (restarts)", corev1.RestartPolicyAlways, nil, cs(exited(0)), false, corev1.PodRunning},
		{"never: all succeeded", corev1.RestartPolicyNever, nil, cs(exited(0), exited(0)), false, corev1.PodSucceeded},
		{"never: one failed", corev1.RestartPolicyNever, nil, cs(exited(0), exited(2)), false, corev1.PodFailed},
		{"onfailure: succeeded", corev1.RestartPolicyOnFailure, nil, cs(exited(0)), false, corev1.PodSucceeded},
		{"onfailure: failed restarts", corev1.RestartPolicyOnFailure, nil, cs(backoff), false, corev1.PodRunning},
		{"never: one still running", corev1.RestartPolicyNever, nil, cs(exited(1), running), false, corev1.PodRunning},
	}
	for _, tt := range tests {
		if got := PodPhase(tt.policy, tt.init, tt.ctrs, tt.initFailed); got != tt.want {
			t.Errorf("%s: phase = %s, want %s", tt.name, got, tt.want)
		}
	}
}
