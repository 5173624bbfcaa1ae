package migrate

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Phase is where an app's migration stands.
type Phase string

// The phases of a migration, in order; RollingBack and RolledBack are the
// way back. Finalized and RolledBack are terminal.
//
// A Finalized migration moves back with a rollback (the reverse
// migration): RecreatingMarathon (the journaled Marathon definition is
// created again and joins the pool) → ShiftingBack (the plan's steps in
// reverse, each judged on Marathon's requests) → RemovingKubernetes →
// RolledBack. A failed gate, a failed action or an abort on the way back
// leads to ReturningToKubernetes (all weight to Kubernetes, the re-created
// Marathon app scaled down and removed) → Finalized again, with the cause.
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

	RecreatingMarathon    Phase = "RecreatingMarathon"
	ShiftingBack          Phase = "ShiftingBack"
	RemovingKubernetes    Phase = "RemovingKubernetes"
	ReturningToKubernetes Phase = "ReturningToKubernetes"
)

// Terminal reports whether nothing more happens in this phase (a Finalized
// migration only moves again on an operator's rollback).
func (p Phase) Terminal() bool { return p == Finalized || p == RolledBack }

// Reverting reports whether the phase belongs to the reverse migration of a
// finalized app (back to Marathon, or, when that fails, back to Kubernetes).
func (p Phase) Reverting() bool {
	switch p {
	case RecreatingMarathon, ShiftingBack, RemovingKubernetes, ReturningToKubernetes:
		return true
	}
	return false
}

// Retries reports whether a failed action of this phase is retried (the
// way back cannot be left: RollingBack, RemovingKubernetes,
// ReturningToKubernetes) rather than ending the phase.
func (p Phase) Retries() bool {
	return p == RollingBack || p == RemovingKubernetes || p == ReturningToKubernetes
}

// Stage is the step of a rollback.
type Stage string

// Rollback stages. With Marathon still running, weights go back first, then
// Marathon is checked healthy at its instance count, then Kubernetes is
// removed. With Marathon scaled down, it is scaled up first (there is
// nothing to send the weight to before).
//
// ReturningToKubernetes uses StageWeights (all weight to Kubernetes),
// StageMarathon (the re-created Marathon app leaves the pool and scales to
// 0) and StageDeleteMarathon (the app is removed again).
const (
	StageWeights        Stage = "weights"
	StageMarathon       Stage = "marathon"
	StageKubernetes     Stage = "kubernetes"
	StageDeleteMarathon Stage = "delete-marathon"
)

// Platform names the side of a route whose requests are observed.
type Platform string

// The two platforms of a migration (the names nginx's backends carry).
const (
	PlatformKubernetes Platform = "kubernetes"
	PlatformMarathon   Platform = "marathon"
)

// Spec is what a migration does, fixed when it starts (journaled with every
// state, so a restarted executor follows the same plan).
type Spec struct {
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
	// (default DefaultMaxObservations); then the migration rolls back ("not
	// enough traffic").
	MaxObservations int `json:"maxObservations,omitempty"`
	// MaxAttempts bounds the failed attempts of an action on a way back
	// that cannot be left (Phase.Retries; default DefaultMaxAttempts): then
	// the migration gives up (State.GaveUp) until an executor restarts it.
	MaxAttempts int `json:"maxAttempts,omitempty"`
	// MarathonInstances is the Marathon app's instance count before the
	// migration (restored by a rollback).
	MarathonInstances int `json:"marathonInstances"`
	// ManualRollback holds a failed gate (paused, weights unchanged) for an
	// operator instead of rolling back automatically.
	ManualRollback bool `json:"manualRollback,omitempty"`
	// MarathonDefinition is the Marathon app as it ran when the migration
	// started (read-only status fields left out): a rollback of the
	// finalized migration creates it again from here.
	MarathonDefinition json.RawMessage `json:"marathonDefinition,omitempty"`
}

