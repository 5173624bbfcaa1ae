package migrate

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

func testPlan() Plan {
	return Plan{Steps: []int{5, 25, 50, 100}, PausePerStep: time.Second, Soak: 2 * time.Second, MaxErrorRate: 0.01, MaxP99: 500 * time.Millisecond, MarathonInstances: 2}
}

// states returns one state per phase (and per sub-step of Shifting and
// RollingBack), keyed by a readable name.
func states() map[string]State {
	p := testPlan()
	base := func(ph Phase) State { return State{App: "web", Phase: ph, Plan: p} }
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
	r := base(RollingBack)
	r.KubePercent, r.Stage = 25, StageWeights
	m["rb-weights"] = r
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
	}
}

// TestNextTable lists the expected result of every state × event pair:
// "-" means the event does not apply (state unchanged, no action).
func TestNextTable(t *testing.T) {
	rb := "RollingBack/weights"
	rbm := "RollingBack/marathon"
	want := map[string]map[string]string{
		"pending":             {"start": "Installing", "failed": "RolledBack", "abort": "RolledBack", "rollback": "RolledBack"},
		"installing":          {"done": "WaitingReady", "failed": rb, "abort": rb, "rollback": rb},
		"waiting":             {"done": "Shifting 5% setting", "failed": rb, "abort": rb, "rollback": rb},
		"shift-setting":       {"done": "Shifting 25% watching", "failed": rb, "abort": rb, "rollback": rb, "pause": "Shifting 25% setting paused"},
		"shift-watching":      {"obs-good": "Shifting 50% setting", "obs-bad": rb, "obs-slow": rb, "failed": rb, "abort": rb, "rollback": rb, "pause": "Shifting 25% watching paused"},
		"shift-paused":        {"resume": "Shifting 25% watching", "failed": rb, "abort": rb, "rollback": rb},
		"shift-last":          {"obs-good": "ScalingDownMarathon", "obs-bad": rb, "obs-slow": rb, "failed": rb, "abort": rb, "rollback": rb, "pause": "Shifting 100% watching paused"},
		"scaling-down":        {"done": "Soaking", "failed": rbm, "abort": rbm, "rollback": rbm},
		"soaking":             {"done": "Finalizing", "finalize": "Finalizing", "failed": rbm, "abort": rbm, "rollback": rbm, "pause": "Soaking paused"},
		"soak-paused":         {"finalize": "Finalizing", "resume": "Soaking", "failed": rbm, "abort": rbm, "rollback": rbm},
		"finalizing":          {"done": "Finalized", "failed": rbm, "abort": rbm, "rollback": rbm},
		"finalized":           {},
		"rb-weights":          {"done": "RollingBack/marathon", "failed": "RollingBack/weights attempt 1"},
		"rb-marathon":         {"done": "RollingBack/kubernetes", "failed": "RollingBack/marathon attempt 1"},
		"rb-kubernetes":       {"done": "RolledBack", "failed": "RollingBack/kubernetes attempt 1"},
		"rb-marathon-first":   {"done": "RollingBack/weights", "failed": "RollingBack/marathon attempt 1"},
		"rb-weights-after-up": {"done": "RollingBack/kubernetes", "failed": "RollingBack/weights attempt 1"},
		"rolledback":          {},
	}
	sts, evs := states(), events()
	if len(want) != len(sts) {
		t.Fatalf("table covers %d states, there are %d", len(want), len(sts))
	}
	for sn, s := range sts {
		for en, ev := range evs {
			got, acts := Next(s, ev)
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
			if desc == "-" && acts != nil {
				t.Errorf("%s + %s: unchanged state with actions %v", sn, en, acts)
			}
			if desc != "-" && !reflect.DeepEqual(acts, Actions(got)) {
				t.Errorf("%s + %s: actions %v, want Actions(next) %v", sn, en, acts, Actions(got))
			}
		}
	}
}

