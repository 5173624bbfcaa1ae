package migrate

import (
	"fmt"
	"time"
)

// Phase is where an app's migration stands.
type Phase string

// The phases of a migration, in order; RollingBack and RolledBack are the
// way back. Finalized and RolledBack are terminal.
const (
	Pending             Phase = "Pending"
	Installing          Phase = "Installing"
	WaitingReady        Phase = "WaitingReady"
	Shifting            Phase = "Shifting"
	ScalingDownMarathon Phase = "ScalingDownMarathon"
	Soaking             Phase = "Soaking"
	Finalizing          Phase = "Finalizing"
	Finalized           Phase = "Finalized"
	RollingBack         Phase = "RollingBack"
	RolledBack          Phase = "RolledBack"
)

// Terminal reports whether nothing more happens in this phase.
func (p Phase) Terminal() bool { return p == Finalized || p == RolledBack }

// Stage is the step of a rollback.
type Stage string

// Rollback stages. With Marathon still running, weights go back first, then
// Marathon is checked healthy at its instance count, then Kubernetes is
// removed. With Marathon scaled down, it is scaled up first (there is
// nothing to send the weight to before).
const (
	StageWeights    Stage = "weights"
	StageMarathon   Stage = "marathon"
	StageKubernetes Stage = "kubernetes"
)

// Plan is what a migration does, fixed when it starts (journaled with every
// state, so a restarted executor follows the same plan).
type Plan struct {
	// Steps are the Kubernetes traffic percentages, increasing, ending at 100.
	Steps []int `json:"steps"`
	// PausePerStep is how long each step is watched before it is judged.
	PausePerStep time.Duration `json:"pausePerStep"`
	// Soak is how long Kubernetes serves alone (Marathon at 0 instances)
	// before the Marathon app is removed.
	Soak time.Duration `json:"soak"`
	// MaxErrorRate is the highest tolerated fraction of 5xx answers from
	// Kubernetes at a step (0..1).
	MaxErrorRate float64 `json:"maxErrorRate"`
	// MaxP99 is the highest tolerated p99 latency at a step (0: no limit).
	MaxP99 time.Duration `json:"maxP99,omitempty"`
	// MinRequests is how many Kubernetes requests a step must see before it
	// is judged; a step is watched for up to MaxObservations pauses.
	MinRequests int `json:"minRequests,omitempty"`
	// MaxObservations bounds the pauses a step waits for MinRequests
	// (default 5); then the migration rolls back ("not enough traffic").
	MaxObservations int `json:"maxObservations,omitempty"`
	// MarathonInstances is the Marathon app's instance count before the
	// migration (restored by a rollback).
	MarathonInstances int `json:"marathonInstances"`
	// ManualRollback holds a failed gate (paused, weights unchanged) for an
	// operator instead of rolling back automatically.
	ManualRollback bool `json:"manualRollback,omitempty"`
}

// DefaultSteps are the Kubernetes traffic percentages when none are given.
var DefaultSteps = []int{5, 25, 50, 100}

// Check reports a plan that cannot be followed.
func (p Plan) Check() error {
	if len(p.Steps) == 0 {
		return fmt.Errorf("steps: empty (want increasing percentages ending at 100, e.g. %v)", DefaultSteps)
	}
	prev := 0
	for i, s := range p.Steps {
		if s <= prev || s > 100 {
			return fmt.Errorf("steps[%d]: %d must be greater than %d and at most 100", i, s, prev)
		}
		prev = s
	}
	if prev != 100 {
		return fmt.Errorf("steps: last step is %d, must be 100", prev)
	}
	if p.MaxErrorRate < 0 || p.MaxErrorRate > 1 {
		return fmt.Errorf("maxErrorRate: %g must be between 0 and 1", p.MaxErrorRate)
	}
	if p.PausePerStep < 0 || p.Soak < 0 || p.MaxP99 < 0 {
		return fmt.Errorf("pausePerStep, soak and maxP99 must not be negative")
	}
	if p.MarathonInstances < 1 {
		return fmt.Errorf("marathonInstances: %d, the Marathon app must run at least one instance to migrate live", p.MarathonInstances)
	}
	return nil
}