// DefaultMaxObservations and DefaultMaxAttempts are Spec.MaxObservations
// and Spec.MaxAttempts when the plan gives none (also in a plan journaled
// before they existed).
const (
	DefaultMaxObservations = 5
	DefaultMaxAttempts     = 60
)

// maxObservations is MaxObservations or its default.
func (p Spec) maxObservations() int {
	if p.MaxObservations <= 0 {
		return DefaultMaxObservations
	}
	return p.MaxObservations
}

// maxAttempts is MaxAttempts or its default.
func (p Spec) maxAttempts() int {
	if p.MaxAttempts <= 0 {
		return DefaultMaxAttempts
	}
	return p.MaxAttempts
}

// BackSteps are the Kubernetes traffic percentages of the way back from a
// finalized migration: the steps in reverse, ending at 0 (steps 5, 25, 50,
// 100 → 50, 25, 5, 0).
func (p Spec) BackSteps() []int {
	var out []int
	for i := len(p.Steps) - 2; i >= 0; i-- {
		out = append(out, p.Steps[i])
	}
	return append(out, 0)
}

// DefaultSteps are the Kubernetes traffic percentages when none are given
// (Start).
var DefaultSteps = []int{5, 25, 50, 100}

// Check reports a plan that cannot be followed.
func (p Spec) Check() error {
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

// Observation is what nginx saw of the app's backends on one platform
// (Kubernetes; Marathon on the way back) during a step's pause.
type Observation struct {
	// Requests and Errors (5xx) count the platform's requests; ErrorRate is
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
	// Spec is fixed at the start.
	Spec Spec `json:"plan"`
	// Step indexes Spec.Steps while Shifting (Spec.BackSteps() while
	// ShiftingBack).
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
	// GaveUp is true once that action failed Spec.MaxAttempts times: the
	// state has no action (Reason says what is left) until an executor
	// restarts the migration (EvRestart), which attempts it again.
	GaveUp bool `json:"gaveUp,omitempty"`
	// Held is true while the state's action cannot complete for a reason
	// outside the app (ErrHold: e.g. a load-balancer instance does not
	// acknowledge); the action is retried, the phase does not change, and
	// Reason says what it waits for.
	Held bool `json:"held,omitempty"`
	// Last is the last observation; Reason says why the last transition
	// happened (a failed gate, an error, a hold, an operator's command).
	Last   Observation `json:"last"`
	Reason string      `json:"reason,omitempty"`
	// Cause is why a rollback started (kept until the end); on a Finalized
	// state, why a rollback of the finalized migration was abandoned.
	Cause string `json:"cause,omitempty"`
}

// EventKind names an event.
type EventKind string

// Events: Start begins a migration; Restart says an executor resumes it
// from the journal (with its ResumePolicy); Done says the state's action
// completed; Observed carries a step's statistics; Failed says an action
// failed or timed out; Held says it cannot complete now for a reason
// outside the app (it is retried; the phase does not change); the rest are
// operator commands. Rollback of a Finalized migration starts the reverse
// migration.
const (
	EvStart    EventKind = "start"
	EvRestart  EventKind = "restart"
	EvDone     EventKind = "done"
	EvObserved EventKind = "observed"
	EvFailed   EventKind = "failed"
	EvHeld     EventKind = "held"
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
	// Resume is the restart policy (EvRestart).
	Resume ResumePolicy `json:"resume,omitempty"`
}

// ResumePolicy says what a restarted executor does with a migration that
// was in flight (EvRestart).
type ResumePolicy string

// ResumeContinue (the default) continues every migration where it stood:
// the journaled state's action is performed again (mid-shift: the
// journaled weights are re-applied and the step watched for a whole pause
// again). ResumeRollback rolls back those that had not reached Soaking. A
// rollback in progress always continues.
const (
	ResumeContinue ResumePolicy = "continue"
	ResumeRollback ResumePolicy = "rollback"
)

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
	// ActObserve waits Wait, then reports the statistics of the route's
	// Platform over that time (EvObserved).
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
	// ActCreateMarathon creates the Marathon app again from the plan's
	// MarathonDefinition with Instances, waits until they are healthy, then
	// puts its backends in the pool (at weight 0 until a set-weights).
	ActCreateMarathon ActionKind = "create-marathon"
)

