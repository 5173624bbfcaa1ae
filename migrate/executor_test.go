package migrate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/journal"
)

// platforms is an in-memory model of Marathon, Kubernetes and nginx for
// driver tests (the lab tests use the real ones). It checks, at each
// action, that the action's state was journaled first.
type platforms struct {
	mu          sync.Mutex
	j           journal.Journal
	t           *testing.T
	kubeUp      bool
	kubeReady   bool
	share       int
	marathonIn  bool
	instances   int
	marathonDef bool
	obs         Observation
	obsMarathon Observation // what Marathon answers on the way back
	failInstall error
	failRemove  error
	// holdShare[pct] makes the next so many pushes of pct hold (a
	// load-balancer instance does not acknowledge), holdStats the next so
	// many statistics reads; each held call takes holdDelay.
	holdShare    map[int]int
	holdStats    int
	holdDelay    time.Duration
	created      json.RawMessage // the definition Create got
	dead         *bool           // after a simulated crash nothing acts
	actions      []string
	maxInstances int
}

func newPlatforms(t *testing.T, j journal.Journal) *platforms {
	return &platforms{t: t, j: j, marathonIn: true, instances: 2, marathonDef: true, obs: good, obsMarathon: good, dead: new(bool)}
}

func (p *platforms) act(app App, what string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if *p.dead {
		return errors.New("process is dead")
	}
	p.actions = append(p.actions, what)
	return nil
}

func (p *platforms) Install(ctx context.Context, app App) error {
	if err := p.act(app, "install"); err != nil {
		return err
	}
	if p.failInstall != nil {
		return p.failInstall
	}
	p.kubeUp = true
	return nil
}
func (p *platforms) WaitReady(ctx context.Context, app App) error {
	if err := p.act(app, "ready"); err != nil {
		return err
	}
	p.kubeReady = p.kubeUp
	return nil
}
func (p *platforms) Remove(ctx context.Context, app App) error {
	if err := p.act(app, "remove"); err != nil {
		return err
	}
	if p.failRemove != nil {
		return p.failRemove
	}
	if p.share != 0 {
		p.t.Errorf("Kubernetes removed with %d%% of the traffic", p.share)
	}
	if !p.marathonDef || !p.marathonIn || p.instances == 0 {
		p.t.Errorf("Kubernetes removed while Marathon does not serve (app %v, in the pool %v, %d instances)", p.marathonDef, p.marathonIn, p.instances)
	}
	p.kubeUp, p.kubeReady = false, false
	return nil
}
func (p *platforms) Instances(ctx context.Context, app App) (int, error) { return p.instances, nil }

var webDef = json.RawMessage(`{"id":"/web","cmd":"serve"}`)