// Observation is what nginx saw of the app's Kubernetes backends during a
// step's pause.
type Observation struct {
	// Requests and Errors (5xx) count the Kubernetes requests; ErrorRate is
	// Errors/Requests; P99 their 99th percentile latency.
	Requests  int           `json:"requests"`
	Errors    int           `json:"errors"`
	ErrorRate float64       `json:"errorRate"`
	P99       time.Duration `json:"p99"`
}

// State is one app's migration: everything the executor needs to continue
// it after a restart.
type State struct {
	// App is the app's name.
	App string `json:"app"`
	// Phase is where the migration stands.
	Phase Phase `json:"phase"`
	// Plan is fixed at the start.
	Plan Plan `json:"plan"`
	// Step indexes Plan.Steps while Shifting.
	Step int `json:"step"`
	// Applied is true once the current step's weights are in nginx.
	Applied bool `json:"applied,omitempty"`
	// Observations counts the pauses watched at the current step.
	Observations int `json:"observations,omitempty"`
	// KubePercent is the share of the route's traffic Kubernetes gets (the
	// target of the current weights action; in nginx once it is done).
	KubePercent int `json:"kubePercent"`
	// MarathonDown is true once Marathon's backends may have left the pool
	// (its scale-down started).
	MarathonDown bool `json:"marathonDown,omitempty"`
	// MarathonRestored is true once a rollback scaled Marathon back up.
	MarathonRestored bool `json:"marathonRestored,omitempty"`
	// Stage is the rollback step (RollingBack only).
	Stage Stage `json:"stage,omitempty"`
	// Paused holds the migration at its current weights.
	Paused bool `json:"paused,omitempty"`
	// Attempts counts failed attempts of the current rollback action.
	Attempts int `json:"attempts,omitempty"`
	// Last is the last observation; Reason says why the last transition
	// happened (a failed gate, an error, an operator's command).
	Last   Observation `json:"last"`
	Reason string      `json:"reason,omitempty"`
	// Cause is why a rollback started (kept until the end).
	Cause string `json:"cause,omitempty"`
}

// EventKind names an event.
type EventKind string

// Events: Start begins a migration; Done says the state's action
// completed; Observed carries a step's statistics; Failed says an action
// failed or timed out; the rest are operator commands.
const (
	EvStart    EventKind = "start"
	EvDone     EventKind = "done"
	EvObserved EventKind = "observed"
	EvFailed   EventKind = "failed"
	EvPause    EventKind = "pause"
	EvResume   EventKind = "resume"
	EvAbort    EventKind = "abort"
	EvRollback EventKind = "rollback"
	EvFinalize EventKind = "finalize"
)

// Event is something that happened to a migration.
type Event struct {
	// Kind says what happened.
	Kind EventKind `json:"kind"`
	// Obs is the step's statistics (EvObserved).
	Obs Observation `json:"obs,omitempty"`
	// Reason explains a failure or command.
	Reason string `json:"reason,omitempty"`
}

// ActionKind names an action.
type ActionKind string

// Actions the driver performs. Each is idempotent: performing it again
// after a crash has the same result.
const (
	// ActInstall installs (or upgrades to) the app's Kubernetes release.
	ActInstall ActionKind = "install"
	// ActWaitReady waits until every replica is ready.
	ActWaitReady ActionKind = "wait-ready"
	// ActSetWeights gives Kubernetes KubePercent of the route's traffic
	ActSetWeights ActionKind = "set-weights"
	// ActObserve waits Wait, then reports the Kubernetes statistics of the
	// route over that time (EvObserved).
	ActObserve ActionKind = "observe"
	// ActScaleMarathon scales Marathon to Instances. To 0: its backends are
	// removed from nginx first, drained, then the tasks are stopped; the
	// definition stays. Up: waits until Instances are healthy, then its
	// backends rejoin the pool.
	ActScaleMarathon ActionKind = "scale-marathon"
	// ActWait waits Wait (the soak).
	ActWait ActionKind = "wait"
	// ActDeleteMarathon removes the Marathon app.
	ActDeleteMarathon ActionKind = "delete-marathon"
	// ActRemoveKubernetes uninstalls the Kubernetes release.
	ActRemoveKubernetes ActionKind = "remove-kubernetes"
)