// Action is something the driver must do for a state.
type Action struct {
	// Kind says what to do; KubePercent (set-weights), Instances
	// (scale-marathon, create-marathon), Wait (observe, wait) and Platform
	// (observe: whose requests are judged) are its parameters.
	Kind        ActionKind    `json:"kind"`
	KubePercent int           `json:"kubePercent,omitempty"`
	Instances   int           `json:"instances,omitempty"`
	Wait        time.Duration `json:"wait,omitempty"`
	Platform    Platform      `json:"platform,omitempty"`
}

// String renders the action for progress lines ("set-weights kubernetes=25% marathon=75%").
func (a Action) String() string {
	switch a.Kind {
	case ActSetWeights:
		return fmt.Sprintf("%s kubernetes=%d%% marathon=%d%%", a.Kind, a.KubePercent, 100-a.KubePercent)
	case ActScaleMarathon:
		return fmt.Sprintf("%s to %d", a.Kind, a.Instances)
	case ActCreateMarathon:
		return fmt.Sprintf("%s with %d", a.Kind, a.Instances)
	case ActObserve:
		if a.Platform == PlatformMarathon {
			return fmt.Sprintf("%s marathon %s", a.Kind, a.Wait)
		}
		return fmt.Sprintf("%s %s", a.Kind, a.Wait)
	case ActWait:
		return fmt.Sprintf("%s %s", a.Kind, a.Wait)
	}
	return string(a.Kind)
}

// Start returns the state of a new migration of app with plan p given the
// machine's defaults (DefaultSteps when p names no steps; MaxObservations
// and MaxAttempts take theirs where they are used), or why p cannot be
// followed.
func Start(app string, p Spec) (State, error) {
	if len(p.Steps) == 0 {
		p.Steps = slices.Clone(DefaultSteps)
	}
	if err := p.Check(); err != nil {
		return State{}, fmt.Errorf("plan: %w", err)
	}
	return State{App: app, Phase: Pending, Spec: p}, nil
}

// Actions returns what must be done in state s (at most one action: a
// migration does one thing at a time). A restarted executor performs the
// actions of each journaled state again; every action is idempotent. A
// held state has the same action: it is retried.
func Actions(s State) []Action {
	if s.GaveUp {
		return nil
	}
	one := func(a Action) []Action { return []Action{a} }
	switch s.Phase {
	case Installing:
		return one(Action{Kind: ActInstall})
	case WaitingReady:
		return one(Action{Kind: ActWaitReady})
	case Shifting, ShiftingBack:
		if !s.Applied {
			return one(Action{Kind: ActSetWeights, KubePercent: s.KubePercent})
		}
		if s.Paused {
			return nil
		}
		pf := PlatformKubernetes
		if s.Phase == ShiftingBack {
			pf = PlatformMarathon
		}
		return one(Action{Kind: ActObserve, Wait: s.Spec.PausePerStep, Platform: pf})
	case ScalingDownMarathon:
		return one(Action{Kind: ActScaleMarathon, Instances: 0})
	case Soaking:
		if s.Paused {
			return nil
		}
		return one(Action{Kind: ActWait, Wait: s.Spec.Soak})
	case Finalizing:
		return one(Action{Kind: ActDeleteMarathon})
	case RollingBack:
		switch s.Stage {
		case StageWeights:
			return one(Action{Kind: ActSetWeights, KubePercent: 0})
		case StageMarathon:
			return one(Action{Kind: ActScaleMarathon, Instances: s.Spec.MarathonInstances})
		case StageKubernetes:
			return one(Action{Kind: ActRemoveKubernetes})
		}
	case RecreatingMarathon:
		return one(Action{Kind: ActCreateMarathon, Instances: s.Spec.MarathonInstances})
	case RemovingKubernetes:
		return one(Action{Kind: ActRemoveKubernetes})
	case ReturningToKubernetes:
		switch s.Stage {
		case StageWeights:
			return one(Action{Kind: ActSetWeights, KubePercent: 100})
		case StageMarathon:
			return one(Action{Kind: ActScaleMarathon, Instances: 0})
		case StageDeleteMarathon:
			return one(Action{Kind: ActDeleteMarathon})
		}
	}
	return nil
}