func describe(s State) string {
	d := string(s.Phase)
	switch s.Phase {
	case Shifting:
		d += fmt.Sprintf(" %d%%", s.KubePercent)
		if s.Applied {
			d += " watching"
		} else {
			d += " setting"
		}
	case RollingBack:
		d += "/" + string(s.Stage)
		if s.Attempts > 0 {
			d += fmt.Sprintf(" attempt %d", s.Attempts)
		}
	}
	if s.Paused {
		d += " paused"
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
		"rb-kubernetes": "remove-kubernetes", "rb-marathon-first": "scale-marathon to 2",
		"rb-weights-after-up": "set-weights kubernetes=0% marathon=100%", "rolledback": "",
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
		plan func(*Plan)
		obs  Observation
		want string
	}{
		{"error rate", nil, bad, "gate maxErrorRate failed at step 25%: Kubernetes answered 10 of 100 requests with 5xx (10.00% > 1.00%)"},
		{"p99", nil, slow, "gate maxP99Latency failed at step 25%: Kubernetes p99 1s > 500ms"},
		{"too few requests", func(p *Plan) { p.MinRequests = 50 }, Observation{Requests: 3}, "step 25%: 3 of 50 requests needed to judge, watching again"},
		{"held", func(p *Plan) { p.ManualRollback = true }, bad, "(held for an operator: resume, or rollback)"},
	} {
		st := s
		if tc.plan != nil {
			tc.plan(&st.Plan)
		}
		got, _ := Next(st, Event{Kind: EvObserved, Obs: tc.obs})
		if !strings.Contains(got.Reason, tc.want) {
			t.Errorf("%s: reason %q, want %q", tc.name, got.Reason, tc.want)
		}
	}
	// Not enough traffic for MaxObservations pauses: rolled back.
	st := s
	st.Plan.MinRequests, st.Plan.MaxObservations = 50, 3
	for i := 0; i < 3; i++ {
		st, _ = Next(st, Event{Kind: EvObserved, Obs: Observation{Requests: 1}})
	}
	if st.Phase != RollingBack || !strings.Contains(st.Reason, "only 1 requests reached Kubernetes in 3 pauses") {
		t.Fatalf("after 3 thin pauses: %s %q", describe(st), st.Reason)
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
		err := Plan{Steps: tc.steps, MarathonInstances: tc.inst}.Check()
		if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%v/%d: %v, want %q", tc.steps, tc.inst, err, tc.want)
		}
	}
}

// world models what the actions did to the platforms, to check the
// invariants of any event sequence.
type world struct {
	kube        int  // Kubernetes share in nginx
	marathonUp  bool // Marathon runs its instances
	marathonDef bool // the Marathon app exists
	kubeUp      bool // the release is installed
}

func (w *world) apply(t *rapid.T, a Action) {
	switch a.Kind {
	case ActInstall:
		w.kubeUp = true
	case ActSetWeights:
		if a.KubePercent > 0 && !w.kubeUp {
			t.Fatalf("weights %d%% to Kubernetes that is not installed", a.KubePercent)
		}
		if a.KubePercent < 100 && !w.marathonUp {
			t.Fatalf("weights %d%% to Marathon that is scaled down", 100-a.KubePercent)
		}
		w.kube = a.KubePercent
	case ActScaleMarathon:
		if a.Instances == 0 && w.kube != 100 {
			t.Fatalf("Marathon scaled down while it has %d%% of the traffic", 100-w.kube)
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

// TestProperty drives the machine with random event sequences; whenever an
// action "completes" its effect is applied to a model of the platforms.
// Invariants: exactly one platform has all the weight unless a shift (or a
// rollback's weights stage) is in progress; traffic only goes to a running
// platform; Kubernetes is removed only after all weight is back on a
// running Marathon; terminal states are consistent.
func TestProperty(t *testing.T) {
	kinds := []EventKind{EvStart, EvDone, EvDone, EvDone, EvObserved, EvObserved, EvFailed, EvPause, EvResume, EvAbort, EvRollback, EvFinalize}
	rapid.Check(t, func(t *rapid.T) {
		p := testPlan()
		p.Steps = rapid.SampledFrom([][]int{{100}, {5, 25, 50, 100}, {50, 100}, {1, 2, 3, 100}}).Draw(t, "steps")
		p.ManualRollback = rapid.Bool().Draw(t, "manual")
		s := Start("web", p)
		w := world{marathonUp: true, marathonDef: true}
		n := rapid.IntRange(0, 80).Draw(t, "n")
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
			n, acts := Next(s, ev)
			if acts != nil && !reflect.DeepEqual(acts, Actions(n)) {
				t.Fatalf("actions %v differ from Actions(next) %v", acts, Actions(n))
			}
			s = n
			inShift := s.Phase == Shifting || (s.Phase == RollingBack && s.Stage == StageWeights)
			if !inShift && w.kube != 0 && w.kube != 100 {
				t.Fatalf("%s: traffic split %d%% outside a shift", describe(s), w.kube)
			}
			if s.Phase == Soaking || s.Phase == Finalizing || s.Phase == Finalized {
				if w.kube != 100 {
					t.Fatalf("%s with kube=%d%%", describe(s), w.kube)
				}
			}
		}
		// Drive to the end: the state's action completes until terminal
		// (roll back what is left).
		if !s.Phase.Terminal() {
			s, _ = Next(s, Event{Kind: EvRollback})
			if s.Phase == Pending {
				s, _ = Next(s, Event{Kind: EvStart})
				s, _ = Next(s, Event{Kind: EvRollback})
			}
		}
		for i := 0; !s.Phase.Terminal(); i++ {
			if i > 10 {
				t.Fatalf("no end: %s", describe(s))
			}
			for _, a := range Actions(s) {
				w.apply(t, a)
			}
			s, _ = Next(s, Event{Kind: EvDone})
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
