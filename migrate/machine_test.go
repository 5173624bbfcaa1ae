package migrate

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

func testPlan() Spec {
	return Spec{Steps: []int{5, 25, 50, 100}, PausePerStep: time.Second, Soak: 2 * time.Second, MaxErrorRate: 0.01, MaxP99: 500 * time.Millisecond, MarathonInstances: 2,
		MarathonDefinition: json.RawMessage(`{"id":"/web"}`)}
}

// states returns one state per phase (and per sub-step of Shifting and
// RollingBack), keyed by a readable name.
func states() map[string]State {
	p := testPlan()
	base := func(ph Phase) State { return State{App: "web", Phase: ph, Spec: p} }
	m := map[string]State{}
	m["pending"] = base(Pending)
	m["installing"] = base(Installing)
	m["waiting"] = base(WaitingReady)
	s := base(Shifting)
	s.Step, s.KubePercent = 1, 25
	m["shift-setting"] = s
	s.Applied = true
	m["shift-watching"] = s
	s.Paused = true
	m["shift-paused"] = s
	s = base(Shifting)
	s.Step, s.KubePercent, s.Applied = 3, 100, true
	m["shift-last"] = s
	s = base(Shifting)
	s.Step, s.KubePercent, s.Held, s.Reason = 1, 25, true, "nginx b not at version 7"
	m["shift-held"] = s
	s = base(ScalingDownMarathon)
	s.Step, s.KubePercent, s.MarathonDown = 3, 100, true
	m["scaling-down"] = s
	s.Phase = Soaking
	m["soaking"] = s
	s.Paused = true
	m["soak-paused"] = s
	s.Paused, s.Phase = false, Finalizing
	m["finalizing"] = s
	s.Phase = Finalized
	m["finalized"] = s
	s.Spec.MarathonDefinition = nil
	m["finalized-nodef"] = s
	// The way back of a finalized migration (back steps 50, 25, 5, 0).
	b := base(RecreatingMarathon)
	b.KubePercent, b.MarathonDown = 100, true
	m["recreating"] = b
	b = base(ShiftingBack)
	b.Step, b.KubePercent = 1, 25
	m["back-setting"] = b
	b.Applied = true
	m["back-watching"] = b
	b.Paused = true
	m["back-paused"] = b
	b = base(ShiftingBack)
	b.Step, b.KubePercent, b.Applied = 3, 0, true
	m["back-last"] = b
	b = base(RemovingKubernetes)
	m["removing-kubernetes"] = b
	b = base(ReturningToKubernetes)
	b.KubePercent, b.Stage = 25, StageWeights
	m["return-weights"] = b
	b.KubePercent, b.Stage, b.MarathonDown = 100, StageMarathon, true
	m["return-marathon"] = b
	b.Stage = StageDeleteMarathon
	m["return-delete"] = b
	r := base(RollingBack)
	r.KubePercent, r.Stage = 25, StageWeights
	m["rb-weights"] = r
	r.Attempts = DefaultMaxAttempts - 1
	m["rb-last-attempt"] = r
	r.Attempts, r.GaveUp, r.Reason = DefaultMaxAttempts, true, "RollingBack[weights] failed 60 times, last: boom; run `switchyard rollback web` once it is fixed"
	m["rb-gave-up"] = r
	r = base(RollingBack)
	r.KubePercent, r.Stage = 25, StageWeights
	r.KubePercent, r.Stage = 0, StageMarathon
	m["rb-marathon"] = r
	r.Stage = StageKubernetes
	m["rb-kubernetes"] = r
	r = base(RollingBack)
	r.KubePercent, r.Stage, r.MarathonDown = 100, StageMarathon, true
	m["rb-marathon-first"] = r
	r.Stage, r.MarathonDown, r.MarathonRestored = StageWeights, false, true
	m["rb-weights-after-up"] = r
	m["rolledback"] = base(RolledBack)
	return m
}

var (
	good = Observation{Requests: 100, ErrorRate: 0, P99: 20 * time.Millisecond}
	bad  = Observation{Requests: 100, Errors: 10, ErrorRate: 0.1, P99: 20 * time.Millisecond}
	slow = Observation{Requests: 100, P99: time.Second}
)

func events() map[string]Event {
	return map[string]Event{
		"start": {Kind: EvStart}, "done": {Kind: EvDone}, "obs-good": {Kind: EvObserved, Obs: good},
		"obs-bad": {Kind: EvObserved, Obs: bad}, "obs-slow": {Kind: EvObserved, Obs: slow},
		"failed": {Kind: EvFailed, Reason: "boom"}, "pause": {Kind: EvPause}, "resume": {Kind: EvResume},
		"abort": {Kind: EvAbort}, "rollback": {Kind: EvRollback}, "finalize": {Kind: EvFinalize},
		"held":    {Kind: EvHeld, Reason: "nginx b does not acknowledge"},
		"restart": {Kind: EvRestart, Resume: ResumeContinue}, "restart-rb": {Kind: EvRestart, Resume: ResumeRollback},
	}
}