// NotApplied is the error Next returns for an event that does not apply to
// the state: the state is returned unchanged, with no actions, and nothing
// is journaled. Its message says why, for an operator ("already paused").
type NotApplied struct {
	// Event is the kind of the event; Label the state's label (Label).
	Event EventKind
	Label string
	// Why is the reason.
	Why error
}

// Error implements error: the reason.
func (e *NotApplied) Error() string { return e.Why.Error() }

// Unwrap returns the reason.
func (e *NotApplied) Unwrap() error { return e.Why }

// ErrNoMarathonDefinition is why a rollback of a Finalized migration does
// not apply when its plan holds no Marathon definition to create the app
// again from (a migration finalized before definitions were journaled: the
// caller must give one).
var ErrNoMarathonDefinition = errors.New("the journal holds no Marathon definition to create the app again from (migrated before definitions were journaled)")

// Next is the migration's transition function: given a state and an event
// it returns the next state and the actions to perform in it. It does no
// I/O. An event that does not apply leaves the state unchanged, returns no
// actions and a *NotApplied error saying why (the caller journals and acts
// only on an applied event; an operator's refused command gets the reason).
// An applied event always changes the state.
//
// Invariants (checked by the property test): outside Shifting,
// ShiftingBack and the weights stages exactly one platform has the whole
// weight; Marathon is scaled down (and its app deleted) only once
// Kubernetes has 100%, never while a weights push is held; a rollback
// returns all weight to a healthy Marathon (scaling it up, or creating it
// again for a finalized migration, first) before the Kubernetes release is
// removed.
func Next(s State, ev Event) (State, []Action, error) {
	n, err := next(s, ev)
	if err != nil {
		return s, nil, &NotApplied{Event: ev.Kind, Label: Label(s), Why: err}
	}
	return n, Actions(n), nil
}