func (p *platforms) Definition(ctx context.Context, app App) (json.RawMessage, error) {
	return webDef, nil
}
func (p *platforms) Create(ctx context.Context, app App, def json.RawMessage, n int) error {
	if err := p.act(app, fmt.Sprintf("create %d", n)); err != nil {
		return err
	}
	if p.share != 100 {
		p.t.Errorf("Marathon created again with Kubernetes at %d%%", p.share)
	}
	p.marathonDef, p.instances, p.created = true, n, def
	return nil
}
func (p *platforms) Scale(ctx context.Context, app App, n int) error {
	if err := p.act(app, fmt.Sprintf("scale %d", n)); err != nil {
		return err
	}
	if n == 0 && p.marathonIn {
		p.t.Errorf("Marathon scaled down while in the pool")
	}
	if n > 0 && !p.marathonDef {
		return errors.New("no such Marathon app")
	}
	p.instances = n
	return nil
}
func (p *platforms) Delete(ctx context.Context, app App) error {
	if err := p.act(app, "delete"); err != nil {
		return err
	}
	if p.share != 100 || p.marathonIn {
		p.t.Errorf("Marathon app deleted with Kubernetes at %d%% (Marathon in the pool: %v)", p.share, p.marathonIn)
	}
	p.marathonDef = false
	return nil
}
func (p *platforms) SetShare(ctx context.Context, app App, pct int) error {
	if err := p.act(app, fmt.Sprintf("share %d", pct)); err != nil {
		return err
	}
	if p.holdShare[pct] > 0 {
		p.holdShare[pct]--
		time.Sleep(p.holdDelay)
		return fmt.Errorf("nginx 127.0.0.2:8081 at version 6, want 7: %w", ErrHold)
	}
	if pct > 0 && !p.kubeReady {
		return errors.New("kubernetes should receive traffic but has no ready backend")
	}
	if pct < 100 && (!p.marathonIn || p.instances == 0 || !p.marathonDef) {
		return errors.New("marathon should receive traffic but has no ready backend")
	}
	p.share = pct
	return nil
}
func (p *platforms) SetMarathon(ctx context.Context, app App, in bool) error {
	if err := p.act(app, fmt.Sprintf("marathon-in %v", in)); err != nil {
		return err
	}
	if !in && p.share != 100 {
		p.t.Errorf("Marathon taken out of the pool with %d%% of the traffic", 100-p.share)
	}
	p.marathonIn = in
	return nil
}
func (p *platforms) Observe(ctx context.Context, app App, pf Platform, from, to time.Time) (Observation, error) {
	what := "observe"
	if pf == PlatformMarathon {
		what = "observe-marathon"
	}
	if err := p.act(app, what); err != nil {
		return Observation{}, err
	}
	if p.holdStats > 0 {
		p.holdStats--
		time.Sleep(p.holdDelay)
		return Observation{}, fmt.Errorf("statistics miss nginx 127.0.0.2:8081: %w", ErrHold)
	}
	if pf == PlatformMarathon {
		return p.obsMarathon, nil
	}
	return p.obs, nil
}

// consistent checks that exactly one platform serves the route.
func (p *platforms) consistent(t *testing.T, phase Phase) {
	t.Helper()
	switch phase {
	case Finalized:
		if p.share != 100 || !p.kubeUp || p.marathonDef {
			t.Fatalf("finalized but %+v", p)
		}
	case RolledBack:
		if p.share != 0 || p.kubeUp || p.instances != 2 || !p.marathonIn || !p.marathonDef {
			t.Fatalf("rolled back but share=%d kubeUp=%v instances=%d in=%v", p.share, p.kubeUp, p.instances, p.marathonIn)
		}
	default:
		t.Fatalf("ended in %s", phase)
	}
}

// noSleep is a clock whose sleeps return at once.
type noSleep struct{}

func (noSleep) Now() time.Time                                   { return time.Now() }
func (noSleep) Sleep(ctx context.Context, _ time.Duration) error { return ctx.Err() }

func newExec(p *platforms, j journal.Journal) *Executor {
	return &Executor{Journal: j, Kubernetes: p, Marathon: p, Traffic: p, Stats: p, Clock: noSleep{}, RetryBackoff: time.Millisecond}
}