// Action is something the driver must do for a state.
type Action struct {
	// Kind says what to do; KubePercent (set-weights), Instances
	// (scale-marathon) and Wait (observe, wait) are its parameters.
	Kind        ActionKind    `json:"kind"`
	KubePercent int           `json:"kubePercent,omitempty"`
	Instances   int           `json:"instances,omitempty"`
	Wait        time.Duration `json:"wait,omitempty"`
}

// String renders the action for progress lines ("set-weights kubernetes=25% marathon=75%").
func (a Action) String() string {
	switch a.Kind {
	case ActSetWeights:
		return fmt.Sprintf("%s kubernetes=%d%% marathon=%d%%", a.Kind, a.KubePercent, 100-a.KubePercent)
	case ActScaleMarathon:
		return fmt.Sprintf("%s to %d", a.Kind, a.Instances)
	case ActObserve, ActWait:
		return fmt.Sprintf("%s %s", a.Kind, a.Wait)
	}
	return string(a.Kind)
}

// Start returns the state of a new migration.
func Start(app string, p Plan) State {
	return State{App: app, Phase: Pending, Plan: p}
}

// Actions returns what must be done in state s (at most one action: a
// migration does one thing at a time). A restarted executor performs the
// actions of each journaled state again; every action is idempotent.
func Actions(s State) []Action {
	one := func(a Action) []Action { return []Action{a} }
	switch s.Phase {
	case Installing:
		return one(Action{Kind: ActInstall})
	case WaitingReady:
		return one(Action{Kind: ActWaitReady})
	case Shifting:
		if !s.Applied {
			return one(Action{Kind: ActSetWeights, KubePercent: s.KubePercent})
		}
		if s.Paused {
			return nil
		}
		return one(Action{Kind: ActObserve, Wait: s.Plan.PausePerStep})
	case ScalingDownMarathon:
		return one(Action{Kind: ActScaleMarathon, Instances: 0})
	case Soaking:
		if s.Paused {
			return nil
		}
		return one(Action{Kind: ActWait, Wait: s.Plan.Soak})
	case Finalizing:
		return one(Action{Kind: ActDeleteMarathon})
	case RollingBack:
		switch s.Stage {
		case StageWeights:
			return one(Action{Kind: ActSetWeights, KubePercent: 0})
		case StageMarathon:
			return one(Action{Kind: ActScaleMarathon, Instances: s.Plan.MarathonInstances})
		case StageKubernetes:
			return one(Action{Kind: ActRemoveKubernetes})
		}
	}
	return nil
}

// Next is the migration's transition function: given a state and an event
// it returns the next state and the actions to perform in it. It does no
// I/O. An event that does not apply leaves the state unchanged and returns
// no actions (the caller journals and acts only on a changed state).
//
// Invariants (checked by the property test): outside Shifting and
// RollingBack's weights stage exactly one platform has the whole weight;
// Marathon is scaled down only once Kubernetes has 100%; a rollback returns
// all weight to Marathon (scaling it up first when it was down) before the
// Kubernetes release is removed.
func Next(s State, ev Event) (State, []Action) {
	n, changed := next(s, ev)
	if !changed {
		return s, nil
	}
	return n, Actions(n)
}

func next(s State, ev Event) (State, bool) {
	if s.Phase.Terminal() {
		return s, false
	}
	s.Reason = ev.Reason
	switch ev.Kind {
	case EvAbort, EvRollback:
		if s.Phase == RollingBack {
			return s, false
		}
		if ev.Reason == "" {
			s.Reason = "operator: " + string(ev.Kind)
		}
		if s.Phase == Pending { // nothing was done
			s.Phase, s.Cause = RolledBack, s.Reason
			return s, true
		}
		return rollback(s), true
	case EvFailed:
		if s.Phase == Pending {
			s.Phase, s.Cause = RolledBack, s.Reason
			return s, true
		}
		if s.Phase == RollingBack {
			s.Attempts++ // the same action again (the driver backs off)
			return s, true
		}
		return rollback(s), true
	case EvPause:
		if s.Paused || (s.Phase != Shifting && s.Phase != Soaking) {
			return s, false
		}
		s.Paused = true
		if ev.Reason == "" {
			s.Reason = "operator: pause"
		}
		return s, true
	case EvResume:
		if !s.Paused {
			return s, false
		}
		s.Paused = false
		s.Observations = 0
		if ev.Reason == "" {
			s.Reason = "operator: resume"
		}
		return s, true
	case EvFinalize:
		if s.Phase != Soaking {
			return s, false
		}
		s.Phase, s.Paused = Finalizing, false
		if ev.Reason == "" {
			s.Reason = "operator: finalize"
		}
		return s, true
	case EvStart:
		if s.Phase != Pending {
			return s, false
		}
		s.Phase = Installing
		return s, true
	case EvObserved:
		if s.Phase != Shifting || !s.Applied || s.Paused {
			return s, false
		}
		return judge(s, ev.Obs)
	case EvDone:
		return done(s)
	}
	return s, false
}