// next returns the next state, or why ev does not apply to s.
func next(s State, ev Event) (State, error) {
	switch {
	case s.Phase == Finalized:
		if ev.Kind != EvRollback {
			return s, ended(s)
		}
		if len(s.Spec.MarathonDefinition) == 0 {
			return s, ErrNoMarathonDefinition
		}
		return revert(s, ev.Reason), nil
	case s.Phase.Terminal():
		return s, ended(s)
	case s.GaveUp && ev.Kind != EvRestart:
		return s, fmt.Errorf("gave up (%s); restart the migration to attempt it again", s.Reason)
	case ev.Kind == EvHeld:
		return hold(s, ev.Reason)
	}
	s.Reason, s.Held = ev.Reason, false
	shifting := s.Phase == Shifting || s.Phase == ShiftingBack
	switch ev.Kind {
	case EvRestart:
		return restart(s, ev.Resume)
	case EvPause:
		if s.Paused {
			return s, errors.New("already paused")
		}
		if !shifting && s.Phase != Soaking {
			return s, fmt.Errorf("a migration pauses while shifting weights or soaking; it is %s (try again in a moment)", s.Phase)
		}
		s.Paused = true
		if ev.Reason == "" {
			s.Reason = "operator: pause"
		}
		return s, nil
	case EvResume:
		if !s.Paused {
			return s, fmt.Errorf("not paused (%s)", s.Phase)
		}
		s.Paused, s.Observations = false, 0
		if ev.Reason == "" {
			s.Reason = "operator: resume"
		}
		return s, nil
	case EvObserved:
		switch {
		case !shifting:
			return s, fmt.Errorf("no step is watched in %s", s.Phase)
		case !s.Applied:
			return s, errors.New("the step's weights are not applied yet")
		case s.Paused:
			return s, errors.New("paused: a step is not judged while paused")
		}
		return judge(s, ev.Obs), nil
	case EvStart:
		if s.Phase != Pending {
			return s, fmt.Errorf("already started (%s)", s.Phase)
		}
		s.Phase = Installing
		return s, nil
	case EvFinalize:
		if s.Phase != Soaking {
			return s, fmt.Errorf("a migration is finalized from Soaking; it is %s", s.Phase)
		}
		s.Phase, s.Paused = Finalizing, false
		if ev.Reason == "" {
			s.Reason = "operator: finalize"
		}
		return s, nil
	case EvFailed:
		if s.Phase.Retries() {
			return retry(s), nil
		}
	case EvDone, EvAbort, EvRollback:
	default:
		return s, fmt.Errorf("unknown event %q", ev.Kind)
	}
	if s.Phase.Reverting() {
		return nextBack(s, ev)
	}
	switch ev.Kind {
	case EvAbort, EvRollback:
		if s.Phase == RollingBack {
			return s, errors.New("already rolling back")
		}
		if ev.Reason == "" {
			s.Reason = "operator: " + string(ev.Kind)
		}
		if s.Phase == Pending { // nothing was done
			s.Phase, s.Cause = RolledBack, s.Reason
			return s, nil
		}
		return rollback(s), nil
	case EvFailed:
		if s.Phase == Pending {
			s.Phase, s.Cause = RolledBack, s.Reason
			return s, nil
		}
		return rollback(s), nil
	}
	return done(s)
}

// restart is what a restarted executor does with a journaled migration:
// one that gave up attempts its action again (once more: its failed
// attempts are kept); with ResumeRollback one that had not reached Soaking
// rolls back; any other continues where it stood (not applied: the state's
// action is performed again).
func restart(s State, policy ResumePolicy) (State, error) {
	if s.GaveUp {
		s.GaveUp = false
		if s.Reason == "" {
			s.Reason = "executor restarted: attempting the action again"
		}
		return s, nil
	}
	if policy != ResumeRollback {
		return s, fmt.Errorf("resume policy %s: the journaled state's action is performed again", ResumeContinue)
	}
	switch s.Phase {
	case Installing, WaitingReady, Shifting, ScalingDownMarathon:
	default:
		return s, fmt.Errorf("resume policy %s rolls back only a migration that had not reached Soaking; %s continues", policy, s.Phase)
	}
	if s.Reason == "" {
		s.Reason = "executor restarted mid-migration (resume policy: rollback)"
	}
	return rollback(s), nil
}

// retry counts a failed attempt of an action on a way back that cannot be
// left: it is performed again after a backoff (Retrying) until the plan's
// MaxAttempts failed; then the migration gives up, saying what is left.
func retry(s State) State {
	s.Attempts++
	if s.Attempts >= s.Spec.maxAttempts() {
		s.Reason = fmt.Sprintf("%s failed %d times, last: %s; run `switchyard rollback %s` once it is fixed", Label(s), s.Attempts, s.Reason, s.App)
		s.GaveUp = true
	}
	return s
}

// Retrying reports whether the state's action is performed again after it
// held or failed: the driver waits a backoff first (and takes an
// operator's command meanwhile).
func (s State) Retrying() bool {
	return !s.GaveUp && (s.Held || s.Phase.Retries() && s.Attempts > 0)
}

// ended is why nothing applies to a migration that ended (a Finalized one
// moves again only on a rollback).
func ended(s State) error {
	return fmt.Errorf("the migration already ended (%s)", s.Phase)
}