// TestNextTable lists the expected result of every state × event pair:
// "-" means the event does not apply (state unchanged, no action).
func TestNextTable(t *testing.T) {
	rb := "RollingBack/weights"
	rbm := "RollingBack/marathon"
	ret := "ReturningToKubernetes/weights"
	want := map[string]map[string]string{
		"pending":             {"start": "Installing", "failed": "RolledBack", "abort": "RolledBack", "rollback": "RolledBack"},
		"installing":          {"done": "WaitingReady", "failed": rb, "abort": rb, "rollback": rb, "held": "Installing held", "restart-rb": rb},
		"waiting":             {"done": "Shifting 5% setting", "failed": rb, "abort": rb, "rollback": rb, "held": "WaitingReady held", "restart-rb": rb},
		"shift-setting":       {"done": "Shifting 25% watching", "failed": rb, "abort": rb, "rollback": rb, "pause": "Shifting 25% setting paused", "held": "Shifting 25% setting held", "restart-rb": rb},
		"shift-watching":      {"obs-good": "Shifting 50% setting", "obs-bad": rb, "obs-slow": rb, "failed": rb, "abort": rb, "rollback": rb, "pause": "Shifting 25% watching paused", "held": "Shifting 25% watching held", "restart-rb": rb},
		"shift-paused":        {"resume": "Shifting 25% watching", "failed": rb, "abort": rb, "rollback": rb, "restart-rb": rb},
		"shift-last":          {"obs-good": "ScalingDownMarathon", "obs-bad": rb, "obs-slow": rb, "failed": rb, "abort": rb, "rollback": rb, "pause": "Shifting 100% watching paused", "held": "Shifting 100% watching held", "restart-rb": rb},
		"shift-held":          {"done": "Shifting 25% watching", "failed": rb, "abort": rb, "rollback": rb, "pause": "Shifting 25% setting paused", "restart-rb": rb},
		"scaling-down":        {"done": "Soaking", "failed": rbm, "abort": rbm, "rollback": rbm, "held": "ScalingDownMarathon held", "restart-rb": rbm},
		"soaking":             {"done": "Finalizing", "finalize": "Finalizing", "failed": rbm, "abort": rbm, "rollback": rbm, "pause": "Soaking paused", "held": "Soaking held"},
		"soak-paused":         {"finalize": "Finalizing", "resume": "Soaking", "failed": rbm, "abort": rbm, "rollback": rbm},
		"finalizing":          {"done": "Finalized", "failed": rbm, "abort": rbm, "rollback": rbm, "held": "Finalizing held"},
		"finalized":           {"rollback": "RecreatingMarathon"},
		"finalized-nodef":     {},
		"rb-last-attempt":     {"done": "RollingBack/marathon", "failed": "RollingBack/weights attempt 60 gave-up", "held": "RollingBack/weights attempt 59 held"},
		"rb-gave-up":          {"restart": "RollingBack/weights attempt 60", "restart-rb": "RollingBack/weights attempt 60"},
		"rb-weights":          {"done": "RollingBack/marathon", "failed": "RollingBack/weights attempt 1", "held": "RollingBack/weights held"},
		"rb-marathon":         {"done": "RollingBack/kubernetes", "failed": "RollingBack/marathon attempt 1", "held": "RollingBack/marathon held"},
		"rb-kubernetes":       {"done": "RolledBack", "failed": "RollingBack/kubernetes attempt 1", "held": "RollingBack/kubernetes held"},
		"rb-marathon-first":   {"done": "RollingBack/weights", "failed": "RollingBack/marathon attempt 1", "held": "RollingBack/marathon held"},
		"rb-weights-after-up": {"done": "RollingBack/kubernetes", "failed": "RollingBack/weights attempt 1", "held": "RollingBack/weights held"},
		"rolledback":          {},
		"recreating":          {"done": "ShiftingBack marathon 50% setting", "failed": ret, "abort": ret, "held": "RecreatingMarathon held"},
		"back-setting":        {"done": "ShiftingBack marathon 75% watching", "failed": ret, "abort": ret, "pause": "ShiftingBack marathon 75% setting paused", "held": "ShiftingBack marathon 75% setting held"},
		"back-watching":       {"obs-good": "ShiftingBack marathon 95% setting", "obs-bad": ret, "obs-slow": ret, "failed": ret, "abort": ret, "pause": "ShiftingBack marathon 75% watching paused", "held": "ShiftingBack marathon 75% watching held"},
		"back-paused":         {"resume": "ShiftingBack marathon 75% watching", "failed": ret, "abort": ret},
		"back-last":           {"obs-good": "RemovingKubernetes", "obs-bad": ret, "obs-slow": ret, "failed": ret, "abort": ret, "pause": "ShiftingBack marathon 100% watching paused", "held": "ShiftingBack marathon 100% watching held"},
		"removing-kubernetes": {"done": "RolledBack", "failed": "RemovingKubernetes attempt 1", "held": "RemovingKubernetes held"},
		"return-weights":      {"done": "ReturningToKubernetes/marathon", "failed": "ReturningToKubernetes/weights attempt 1", "held": "ReturningToKubernetes/weights held"},
		"return-marathon":     {"done": "ReturningToKubernetes/delete-marathon", "failed": "ReturningToKubernetes/marathon attempt 1", "held": "ReturningToKubernetes/marathon held"},
		"return-delete":       {"done": "Finalized", "failed": "ReturningToKubernetes/delete-marathon attempt 1", "held": "ReturningToKubernetes/delete-marathon held"},
	}
	sts, evs := states(), events()
	if len(want) != len(sts) {
		t.Fatalf("table covers %d states, there are %d", len(want), len(sts))
	}
	for sn, s := range sts {
		for en, ev := range evs {
			got, acts, err := Next(s, ev)
			exp := want[sn][en]
			if exp == "" {
				exp = "-"
			}
			desc := "-"
			if !reflect.DeepEqual(got, s) {
				desc = describe(got)
			}
			if desc != exp {
				t.Errorf("%s + %s: got %s, want %s (reason %q)", sn, en, desc, exp, got.Reason)
			}
			if (desc == "-") != (err != nil) {
				t.Errorf("%s + %s: state %s, error %v: an event applies exactly when it changes the state", sn, en, desc, err)
			}
			if desc == "-" && acts != nil {
				t.Errorf("%s + %s: unchanged state with actions %v", sn, en, acts)
			}
			if desc != "-" && !reflect.DeepEqual(acts, Actions(got)) {
				t.Errorf("%s + %s: actions %v, want Actions(next) %v", sn, en, acts, Actions(got))
			}
		}
	}
}