func openJournal(t *testing.T) *journal.Bolt {
	j, err := journal.Open(filepath.Join(t.TempDir(), "j.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

var webApp = App{Name: "web", MarathonID: "/web", Route: "web", Plan: Plan{MaxErrorRate: 0.01}}

func TestExecutorMigrates(t *testing.T) {
	j := openJournal(t)
	p := newPlatforms(t, j)
	var out strings.Builder
	x := newExec(p, j)
	x.Progress = &out
	r := x.Migrate(context.Background(), webApp)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	p.consistent(t, r.State.Phase)
	want := "install ready share 5 observe share 25 observe share 50 observe share 100 observe marathon-in false scale 0 delete"
	if got := strings.Join(p.actions, " "); got != want {
		t.Fatalf("actions %q\nwant    %q", got, want)
	}
	es, _ := j.Load("web")
	if es[len(es)-1].To != "Finalized" || !strings.Contains(out.String(), "step 25%: kubernetes 25% / marathon 75%") {
		t.Fatalf("journal ends %+v; progress:\n%s", es[len(es)-1], out.String())
	}
	// Migrating a finalized app again does nothing.
	if r := x.Migrate(context.Background(), webApp); r.Err != nil || len(p.actions) != 13 {
		t.Fatalf("second run: %v, %d actions", r.Err, len(p.actions))
	}
}

func TestExecutorRollsBackOnGate(t *testing.T) {
	j := openJournal(t)
	p := newPlatforms(t, j)
	p.obs = bad
	r := newExec(p, j).Migrate(context.Background(), webApp)
	var rb *RolledBackError
	if !errors.As(r.Err, &rb) || !strings.Contains(rb.Reason, "gate maxErrorRate failed at step 5%") {
		t.Fatalf("err %v", r.Err)
	}
	p.consistent(t, r.State.Phase)
	if got := strings.Join(p.actions, " "); got != "install ready share 5 observe share 0 scale 2 marathon-in true remove" {
		t.Fatalf("actions %q", got)
	}
}

func TestExecutorChartNeverReady(t *testing.T) {
	j := openJournal(t)
	p := newPlatforms(t, j)
	p.failInstall = errors.New("pods not ready: ImagePullBackOff")
	r := newExec(p, j).Migrate(context.Background(), webApp)
	if r.Err == nil || !strings.Contains(r.Err.Error(), "install on Kubernetes: pods not ready") {
		t.Fatalf("err %v", r.Err)
	}
	p.consistent(t, r.State.Phase)
	es, _ := j.Load("web")
	if !strings.Contains(es[len(es)-2].Reason, "ImagePullBackOff") && !strings.Contains(es[1].Reason, "ImagePullBackOff") {
		t.Fatalf("journal does not say what happened: %+v", es)
	}
}

// crashJournal stops working (like a killed process) after n appends.
type crashJournal struct {
	journal.Journal
	n    int
	dead *bool
}

func (c *crashJournal) Append(ctx context.Context, e *journal.Entry) error {
	if *c.dead {
		return errors.New("process is dead")
	}
	if err := c.Journal.Append(ctx, e); err != nil {
		return err
	}
	c.n--
	if c.n == 0 {
		*c.dead = true
	}
	return nil
}

// TestExecutorCrashAtEveryTransition stops the executor right after each
// journal append of a full migration (and of a rolled back one, and of the
// rollback of a finalized one), then starts a new executor on the same
// journal: it must end consistent.
func TestExecutorCrashAtEveryTransition(t *testing.T) {
	back := Event{Kind: EvRollback, Reason: "operator: switchyard rollback"}
	for _, tc := range []struct {
		name   string
		obs    Observation
		policy ResumePolicy
		want   Phase
		// revert: the migration is finalized first, then rolled back
		// (crashing during the way back); obsMarathon is what Marathon
		// answers then.
		revert      bool
		obsMarathon Observation
	}{
		{"continue", good, ResumeContinue, Finalized, false, good},
		{"gate fails", bad, ResumeContinue, RolledBack, false, good},
		{"policy rollback", good, ResumeRollback, "", false, good},
		{"finalized, rolled back", good, ResumeContinue, RolledBack, true, good},
		{"finalized, rolled back, policy rollback", good, ResumeRollback, RolledBack, true, good},
		{"finalized, gate fails on the way back", good, ResumeContinue, Finalized, true, bad},
	} {
		// Count the appends of an uninterrupted run.
		j := openJournal(t)
		p := newPlatforms(t, j)
		p.obs, p.obsMarathon = tc.obs, tc.obsMarathon
		var extra []Event
		before := 0
		if tc.revert {
			newExec(p, j).Migrate(context.Background(), webApp)
			es, _ := j.Load("web")
			before, extra = len(es), []Event{back}
		}
		newExec(p, j).Migrate(context.Background(), webApp, extra...)
		es, _ := j.Load("web")
		total := len(es) - before
		for n := 1; n <= total; n++ {
			j := openJournal(t)
			p := newPlatforms(t, j)
			p.obs, p.obsMarathon = tc.obs, tc.obsMarathon
			if tc.revert {
				if r := newExec(p, j).Migrate(context.Background(), webApp); r.Err != nil {
					t.Fatal(r.Err)
				}
			}
			cj := &crashJournal{Journal: j, n: n, dead: p.dead}
			first := newExec(p, cj).Migrate(context.Background(), webApp, extra...)
			if first.Err == nil && n < total {
				t.Fatalf("%s: crash after %d appends was not noticed", tc.name, n)
			}
			*p.dead = false
			x := newExec(p, j)
			x.Resume = tc.policy
			// The operator runs the same command again (`switchyard rollback` on the
			// way back: a rolled back app is then left alone).
			r := x.Migrate(context.Background(), webApp, extra...)
			p.consistent(t, r.State.Phase)
			if tc.want != "" && r.State.Phase != tc.want {
				t.Fatalf("%s: crash after append %d/%d ended %s", tc.name, n, total, r.State.Phase)
			}
		}
	}
}

func TestExecutorWaveAndCommands(t *testing.T) {
	j := openJournal(t)
	var apps []App
	ps := map[string]*platforms{}
	for i := 0; i < 6; i++ {
		a := webApp
		a.Name = fmt.Sprintf("app%d", i)
		apps = append(apps, a)
		ps[a.Name] = newPlatforms(t, j)
	}
	x := &Executor{Journal: j, Clock: noSleep{}}
	byApp := &perApp{ps: ps}
	x.Kubernetes, x.Marathon, x.Traffic, x.Stats = byApp, byApp, byApp, byApp
	rs := x.Wave(context.Background(), apps, 3)
	for _, r := range rs {
		if r.Err != nil || r.State.Phase != Finalized {
			t.Fatalf("%s: %v %s", r.App, r.Err, r.State.Phase)
		}
		ps[r.App].consistent(t, Finalized)
	}
	if byApp.maxActive > 3 || byApp.maxActive < 2 {
		t.Fatalf("%d migrations ran at once, want 2..3", byApp.maxActive)
	}
}

// perApp routes each call to the app's platforms and counts how many apps
// are active at once.
type perApp struct {
	mu        sync.Mutex
	ps        map[string]*platforms
	active    map[string]bool
	maxActive int
}

func (q *perApp) p(a App, end bool) *platforms {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.active == nil {
		q.active = map[string]bool{}
	}
	if end {
		delete(q.active, a.Name)
	} else {
		q.active[a.Name] = true
	}
	if len(q.active) > q.maxActive {
		q.maxActive = len(q.active)
	}
	return q.ps[a.Name]
}
func (q *perApp) Install(ctx context.Context, a App) error {
	time.Sleep(5 * time.Millisecond)
	return q.p(a, false).Install(ctx, a)
}
func (q *perApp) WaitReady(ctx context.Context, a App) error { return q.p(a, false).WaitReady(ctx, a) }
func (q *perApp) Remove(ctx context.Context, a App) error    { return q.p(a, false).Remove(ctx, a) }
func (q *perApp) Instances(ctx context.Context, a App) (int, error) {
	return q.p(a, false).Instances(ctx, a)
}
func (q *perApp) Scale(ctx context.Context, a App, n int) error {
	return q.p(a, false).Scale(ctx, a, n)
}
func (q *perApp) Definition(ctx context.Context, a App) (json.RawMessage, error) {
	return q.p(a, false).Definition(ctx, a)
}
func (q *perApp) Create(ctx context.Context, a App, def json.RawMessage, n int) error {
	return q.p(a, false).Create(ctx, a, def, n)
}
func (q *perApp) Delete(ctx context.Context, a App) error {
	defer q.p(a, true)
	return q.p(a, false).Delete(ctx, a)
}
func (q *perApp) SetShare(ctx context.Context, a App, pct int) error {
	return q.p(a, false).SetShare(ctx, a, pct)
}
func (q *perApp) SetMarathon(ctx context.Context, a App, in bool) error {
	return q.p(a, false).SetMarathon(ctx, a, in)
}
func (q *perApp) Observe(ctx context.Context, a App, pf Platform, from, to time.Time) (Observation, error) {
	return q.p(a, false).Observe(ctx, a, pf, from, to)
}

// shortSleep sleeps for real but at most 20 ms (commands can arrive during
// a wait).
type shortSleep struct{}

func (shortSleep) Now() time.Time { return time.Now() }
func (shortSleep) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(min(d, 20*time.Millisecond))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func waitJournal(t *testing.T, j journal.Journal, app string, cond func(State) bool) State {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if s, ok, _ := Latest(j, app); ok && cond(s) {
			return s
		}
		time.Sleep(2 * time.Millisecond)
	}
	s, _, _ := Latest(j, app)
	t.Fatalf("journal never reached the condition; last %s", describe(s))
	return s
}

func TestExecutorPauseResumeAbort(t *testing.T) {
	for _, abort := range []bool{false, true} {
		j := openJournal(t)
		p := newPlatforms(t, j)
		x := newExec(p, j)
		x.Clock = shortSleep{}
		a := webApp
		a.Plan.PausePerStep = time.Hour // shortSleep caps it; commands interrupt it
		res := make(chan Result, 1)
		go func() { res <- x.Migrate(context.Background(), a) }()
		waitJournal(t, j, "web", func(s State) bool { return s.Phase == Shifting && s.KubePercent == 25 && s.Applied })
		for !x.Send("web", Event{Kind: EvPause}) {
			time.Sleep(time.Millisecond)
		}
		s := waitJournal(t, j, "web", func(s State) bool { return s.Paused })
		time.Sleep(50 * time.Millisecond)
		if now, _, _ := Latest(j, "web"); !now.Paused || now.KubePercent != s.KubePercent {
			t.Fatalf("paused migration moved on: %s", describe(now))
		}
		if abort {
			x.Send("web", Event{Kind: EvAbort})
			r := <-res
			if r.State.Phase != RolledBack || !strings.Contains(fmt.Sprint(r.Err), "operator: abort") {
				t.Fatalf("abort: %v %s", r.Err, describe(r.State))
			}
			p.consistent(t, RolledBack)
			continue
		}
		x.Send("web", Event{Kind: EvResume})
		r := <-res
		if r.Err != nil || r.State.Phase != Finalized {
			t.Fatalf("resume: %v %s", r.Err, describe(r.State))
		}
		p.consistent(t, Finalized)
	}
	if (&Executor{}).Send("nothing", Event{Kind: EvPause}) {
		t.Fatal("command delivered to an app that is not migrating")
	}
}

// recClock records its sleeps and returns at once.
type recClock struct {
	mu     sync.Mutex
	sleeps []time.Duration
}

func (c *recClock) Now() time.Time { return time.Now() }
func (c *recClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	c.mu.Unlock()
	return ctx.Err()
}

func (c *recClock) count(d time.Duration) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, s := range c.sleeps {
		if s == d {
			n++
		}
	}
	return n
}

// TestExecutorHolds: an action whose error wraps ErrHold holds the
// migration (one journal entry with the reason, phase and weights
// unchanged), is retried after a 1 s backoff on the executor's clock until
// it succeeds, and does not use up the action timeout; a held observation
// is watched again (a step is not judged on part of the fleet).
func TestExecutorHolds(t *testing.T) {
	for _, tc := range []struct {
		name       string
		obs        Observation
		holdShare  map[int]int
		holdStats  int
		want       Phase
		wantLabel  string // the held entry's To
		wantReason string
		wantActs   string // part of the actions
	}{
		{"weights push not acknowledged", good, map[int]int{100: 3}, 0, Finalized, "Shifting[100% held]",
			"set weights kubernetes=100%: nginx 127.0.0.2:8081 at version 6, want 7: held",
			"share 50 observe share 100 share 100 share 100 share 100 observe marathon-in false scale 0"},
		{"statistics incomplete", good, nil, 3, Finalized, "Shifting[5% applied held]",
			"read nginx statistics of kubernetes: statistics miss nginx 127.0.0.2:8081: held",
			"share 5 observe observe observe observe share 25"},
		{"rollback push not acknowledged", bad, map[int]int{0: 3}, 0, RolledBack, "RollingBack[weights held]",
			"set weights kubernetes=0%: nginx 127.0.0.2:8081 at version 6, want 7: held",
			"observe share 0 share 0 share 0 share 0 scale 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := openJournal(t)
			p := newPlatforms(t, j)
			p.obs, p.holdShare, p.holdStats, p.holdDelay = tc.obs, tc.holdShare, tc.holdStats, 30*time.Millisecond
			var out strings.Builder
			clock := &recClock{}
			x := newExec(p, j)
			x.Clock, x.RetryBackoff, x.Progress = clock, 0, &out
			x.ActionTimeout = 50 * time.Millisecond // less than three holds
			r := x.Migrate(context.Background(), webApp)
			if r.State.Phase != tc.want {
				t.Fatalf("ended %s: %v", describe(r.State), r.Err)
			}
			p.consistent(t, r.State.Phase)
			if got := strings.Join(p.actions, " "); !strings.Contains(got, tc.wantActs) {
				t.Fatalf("actions %q\nwant     %q", got, tc.wantActs)
			}
			es, _ := j.Load("web")
			var held []journal.Entry
			for _, e := range es {
				if e.Event == string(EvHeld) {
					held = append(held, e)
				}
			}
			if len(held) != 1 || held[0].To != tc.wantLabel || held[0].Reason != tc.wantReason {
				t.Fatalf("held entries %+v, want one to %s with %q", held, tc.wantLabel, tc.wantReason)
			}
			if s, _ := StateOf(held[0]); !s.Held || s.Reason != tc.wantReason {
				t.Fatalf("held state %+v", s)
			}
			if n := clock.count(time.Second); n != 3 {
				t.Fatalf("%d backoffs of 1s, want 3 (sleeps %v)", n, clock.sleeps)
			}
			if !strings.Contains(out.String(), tc.wantLabel) {
				t.Fatalf("progress does not show the hold:\n%s", out.String())
			}
		})
	}
}