// done advances past the state's completed action.
func done(s State) (State, error) {
	switch s.Phase {
	case Installing:
		s.Phase = WaitingReady
	case WaitingReady:
		s.Phase, s.Step, s.KubePercent, s.Applied, s.Observations = Shifting, 0, s.Spec.Steps[0], false, 0
	case Shifting:
		if s.Applied {
			return s, errWatching
		}
		s.Applied = true
	case ScalingDownMarathon:
		s.Phase = Soaking
	case Soaking:
		if s.Paused {
			return s, errors.New("paused: the soak does not end while paused")
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
		return s, noAction(s)
	}
	return s, nil
}

// errWatching is why EvDone does not complete a watched step.
var errWatching = errors.New("the step is being watched: an observation completes it")

// noAction is why EvDone does not apply to a state without an action.
func noAction(s State) error {
	return fmt.Errorf("%s has no action to complete", s.Phase)
}

// judge compares a step's observation with the plan's gates (on the way
// back the observation is Marathon's).
func judge(s State, obs Observation) State {
	s.Last = obs
	s.Observations++
	pf, step := "Kubernetes", fmt.Sprintf("step %d%%", s.KubePercent)
	if s.Phase == ShiftingBack {
		pf, step = "Marathon", fmt.Sprintf("back step marathon %d%%", 100-s.KubePercent)
	}
	if obs.Requests < s.Spec.MinRequests {
		if s.Observations < s.Spec.maxObservations() {
			s.Reason = fmt.Sprintf("%s: %d of %d requests needed to judge, watching again", step, obs.Requests, s.Spec.MinRequests)
			return s
		}
		return gateFailed(s, fmt.Sprintf("%s: only %d requests reached %s in %d pauses, %d needed to judge the gates", step, obs.Requests, pf, s.Observations, s.Spec.MinRequests))
	}
	if obs.ErrorRate > s.Spec.MaxErrorRate {
		return gateFailed(s, fmt.Sprintf("gate maxErrorRate failed at %s: %s answered %d of %d requests with 5xx (%.2f%% > %.2f%%)", step, pf, obs.Errors, obs.Requests, 100*obs.ErrorRate, 100*s.Spec.MaxErrorRate))
	}
	if s.Spec.MaxP99 > 0 && obs.P99 > s.Spec.MaxP99 {
		return gateFailed(s, fmt.Sprintf("gate maxP99Latency failed at %s: %s p99 %s > %s", step, pf, obs.P99, s.Spec.MaxP99))
	}
	s.Reason = fmt.Sprintf("%s passed: %d requests, %.2f%% 5xx, p99 %s", step, obs.Requests, 100*obs.ErrorRate, obs.P99)
	if s.Phase == ShiftingBack {
		back := s.Spec.BackSteps()
		if s.Step < len(back)-1 {
			s.Step++
			s.KubePercent, s.Applied, s.Observations = back[s.Step], false, 0
			return s
		}
		s.Phase, s.Applied, s.Observations = RemovingKubernetes, false, 0
		return s
	}
	if s.Step < len(s.Spec.Steps)-1 {
		s.Step++
		s.KubePercent, s.Applied, s.Observations = s.Spec.Steps[s.Step], false, 0
		return s
	}
	s.Phase, s.MarathonDown = ScalingDownMarathon, true
	return s
}

func gateFailed(s State, reason string) State {
	s.Reason = reason
	if s.Phase == ShiftingBack {
		return returnToKubernetes(s)
	}
	if s.Spec.ManualRollback {
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

// hold records that the state's action cannot complete now (ErrHold): the
// phase, weights and step stay, the action is retried. A state already
// held, or one without an action, is unchanged.
func hold(s State, reason string) (State, error) {
	if s.Held {
		return s, fmt.Errorf("already held: %s", s.Reason)
	}
	if len(Actions(s)) == 0 {
		return s, fmt.Errorf("nothing to hold: %s has no action", Label(s))
	}
	if reason == "" {
		reason = "held"
	}
	s.Held, s.Reason = true, reason
	return s, nil
}

// revert starts the reverse migration of a finalized app: its Marathon app
// is created again (Kubernetes keeps all the weight meanwhile).
func revert(s State, reason string) State {
	if reason == "" {
		reason = "operator: rollback"
	}
	return State{App: s.App, Phase: RecreatingMarathon, Spec: s.Spec, KubePercent: 100, MarathonDown: true, Reason: reason, Cause: reason}
}

// nextBack is the transition function of the reverse migration (pause,
// resume, observations and retried failures are handled by next for both
// directions).
func nextBack(s State, ev Event) (State, error) {
	switch ev.Kind {
	case EvAbort:
		switch s.Phase {
		case RemovingKubernetes:
			return s, errors.New("the rollback of the finalized migration is removing the Kubernetes release (Marathon serves all traffic); it can no longer be aborted")
		case ReturningToKubernetes:
			return s, errors.New("already returning to Kubernetes (the rollback of the finalized migration was abandoned)")
		}
		if ev.Reason == "" {
			s.Reason = "operator: abort"
		}
		return returnToKubernetes(s), nil
	case EvRollback:
		return s, fmt.Errorf("the rollback of the finalized migration is under way (%s)", s.Phase)
	case EvFailed: // of RecreatingMarathon or ShiftingBack (next retries the others)
		return returnToKubernetes(s), nil
	}
	return doneBack(s)
}

// doneBack advances the reverse migration past its completed action.
func doneBack(s State) (State, error) {
	switch s.Phase {
	case RecreatingMarathon:
		s.Phase, s.MarathonDown = ShiftingBack, false
		s.Step, s.KubePercent, s.Applied, s.Observations = 0, s.Spec.BackSteps()[0], false, 0
	case ShiftingBack:
		if s.Applied {
			return s, errWatching
		}
		s.Applied = true
	case RemovingKubernetes:
		s.Phase, s.Attempts = RolledBack, 0
	case ReturningToKubernetes:
		s.Attempts = 0
		switch s.Stage {
		case StageWeights:
			s.KubePercent, s.Stage, s.MarathonDown = 100, StageMarathon, true
		case StageMarathon:
			s.Stage = StageDeleteMarathon
		case StageDeleteMarathon:
			s.Phase, s.Stage = Finalized, ""
			s.Reason = "rollback abandoned, the app stays on Kubernetes: " + s.Cause
		}
	default:
		return s, noAction(s)
	}
	return s, nil
}

// returnToKubernetes abandons the reverse migration: all weight goes back
// to Kubernetes, then the re-created Marathon app is scaled down and
// removed again.
func returnToKubernetes(s State) State {
	s.Phase, s.Stage, s.Paused, s.Attempts, s.Applied, s.Observations, s.Cause = ReturningToKubernetes, StageWeights, false, 0, false, 0, s.Reason
	return s
}

// Label renders a state for journal entries, progress lines and status:
// the phase with its step, stage and flags ("Shifting[25% applied held]",
// "ShiftingBack[marathon 50%]", "RollingBack[weights]").
func Label(s State) string {
	var tags []string
	switch s.Phase {
	case Shifting:
		tags = append(tags, fmt.Sprintf("%d%%", s.KubePercent))
	case ShiftingBack:
		tags = append(tags, fmt.Sprintf("marathon %d%%", 100-s.KubePercent))
	case RollingBack, ReturningToKubernetes:
		tags = append(tags, string(s.Stage))
	}
	if s.Applied && (s.Phase == Shifting || s.Phase == ShiftingBack) {
		tags = append(tags, "applied")
	}
	if s.Paused {
		tags = append(tags, "paused")
	}
	if s.Held {
		tags = append(tags, "held")
	}
	if s.GaveUp {
		tags = append(tags, "gave-up")
	}
	if len(tags) == 0 {
		return string(s.Phase)
	}
	return string(s.Phase) + "[" + strings.Join(tags, " ") + "]"
}