// TestNextNotApplied: an event that does not apply is refused with a
// *NotApplied error that says why (the control server answers an
// operator's command with it; the executor journals nothing).
func TestNextNotApplied(t *testing.T) {
	sts, evs := states(), events()
	evs["unknown"] = Event{Kind: "promote"}
	for _, tc := range []struct{ state, event, want string }{
		{"installing", "pause", "a migration pauses while shifting weights or soaking; it is Installing"},
		{"shift-paused", "pause", "already paused"},
		{"shift-watching", "resume", "not paused (Shifting)"},
		{"rb-weights", "abort", "already rolling back"},
		{"rb-weights", "rollback", "already rolling back"},
		{"finalized", "abort", "the migration already ended (Finalized)"},
		{"rolledback", "rollback", "the migration already ended (RolledBack)"},
		{"finalized-nodef", "rollback", "holds no Marathon definition"},
		{"return-weights", "abort", "already returning to Kubernetes"},
		{"removing-kubernetes", "abort", "it can no longer be aborted"},
		{"removing-kubernetes", "pause", "it is RemovingKubernetes"},
		{"back-watching", "rollback", "the rollback of the finalized migration is under way (ShiftingBack)"},
		{"shift-held", "held", "already held: nginx b not at version 7"},
		{"shift-paused", "held", "nothing to hold: Shifting[25% applied paused] has no action"},
		{"shift-watching", "done", "the step is being watched: an observation completes it"},
		{"back-watching", "done", "the step is being watched: an observation completes it"},
		{"shift-setting", "obs-good", "the step's weights are not applied yet"},
		{"shift-paused", "obs-good", "paused: a step is not judged while paused"},
		{"soaking", "obs-good", "no step is watched in Soaking"},
		{"soak-paused", "done", "paused: the soak does not end while paused"},
		{"installing", "start", "already started (Installing)"},
		{"shift-watching", "finalize", "a migration is finalized from Soaking; it is Shifting"},
		{"pending", "done", "Pending has no action to complete"},
		{"shift-watching", "unknown", `unknown event "promote"`},
	} {
		s := sts[tc.state]
		got, acts, err := Next(s, evs[tc.event])
		var na *NotApplied
		if !errors.As(err, &na) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s + %s: error %v, want a *NotApplied saying %q", tc.state, tc.event, err, tc.want)
			continue
		}
		if na.Event != evs[tc.event].Kind || na.Label != Label(s) || !reflect.DeepEqual(got, s) || acts != nil {
			t.Errorf("%s + %s: %+v, state %s, actions %v: want the event and label, the state unchanged, no actions", tc.state, tc.event, na, describe(got), acts)
		}
	}
}