// TestExecutorHeldCommands: while held, pause and abort still work.
func TestExecutorHeldCommands(t *testing.T) {
	j := openJournal(t)
	p := newPlatforms(t, j)
	p.holdShare = map[int]int{25: 1 << 30}
	x := newExec(p, j)
	x.Clock = shortSleep{}
	res := make(chan Result, 1)
	go func() { res <- x.Migrate(context.Background(), webApp) }()
	waitJournal(t, j, "web", func(s State) bool { return s.Held && s.KubePercent == 25 })
	for !x.Send("web", Event{Kind: EvPause}) {
		time.Sleep(time.Millisecond)
	}
	waitJournal(t, j, "web", func(s State) bool { return s.Paused && s.Held })
	x.Send("web", Event{Kind: EvAbort})
	r := <-res
	if r.State.Phase != RolledBack || !strings.Contains(fmt.Sprint(r.Err), "operator: abort") {
		t.Fatalf("abort while held: %v %s", r.Err, describe(r.State))
	}
	p.consistent(t, RolledBack)
}

// finalizedPlatforms is what a finalized migration left: Kubernetes alone.
func finalizedPlatforms(t *testing.T, j journal.Journal) *platforms {
	p := newPlatforms(t, j)
	p.kubeUp, p.kubeReady, p.share, p.marathonIn, p.instances, p.marathonDef = true, true, 100, false, 0, false
	return p
}