// done advances past the state's completed action.
func done(s State) (State, bool) {
	switch s.Phase {
	case Installing:
		s.Phase = WaitingReady
	case WaitingReady:
		s.Phase, s.Step, s.KubePercent, s.Applied, s.Observations = Shifting, 0, s.Plan.Steps[0], false, 0
	case Shifting:
		if s.Applied {
			return s, false // an observation completes with EvObserved
		}
		s.Applied = true
	case ScalingDownMarathon:
		s.Phase = Soaking
	case Soaking:
		if s.Paused {
			return s, false
		}
		s.Phase = Finalizing
	case Finalizing:
		s.Phase = Finalized
	case RollingBack:
		s.Attempts = 0
		switch s.Stage {
		case StageWeights:
			s.KubePercent = 0
			if s.MarathonRestored {
				s.Stage = StageKubernetes
			} else {
				s.Stage = StageMarathon
			}
		case StageMarathon:
			s.MarathonDown = false
			if s.KubePercent == 0 {
				s.Stage = StageKubernetes
			} else {
				s.MarathonRestored = true
				s.Stage = StageWeights
			}
		case StageKubernetes:
			s.Phase, s.Stage = RolledBack, ""
		}
	default:
		return s, false
	}
	return s, true
}

// judge compares a step's observation with the plan's gates.
func judge(s State, obs Observation) (State, bool) {
	s.Last = obs
	s.Observations++
	pct := s.KubePercent
	if obs.Requests < s.Plan.MinRequests {
		max := s.Plan.MaxObservations
		if max <= 0 {
			max = 5
		}
		if s.Observations < max {
			s.Reason = fmt.Sprintf("step %d%%: %d of %d requests needed to judge, watching again", pct, obs.Requests, s.Plan.MinRequests)
			return s, true
		}
		return gateFailed(s, fmt.Sprintf("step %d%%: only %d requests reached Kubernetes in %d pauses, %d needed to judge the gates", pct, obs.Requests, s.Observations, s.Plan.MinRequests)), true
	}
	if obs.ErrorRate > s.Plan.MaxErrorRate {
		return gateFailed(s, fmt.Sprintf("gate maxErrorRate failed at step %d%%: Kubernetes answered %d of %d requests with 5xx (%.2f%% > %.2f%%)", pct, obs.Errors, obs.Requests, 100*obs.ErrorRate, 100*s.Plan.MaxErrorRate)), true
	}
	if s.Plan.MaxP99 > 0 && obs.P99 > s.Plan.MaxP99 {
		return gateFailed(s, fmt.Sprintf("gate maxP99Latency failed at step %d%%: Kubernetes p99 %s > %s", pct, obs.P99, s.Plan.MaxP99)), true
	}
	s.Reason = fmt.Sprintf("step %d%% passed: %d requests, %.2f%% 5xx, p99 %s", pct, obs.Requests, 100*obs.ErrorRate, obs.P99)
	if s.Step < len(s.Plan.Steps)-1 {
		s.Step++
		s.KubePercent, s.Applied, s.Observations = s.Plan.Steps[s.Step], false, 0
		return s, true
	}
	s.Phase, s.MarathonDown = ScalingDownMarathon, true
	return s, true
}

func gateFailed(s State, reason string) State {
	s.Reason = reason
	if s.Plan.ManualRollback {
		s.Paused = true
		s.Reason += " (held for an operator: resume, or rollback)"
		return s
	}
	return rollback(s)
}

// rollback starts the way back from any forward phase.
func rollback(s State) State {
	s.Phase, s.Paused, s.Attempts, s.Applied, s.Cause = RollingBack, false, 0, false, s.Reason
	if s.MarathonDown {
		s.Stage = StageMarathon
	} else {
		s.Stage = StageWeights
	}
	return s
}