// TestRestart: a restarted executor gives the journaled state EvRestart
// with its resume policy; the machine rolls back a migration that had not
// reached Soaking under ResumeRollback and otherwise continues it (not
// applied: the state's action is performed again).
func TestRestart(t *testing.T) {
	sts := states()
	for _, tc := range []struct {
		state  string
		policy ResumePolicy
		want   string // describe(next), or the refusal
		reason string
	}{
		{"shift-watching", ResumeRollback, "RollingBack/weights", "executor restarted mid-migration (resume policy: rollback)"},
		{"shift-paused", ResumeRollback, "RollingBack/weights", "executor restarted mid-migration (resume policy: rollback)"},
		{"shift-held", ResumeRollback, "RollingBack/weights", "executor restarted mid-migration (resume policy: rollback)"},
		{"installing", ResumeRollback, "RollingBack/weights", "executor restarted mid-migration (resume policy: rollback)"},
		{"scaling-down", ResumeRollback, "RollingBack/marathon", "executor restarted mid-migration (resume policy: rollback)"},
		{"soaking", ResumeRollback, "-", "resume policy rollback rolls back only a migration that had not reached Soaking; Soaking continues"},
		{"rb-marathon", ResumeRollback, "-", "RollingBack continues"},
		{"back-watching", ResumeRollback, "-", "ShiftingBack continues"},
		{"shift-watching", ResumeContinue, "-", "resume policy continue: the journaled state's action is performed again"},
		{"shift-watching", "", "-", "resume policy continue"},
		{"finalized", ResumeRollback, "-", "the migration already ended (Finalized)"},
		{"rolledback", ResumeContinue, "-", "the migration already ended (RolledBack)"},
	} {
		s := sts[tc.state]
		got, acts, err := Next(s, Event{Kind: EvRestart, Resume: tc.policy})
		if tc.want == "-" {
			if err == nil || !strings.Contains(err.Error(), tc.reason) || !reflect.DeepEqual(got, s) || acts != nil {
				t.Errorf("%s, %q: %s, %v, want not applied: %q", tc.state, tc.policy, describe(got), err, tc.reason)
			}
			continue
		}
		if err != nil || describe(got) != tc.want || got.Reason != tc.reason || got.Cause != tc.reason || got.Held || got.Paused {
			t.Errorf("%s, %q: %s (reason %q, cause %q), %v; want %s with %q", tc.state, tc.policy, describe(got), got.Reason, got.Cause, err, tc.want, tc.reason)
		}
	}
}

// TestGiveUp: a failed action on a way back that cannot be left is
// retried until the plan's MaxAttempts failed; then the machine gives up:
// no action, nothing applies but a restart, which attempts the action once
// more (the failed attempts are kept, so another failure gives up again).
func TestGiveUp(t *testing.T) {
	sts := states()
	fail := Event{Kind: EvFailed, Reason: "remove the Kubernetes release: connection refused"}
	for _, name := range []string{"rb-kubernetes", "removing-kubernetes", "return-delete"} {
		s := sts[name]
		s.Spec.MaxAttempts = 3
		label := Label(s)
		for i := 1; i < 3; i++ {
			s, _, _ = Next(s, fail)
			if s.GaveUp || !s.Retrying() || s.Attempts != i || len(Actions(s)) != 1 {
				t.Fatalf("%s: after %d failures %s, retrying %v, actions %v", name, i, describe(s), s.Retrying(), Actions(s))
			}
		}
		s, acts, err := Next(s, fail)
		want := label + " failed 3 times, last: remove the Kubernetes release: connection refused; run `switchyard rollback web` once it is fixed"
		if err != nil || !s.GaveUp || s.Retrying() || acts != nil || s.Reason != want || !strings.HasSuffix(Label(s), "gave-up]") {
			t.Fatalf("%s: third failure: %s %q, label %s, actions %v, %v; want gave up with %q", name, describe(s), s.Reason, Label(s), acts, err, want)
		}
		for _, ev := range []Event{{Kind: EvDone}, fail, {Kind: EvAbort}, {Kind: EvHeld}, {Kind: EvResume}} {
			if _, _, err := Next(s, ev); err == nil || !strings.Contains(err.Error(), "gave up ("+want+"); restart the migration") {
				t.Errorf("%s gave up + %s: %v, want refused", name, ev.Kind, err)
			}
		}
		s, acts, err = Next(s, Event{Kind: EvRestart})
		if err != nil || s.GaveUp || s.Attempts != 3 || len(acts) != 1 || !s.Retrying() {
			t.Fatalf("%s: restart after giving up: %s, actions %v, %v", name, describe(s), acts, err)
		}
		if again, _, _ := Next(s, fail); !again.GaveUp || again.Attempts != 4 {
			t.Errorf("%s: a failure after the restart: %s, want given up again", name, describe(again))
		}
		if next, _, _ := Next(s, Event{Kind: EvDone}); next.Attempts != 0 || next.GaveUp || next.Retrying() {
			t.Errorf("%s: done after the restart: %s", name, describe(next))
		}
	}
	// Forward phases do not retry: a failure rolls back.
	if s, _, _ := Next(sts["installing"], fail); s.Phase != RollingBack || s.Attempts != 0 || s.Retrying() {
		t.Errorf("installing + failed: %s", describe(s))
	}
}