// TestExecutorRevertsFinalized: a rollback of a finalized migration creates
// the Marathon app again from the journaled definition, shifts back step by
// step judged on Marathon's requests, then removes Kubernetes; a failed
// gate on the way back returns all weight to Kubernetes, removes the
// Marathon app again and ends Finalized with the reason.
func TestExecutorRevertsFinalized(t *testing.T) {
	for _, tc := range []struct {
		name        string
		obsMarathon Observation
		want        Phase
		wantErr     string
		wantActs    string
	}{
		{"moved back", good, RolledBack, "rolled back: operator: switchyard rollback",
			"create 2 marathon-in true share 50 observe-marathon share 25 observe-marathon share 5 observe-marathon share 0 observe-marathon remove"},
		{"gate fails on the way back", bad, Finalized,
			"rollback abandoned, the app stays on Kubernetes: gate maxErrorRate failed at back step marathon 50%: Marathon answered 10 of 100 requests with 5xx",
			"create 2 marathon-in true share 50 observe-marathon share 100 marathon-in false scale 0 delete"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := openJournal(t)
			p := newPlatforms(t, j)
			p.obsMarathon = tc.obsMarathon
			x := newExec(p, j)
			if r := x.Migrate(context.Background(), webApp); r.Err != nil {
				t.Fatal(r.Err)
			}
			if s, _, _ := Latest(j, "web"); string(s.Plan.MarathonDefinition) != string(webDef) {
				t.Fatalf("journaled definition %s", s.Plan.MarathonDefinition)
			}
			p.actions = nil
			r := x.Migrate(context.Background(), webApp, Event{Kind: EvRollback, Reason: "operator: switchyard rollback"})
			if r.State.Phase != tc.want || !strings.Contains(fmt.Sprint(r.Err), tc.wantErr) {
				t.Fatalf("ended %s: %v, want %s: %s", describe(r.State), r.Err, tc.want, tc.wantErr)
			}
			p.consistent(t, r.State.Phase)
			if got := strings.Join(p.actions, " "); got != tc.wantActs {
				t.Fatalf("actions %q\nwant    %q", got, tc.wantActs)
			}
			if string(p.created) != string(webDef) {
				t.Fatalf("created from %s", p.created)
			}
			es, _ := j.Load("web")
			if last := es[len(es)-1]; last.To != string(tc.want) || (tc.want == Finalized && !strings.Contains(last.Reason, tc.wantErr)) {
				t.Fatalf("last entry %+v", last)
			}
		})
	}
}