func describe(s State) string {
	d := string(s.Phase)
	switch s.Phase {
	case Shifting, ShiftingBack:
		if s.Phase == Shifting {
			d += fmt.Sprintf(" %d%%", s.KubePercent)
		} else {
			d += fmt.Sprintf(" marathon %d%%", 100-s.KubePercent)
		}
		if s.Applied {
			d += " watching"
		} else {
			d += " setting"
		}
	case RollingBack, ReturningToKubernetes:
		d += "/" + string(s.Stage)
	}
	if s.Attempts > 0 {
		d += fmt.Sprintf(" attempt %d", s.Attempts)
	}
	if s.Paused {
		d += " paused"
	}
	if s.Held {
		d += " held"
	}
	if s.GaveUp {
		d += " gave-up"
	}
	return d
}

func TestActionsPerState(t *testing.T) {
	want := map[string]string{
		"pending": "", "installing": "install", "waiting": "wait-ready",
		"shift-setting": "set-weights kubernetes=25% marathon=75%", "shift-watching": "observe 1s", "shift-paused": "",
		"shift-last": "observe 1s", "scaling-down": "scale-marathon to 0", "soaking": "wait 2s", "soak-paused": "",
		"finalizing": "delete-marathon", "finalized": "",
		"rb-weights": "set-weights kubernetes=0% marathon=100%", "rb-marathon": "scale-marathon to 2",
		"rb-last-attempt": "set-weights kubernetes=0% marathon=100%", "rb-gave-up": "",
		"rb-kubernetes": "remove-kubernetes", "rb-marathon-first": "scale-marathon to 2",
		"rb-weights-after-up": "set-weights kubernetes=0% marathon=100%", "rolledback": "",
		"shift-held": "set-weights kubernetes=25% marathon=75%", "finalized-nodef": "",
		"recreating": "create-marathon with 2", "back-setting": "set-weights kubernetes=25% marathon=75%",
		"back-watching": "observe marathon 1s", "back-paused": "", "back-last": "observe marathon 1s",
		"removing-kubernetes": "remove-kubernetes", "return-weights": "set-weights kubernetes=100% marathon=0%",
		"return-marathon": "scale-marathon to 0", "return-delete": "delete-marathon",
	}
	for name, s := range states() {
		var got []string
		for _, a := range Actions(s) {
			got = append(got, a.String())
		}
		if g := strings.Join(got, ","); g != want[name] {
			t.Errorf("%s: actions %q, want %q", name, g, want[name])
		}
	}
}

func TestGates(t *testing.T) {
	s := states()["shift-watching"]
	for _, tc := range []struct {
		name string
		plan func(*Spec)
		obs  Observation
		want string
	}{
		{"error rate", nil, bad, "gate maxErrorRate failed at step 25%: Kubernetes answered 10 of 100 requests with 5xx (10.00% > 1.00%)"},
		{"p99", nil, slow, "gate maxP99Latency failed at step 25%: Kubernetes p99 1s > 500ms"},
		{"too few requests", func(p *Spec) { p.MinRequests = 50 }, Observation{Requests: 3}, "step 25%: 3 of 50 requests needed to judge, watching again"},
		{"held", func(p *Spec) { p.ManualRollback = true }, bad, "(held for an operator: resume, or rollback)"},
	} {
		st := s
		if tc.plan != nil {
			tc.plan(&st.Spec)
		}
		got, _, _ := Next(st, Event{Kind: EvObserved, Obs: tc.obs})
		if !strings.Contains(got.Reason, tc.want) {
			t.Errorf("%s: reason %q, want %q", tc.name, got.Reason, tc.want)
		}
	}
	// Not enough traffic for MaxObservations pauses: rolled back.
	st := s
	st.Spec.MinRequests, st.Spec.MaxObservations = 50, 3
	for i := 0; i < 3; i++ {
		st, _, _ = Next(st, Event{Kind: EvObserved, Obs: Observation{Requests: 1}})
	}
	if st.Phase != RollingBack || !strings.Contains(st.Reason, "only 1 requests reached Kubernetes in 3 pauses") {
		t.Fatalf("after 3 thin pauses: %s %q", describe(st), st.Reason)
	}
}

// TestGatesBack: on the way back the gates judge Marathon's requests, and
// a failed gate returns to Kubernetes (also with autoRollback: false:
// nothing is lost, the app keeps running on Kubernetes).
func TestGatesBack(t *testing.T) {
	for _, tc := range []struct {
		name   string
		manual bool
		obs    Observation
		want   string
		phase  Phase
	}{
		{"error rate", false, bad, "gate maxErrorRate failed at back step marathon 75%: Marathon answered 10 of 100 requests with 5xx", ReturningToKubernetes},
		{"p99, manual rollback", true, slow, "gate maxP99Latency failed at back step marathon 75%: Marathon p99 1s > 500ms", ReturningToKubernetes},
		{"passed", false, good, "back step marathon 75% passed: 100 requests", ShiftingBack},
	} {
		st := states()["back-watching"]
		st.Spec.ManualRollback = tc.manual
		got, _, _ := Next(st, Event{Kind: EvObserved, Obs: tc.obs})
		if got.Phase != tc.phase || !strings.Contains(got.Reason, tc.want) {
			t.Errorf("%s: %s %q, want %s %q", tc.name, describe(got), got.Reason, tc.phase, tc.want)
		}
		if tc.phase == ReturningToKubernetes && got.Cause != got.Reason {
			t.Errorf("%s: cause %q", tc.name, got.Cause)
		}
	}
	// The return ends Finalized with the cause.
	st := states()["return-delete"]
	st.Cause = "gate maxErrorRate failed"
	got, _, _ := Next(st, Event{Kind: EvDone})
	if got.Phase != Finalized || got.Reason != "rollback abandoned, the app stays on Kubernetes: gate maxErrorRate failed" {
		t.Fatalf("%s %q", describe(got), got.Reason)
	}
	// A rollback of a finalized migration starts afresh.
	st = states()["finalized"]
	st.Cause, st.Last = "an earlier abandoned rollback", good
	got, acts, _ := Next(st, Event{Kind: EvRollback, Reason: "ticket 7"})
	if got.Phase != RecreatingMarathon || got.Cause != "ticket 7" || got.Last != (Observation{}) || got.KubePercent != 100 || len(acts) != 1 || acts[0].Kind != ActCreateMarathon {
		t.Fatalf("%+v %v", got, acts)
	}
}

func TestBackSteps(t *testing.T) {
	for _, tc := range []struct{ steps, want []int }{
		{[]int{5, 25, 50, 100}, []int{50, 25, 5, 0}},
		{[]int{100}, []int{0}},
		{[]int{50, 100}, []int{50, 0}},
	} {
		if got := (Spec{Steps: tc.steps}).BackSteps(); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%v: %v, want %v", tc.steps, got, tc.want)
		}
	}
}

// TestLabel: the label (journal entries' from/to, status' phase) shows the
// step, the stage and whether the migration is paused or held.
func TestLabel(t *testing.T) {
	want := map[string]string{
		"pending": "Pending", "shift-setting": "Shifting[25%]", "shift-watching": "Shifting[25% applied]",
		"shift-paused": "Shifting[25% applied paused]", "shift-held": "Shifting[25% held]", "soak-paused": "Soaking[paused]",
		"rb-weights": "RollingBack[weights]", "finalized": "Finalized", "recreating": "RecreatingMarathon",
		"back-watching": "ShiftingBack[marathon 75% applied]", "back-paused": "ShiftingBack[marathon 75% applied paused]",
		"return-marathon": "ReturningToKubernetes[marathon]", "rb-gave-up": "RollingBack[weights gave-up]",
	}
	sts := states()
	for name, l := range want {
		if got := Label(sts[name]); got != l {
			t.Errorf("%s: %q, want %q", name, got, l)
		}
	}
	held, _, _ := Next(sts["installing"], Event{Kind: EvHeld, Reason: "x"})
	if got := Label(held); got != "Installing[held]" {
		t.Errorf("held install: %q", got)
	}
}

// TestStart: the machine gives a new migration's plan its defaults and
// checks it.
func TestStart(t *testing.T) {
	s, err := Start("web", Spec{MarathonInstances: 2, MaxErrorRate: 0.01})
	if err != nil || s.Phase != Pending || s.App != "web" || !reflect.DeepEqual(s.Spec.Steps, DefaultSteps) {
		t.Fatalf("%+v %v", s, err)
	}
	s.Spec.Steps[0] = 1
	if DefaultSteps[0] != 5 {
		t.Fatalf("the plan shares DefaultSteps: %v", DefaultSteps)
	}
	if _, err := Start("web", Spec{Steps: []int{5, 50}, MarathonInstances: 2}); err == nil || err.Error() != "plan: steps: last step is 50, must be 100" {
		t.Fatalf("bad plan: %v", err)
	}
	if _, err := Start("web", Spec{}); err == nil || !strings.Contains(err.Error(), "plan: marathonInstances: 0") {
		t.Fatalf("no instances: %v", err)
	}
	// A step without enough traffic is watched DefaultMaxObservations
	// pauses when the plan does not say.
	st := states()["shift-watching"]
	st.Spec.MinRequests = 50
	for i := 1; i <= DefaultMaxObservations; i++ {
		if st.Phase != Shifting {
			t.Fatalf("rolled back after %d thin pauses", i-1)
		}
		st, _, _ = Next(st, Event{Kind: EvObserved, Obs: Observation{Requests: 1}})
	}
	if st.Phase != RollingBack || !strings.Contains(st.Reason, fmt.Sprintf("in %d pauses", DefaultMaxObservations)) {
		t.Fatalf("after %d thin pauses: %s %q", DefaultMaxObservations, describe(st), st.Reason)
	}
}