// TestExecutorRevertDefinition: a journal without the Marathon definition
// (a migration finalized before it was journaled) cannot move back unless
// the caller gives the definition.
func TestExecutorRevertDefinition(t *testing.T) {
	j := openJournal(t)
	p := finalizedPlatforms(t, j)
	st := State{App: "web", Phase: Finalized, Plan: Plan{Steps: []int{50, 100}, MarathonInstances: 2, MaxErrorRate: 0.01}, KubePercent: 100, MarathonDown: true}
	data, _ := json.Marshal(st)
	if err := j.Append(context.Background(), &journal.Entry{App: "web", To: "Finalized", State: data}); err != nil {
		t.Fatal(err)
	}
	x := newExec(p, j)
	rb := Event{Kind: EvRollback}
	if r := x.Migrate(context.Background(), webApp, rb); r.Err == nil || !strings.Contains(r.Err.Error(), "holds no Marathon definition") || len(p.actions) != 0 {
		t.Fatalf("without a definition: %v, actions %v", r.Err, p.actions)
	}
	a := webApp
	a.MarathonDefinition = webDef
	r := x.Migrate(context.Background(), a, rb)
	var rbe *RolledBackError
	if !errors.As(r.Err, &rbe) || r.State.Phase != RolledBack || string(p.created) != string(webDef) {
		t.Fatalf("with the caller's definition: %v %s", r.Err, describe(r.State))
	}
	p.consistent(t, RolledBack)
}