func TestPlanCheck(t *testing.T) {
	for _, tc := range []struct {
		steps []int
		inst  int
		want  string
	}{
		{nil, 1, "steps: empty"}, {[]int{5, 5, 100}, 1, "steps[1]: 5 must be greater than 5"},
		{[]int{5, 50}, 1, "last step is 50"}, {[]int{100}, 0, "marathonInstances: 0"}, {[]int{10, 100}, 2, ""},
	} {
		err := Spec{Steps: tc.steps, MarathonInstances: tc.inst}.Check()
		if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%v/%d: %v, want %q", tc.steps, tc.inst, err, tc.want)
		}
	}
}

// world models what the actions did to the platforms, to check the
// invariants of any event sequence.
type world struct {
	kube        int  // Kubernetes share in nginx
	marathonUp  bool // Marathon runs its instances (and is in the pool)
	marathonDef bool // the Marathon app exists
	kubeUp      bool // the release is installed
	// heldPush is true from a weights push that held until a push completes
	// (nginx instances may still be at different weights).
	heldPush bool
}

func (w *world) apply(t *rapid.T, a Action) {
	switch a.Kind {
	case ActInstall:
		w.kubeUp = true
	case ActSetWeights:
		if a.KubePercent > 0 && !w.kubeUp {
			t.Fatalf("weights %d%% to Kubernetes that is not installed", a.KubePercent)
		}
		if a.KubePercent < 100 && (!w.marathonUp || !w.marathonDef) {
			t.Fatalf("weights %d%% to Marathon that is scaled down or deleted", 100-a.KubePercent)
		}
		w.kube, w.heldPush = a.KubePercent, false
	case ActCreateMarathon:
		if w.kube != 100 || !w.kubeUp {
			t.Fatalf("Marathon created again while Kubernetes has %d%% (installed: %v)", w.kube, w.kubeUp)
		}
		w.marathonDef, w.marathonUp = true, true
	case ActScaleMarathon:
		if a.Instances == 0 && w.kube != 100 {
			t.Fatalf("Marathon scaled down while it has %d%% of the traffic", 100-w.kube)
		}
		if a.Instances == 0 && w.heldPush {
			t.Fatalf("Marathon scaled down while a weights push is held")
		}
		if a.Instances > 0 && !w.marathonDef {
			t.Fatalf("Marathon scaled up but its app was deleted")
		}
		w.marathonUp = a.Instances > 0
	case ActDeleteMarathon:
		if w.kube != 100 || w.marathonUp {
			t.Fatalf("Marathon app deleted with kube=%d%% marathonUp=%v", w.kube, w.marathonUp)
		}
		w.marathonDef = false
	case ActRemoveKubernetes:
		if w.kube != 0 || !w.marathonUp {
			t.Fatalf("Kubernetes removed while it has %d%% of the traffic (Marathon up: %v)", w.kube, w.marathonUp)
		}
		w.kubeUp = false
	}
}