// TestExecutorGivesUp: a rollback action that keeps failing is retried
// until the plan's MaxAttempts failed; the machine then gives up (journaled,
// with what is left) and the executor stops with that reason; run again
// once it is fixed, the executor restarts the migration and it ends.
func TestExecutorGivesUp(t *testing.T) {
	j := openJournal(t)
	p := newPlatforms(t, j)
	p.obs, p.failRemove = bad, errors.New("connection refused")
	a := webApp
	a.Plan.MaxAttempts = 3
	r := newExec(p, j).Migrate(context.Background(), a)
	want := "migrate web: RollingBack[kubernetes] failed 3 times, last: remove the Kubernetes release: connection refused; run `switchyard rollback web` once it is fixed"
	if r.Err == nil || r.Err.Error() != want || !r.State.GaveUp {
		t.Fatalf("err %v, state %s; want %q", r.Err, describe(r.State), want)
	}
	if got := strings.Count(strings.Join(p.actions, " "), "remove"); got != 3 {
		t.Fatalf("%d removes, want 3: %v", got, p.actions)
	}
	es, _ := j.Load("web")
	if last := es[len(es)-1]; last.To != "RollingBack[kubernetes gave-up]" || last.Event != string(EvFailed) || "migrate web: "+last.Reason != want {
		t.Fatalf("last entry %+v", last)
	}
	p.failRemove = nil
	r = newExec(p, j).Migrate(context.Background(), a, Event{Kind: EvRollback, Reason: "operator: switchyard rollback"})
	var rb *RolledBackError
	if !errors.As(r.Err, &rb) || r.State.Phase != RolledBack {
		t.Fatalf("run again: %v %s", r.Err, describe(r.State))
	}
	p.consistent(t, RolledBack)
	es, _ = j.Load("web")
	if e := es[len(es)-2]; e.Event != string(EvRestart) || e.To != "RollingBack[kubernetes]" {
		t.Fatalf("the restart is not journaled: %+v", e)
	}
}