// TestProperty drives the machine with random event sequences (including
// holds, and rollbacks of finalized migrations); whenever an action
// "completes" its effect is applied to a model of the platforms.
// Invariants: exactly one platform has all the weight unless a shift (or a
// weights stage) is in progress; traffic only goes to a running platform;
// Kubernetes is removed only after all weight is back on a running
// Marathon; the Marathon app is created again only while Kubernetes has all
// the weight and deleted only once Kubernetes has 100%; Marathon is never
// scaled down while a weights push is held; a hold changes neither phase
// nor weights nor the action; terminal states are consistent.
func TestProperty(t *testing.T) {
	kinds := []EventKind{EvStart, EvDone, EvDone, EvDone, EvObserved, EvObserved, EvFailed, EvPause, EvResume, EvAbort, EvRollback, EvFinalize, EvHeld, EvHeld, EvRestart}
	rapid.Check(t, func(t *rapid.T) {
		p := testPlan()
		p.Steps = rapid.SampledFrom([][]int{{100}, {5, 25, 50, 100}, {50, 100}, {1, 2, 3, 100}}).Draw(t, "steps")
		p.ManualRollback = rapid.Bool().Draw(t, "manual")
		p.MaxAttempts = rapid.SampledFrom([]int{0, 2}).Draw(t, "maxAttempts")
		s, err := Start("web", p)
		if err != nil {
			t.Fatal(err)
		}
		w := world{marathonUp: true, marathonDef: true}
		n := rapid.IntRange(0, 150).Draw(t, "n")
		for i := 0; i < n; i++ {
			ev := Event{Kind: rapid.SampledFrom(kinds).Draw(t, "kind")}
			if rapid.IntRange(0, 9).Draw(t, "progress") < 6 {
				// mostly the natural completion of the state's action
				ev.Kind = EvDone
				if s.Phase == Pending {
					ev.Kind = EvStart
				}
				if acts := Actions(s); len(acts) == 1 && acts[0].Kind == ActObserve {
					ev.Kind = EvObserved
				}
			}
			if ev.Kind == EvObserved {
				ev.Obs = rapid.SampledFrom([]Observation{good, good, good, bad, slow}).Draw(t, "obs")
			}
			if ev.Kind == EvDone || ev.Kind == EvObserved {
				// the state's action completed: it had its effect
				for _, a := range Actions(s) {
					if (a.Kind == ActObserve) != (ev.Kind == EvObserved) {
						continue
					}
					w.apply(t, a)
				}
			}
			if ev.Kind == EvRestart {
				ev.Resume = rapid.SampledFrom([]ResumePolicy{ResumeContinue, ResumeRollback}).Draw(t, "policy")
			}
			if ev.Kind == EvHeld {
				ev.Reason = "nginx b does not acknowledge"
				if acts := Actions(s); len(acts) == 1 && acts[0].Kind == ActSetWeights {
					w.heldPush = true
				}
			}
			n, acts, err := Next(s, ev)
			if acts != nil && !reflect.DeepEqual(acts, Actions(n)) {
				t.Fatalf("actions %v differ from Actions(next) %v", acts, Actions(n))
			}
			if changed := !reflect.DeepEqual(n, s); changed != (err == nil) {
				t.Fatalf("%s + %s: changed %v but error %v (an event applies exactly when it changes the state)", describe(s), ev.Kind, changed, err)
			}
			var na *NotApplied
			if err != nil && (!errors.As(err, &na) || na.Event != ev.Kind || na.Label != Label(s) || err.Error() == "") {
				t.Fatalf("%s + %s: error %#v, want a *NotApplied with a reason", describe(s), ev.Kind, err)
			}
			if ev.Kind == EvHeld && acts != nil {
				if !n.Held || n.Phase != s.Phase || n.KubePercent != s.KubePercent || n.Step != s.Step || n.Stage != s.Stage || !reflect.DeepEqual(acts, Actions(s)) {
					t.Fatalf("hold changed %s into %s (actions %v)", describe(s), describe(n), acts)
				}
			}
			if n.Held {
				for _, a := range Actions(n) {
					if a.Kind == ActScaleMarathon && a.Instances == 0 && w.heldPush {
						t.Fatalf("%s: Marathon to be scaled down while a weights push is held", describe(n))
					}
				}
			}
			if n.GaveUp && (!n.Phase.Retries() || len(Actions(n)) != 0 || n.Attempts < n.Spec.maxAttempts() || n.Retrying()) {
				t.Fatalf("%s: gave up outside a way back that cannot be left, or with an action", describe(n))
			}
			s = n
			inShift := s.Phase == Shifting || s.Phase == ShiftingBack || s.Stage == StageWeights
			if !inShift && w.kube != 0 && w.kube != 100 {
				t.Fatalf("%s: traffic split %d%% outside a shift", describe(s), w.kube)
			}
			switch s.Phase {
			case Soaking, Finalizing, Finalized, RecreatingMarathon:
				if w.kube != 100 {
					t.Fatalf("%s with kube=%d%%", describe(s), w.kube)
				}
			case RemovingKubernetes:
				if w.kube != 0 || !w.marathonUp {
					t.Fatalf("%s with kube=%d%%, Marathon up %v", describe(s), w.kube, w.marathonUp)
				}
			}
		}
		// Drive to the end: the state's action completes until terminal
		// (roll back what is left; abort a rollback of a finalized
		// migration half of the time).
		if !s.Phase.Terminal() {
			if s.Phase.Reverting() {
				if rapid.Bool().Draw(t, "abort back") {
					s, _, _ = Next(s, Event{Kind: EvAbort})
				}
			} else {
				s, _, _ = Next(s, Event{Kind: EvRollback})
			}
			if s.Phase == Pending {
				s, _, _ = Next(s, Event{Kind: EvStart})
				s, _, _ = Next(s, Event{Kind: EvRollback})
			}
		}
		for i := 0; !s.Phase.Terminal(); i++ {
			if i > 20 {
				t.Fatalf("no end: %s", describe(s))
			}
			ev := Event{Kind: EvDone}
			for _, a := range Actions(s) {
				if a.Kind == ActObserve {
					ev = Event{Kind: EvObserved, Obs: good}
				} else {
					w.apply(t, a)
				}
			}
			switch {
			case s.GaveUp:
				ev = Event{Kind: EvRestart}
			case len(Actions(s)) == 0: // paused on the way back
				ev = Event{Kind: EvResume}
			}
			s, _, _ = Next(s, ev)
		}
		switch s.Phase {
		case RolledBack:
			if w.kube != 0 || !w.marathonUp || !w.marathonDef || w.kubeUp {
				t.Fatalf("rolled back to %+v", w)
			}
		case Finalized:
			if w.kube != 100 || w.marathonUp || w.marathonDef || !w.kubeUp {
				t.Fatalf("finalized to %+v", w)
			}
		}
	})
}
