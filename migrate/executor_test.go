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

	"k8s.io/utils/clock"
	testingclock "k8s.io/utils/clock/testing"

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
	// installing, when set, is told that Install started; Install then
	// waits until its context ends.
	installing chan struct{}
	// holdShare[pct] makes the next so many pushes of pct hold (a
	// load-balancer instance does not acknowledge), holdStats the next so
	// many statistics reads; each held call takes holdDelay on clk (the
	// executor's).
	holdShare    map[int]int
	holdStats    int
	holdDelay    time.Duration
	clk          *jumpClock
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
	if p.installing != nil {
		p.installing <- struct{}{}
		<-ctx.Done()
		return fmt.Errorf("helm install: %w", ctx.Err())
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
func (p *platforms) SetKubePercent(ctx context.Context, app App, pct int) error {
	if err := p.act(app, fmt.Sprintf("share %d", pct)); err != nil {
		return err
	}
	if p.holdShare[pct] > 0 {
		p.holdShare[pct]--
		if err := p.holdFor(ctx); err != nil {
			return err
		}
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
		if err := p.holdFor(ctx); err != nil {
			return Observation{}, err
		}
		return Observation{}, fmt.Errorf("statistics miss nginx 127.0.0.2:8081: %w", ErrHold)
	}
	if pf == PlatformMarathon {
		return p.obsMarathon, nil
	}
	return p.obs, nil
}

// holdFor lets holdDelay pass on the executor's clock during a held call:
// an action whose timeout that passes fails with its context's error.
func (p *platforms) holdFor(ctx context.Context) error {
	if p.holdDelay > 0 {
		p.clk.Step(p.holdDelay)
	}
	return ctx.Err()
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

// jumpClock is a fake clock (k8s.io/utils/clock/testing) on which a wait
// takes no real time: a new timer moves the clock to its end at once
// (firing it, and every deadline it passes), unless it is at least block
// long: then it waits until the test steps the clock, and blocked says so.
// It records every timer's duration.
type jumpClock struct {
	*testingclock.FakeClock
	blocked chan time.Duration

	mu    sync.Mutex
	block time.Duration
	waits []time.Duration
}

func newJumpClock() *jumpClock {
	return &jumpClock{FakeClock: testingclock.NewFakeClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)), blocked: make(chan time.Duration, 16)}
}

// NewTimer implements Clock.
func (c *jumpClock) NewTimer(d time.Duration) clock.Timer {
	t := c.FakeClock.NewTimer(d)
	c.mu.Lock()
	c.waits = append(c.waits, d)
	jump := c.block == 0 || d < c.block
	c.mu.Unlock()
	if jump {
		c.Step(d)
		return t
	}
	select {
	case c.blocked <- d:
	default: // no test waits for so many
	}
	return t
}

// blockFrom makes timers of at least d wait for the test (0: none).
func (c *jumpClock) blockFrom(d time.Duration) {
	c.mu.Lock()
	c.block = d
	c.mu.Unlock()
}

// waitBlocked waits until a timer of d blocks (the executor waits on it).
func (c *jumpClock) waitBlocked(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case got := <-c.blocked:
		if got != d {
			t.Fatalf("a timer of %s blocks, want %s", got, d)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no timer of %s was started", d)
	}
}

// count is how many timers of d were started.
func (c *jumpClock) count(d time.Duration) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, w := range c.waits {
		if w == d {
			n++
		}
	}
	return n
}

// newExec returns an executor on p and j with a jumpClock (p's too).
func newExec(p *platforms, j journal.Journal) *Executor {
	p.clk = newJumpClock()
	return &Executor{Journal: j, Kubernetes: p, Marathon: p, Traffic: p, Stats: p, Clock: p.clk, RetryBackoff: time.Millisecond}
}

func openJournal(t *testing.T) *journal.Bolt {
	j, err := journal.Open(filepath.Join(t.TempDir(), "j.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

var webApp = App{Name: "web", MarathonID: "/web", Route: "web", Spec: Spec{MaxErrorRate: 0.01}}

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
	x := &Executor{Journal: j, Clock: newJumpClock()}
	byApp := &perApp{ps: ps, two: make(chan struct{})}
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
// are active at once; the first two installs wait for each other (two is
// closed once both started), so that two migrations are active at once.
type perApp struct {
	mu        sync.Mutex
	ps        map[string]*platforms
	active    map[string]bool
	maxActive int
	installs  int
	two       chan struct{}
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
	q.mu.Lock()
	if q.installs++; q.installs == 2 {
		close(q.two)
	}
	q.mu.Unlock()
	select {
	case <-q.two:
	case <-time.After(10 * time.Second):
		return errors.New("no second migration installs meanwhile")
	}
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
func (q *perApp) SetKubePercent(ctx context.Context, a App, pct int) error {
	return q.p(a, false).SetKubePercent(ctx, a, pct)
}
func (q *perApp) SetMarathon(ctx context.Context, a App, in bool) error {
	return q.p(a, false).SetMarathon(ctx, a, in)
}
func (q *perApp) Observe(ctx context.Context, a App, pf Platform, from, to time.Time) (Observation, error) {
	return q.p(a, false).Observe(ctx, a, pf, from, to)
}

// watchedJournal is a journal whose appends a test can wait for.
type watchedJournal struct {
	journal.Journal
	mu      sync.Mutex
	changed chan struct{} // closed at the next append
}

func watch(j journal.Journal) *watchedJournal {
	return &watchedJournal{Journal: j, changed: make(chan struct{})}
}

func (w *watchedJournal) Append(ctx context.Context, e *journal.Entry) error {
	err := w.Journal.Append(ctx, e)
	w.mu.Lock()
	close(w.changed)
	w.changed = make(chan struct{})
	w.mu.Unlock()
	return err
}

// waitJournal waits until the app's latest journaled state meets cond.
func waitJournal(t *testing.T, j *watchedJournal, app string, cond func(State) bool) State {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		j.mu.Lock()
		changed := j.changed
		j.mu.Unlock()
		s, ok, _ := Latest(j, app)
		if ok && cond(s) {
			return s
		}
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("journal never reached the condition; last %s", describe(s))
		}
	}
}

// TestExecutorPauseResumeAbort: a pause interrupts the step's watch and
// holds the weights: however long it lasts (ten hours on the clock)
// nothing is journaled and the executor waits on no timer, only for a
// command; resume watches the step again and finalizes, abort rolls back.
func TestExecutorPauseResumeAbort(t *testing.T) {
	for _, abort := range []bool{false, true} {
		j := watch(openJournal(t))
		p := newPlatforms(t, j)
		x := newExec(p, j)
		p.clk.blockFrom(time.Hour) // each step's pause waits for the test
		a := webApp
		a.Spec.PausePerStep = time.Hour
		res := make(chan Result, 1)
		go func() { res <- x.Migrate(context.Background(), a) }()
		p.clk.waitBlocked(t, time.Hour) // watching step 5%
		p.clk.Step(time.Hour)
		p.clk.waitBlocked(t, time.Hour) // watching step 25%
		if s, _, _ := Latest(j, "web"); s.Phase != Shifting || s.KubePercent != 25 || !s.Applied {
			t.Fatalf("watching %s", describe(s))
		}
		if !x.Send("web", Event{Kind: EvPause}) {
			t.Fatal("pause not delivered")
		}
		waitJournal(t, j, "web", func(s State) bool { return s.Paused })
		paused, _ := j.Load("web")
		p.clk.Step(10 * time.Hour)
		if p.clk.HasWaiters() {
			t.Fatal("a paused migration waits on the clock")
		}
		if now, _ := j.Load("web"); len(now) != len(paused) {
			t.Fatalf("paused migration moved on: %+v", now[len(now)-1])
		}
		p.clk.blockFrom(0)
		cmd := EvResume
		if abort {
			cmd = EvAbort
		}
		if !x.Send("web", Event{Kind: cmd}) {
			t.Fatalf("%s not delivered", cmd)
		}
		r := <-res
		if es, _ := j.Load("web"); es[len(paused)].Event != string(cmd) || es[len(paused)].From != "Shifting[25% applied paused]" {
			t.Fatalf("the entry after the pause is %+v, want the %s", es[len(paused)], cmd)
		}
		if abort {
			if r.State.Phase != RolledBack || !strings.Contains(fmt.Sprint(r.Err), "operator: abort") {
				t.Fatalf("abort: %v %s", r.Err, describe(r.State))
			}
			p.consistent(t, RolledBack)
			continue
		}
		if r.Err != nil || r.State.Phase != Finalized {
			t.Fatalf("resume: %v %s", r.Err, describe(r.State))
		}
		p.consistent(t, Finalized)
	}
	if (&Executor{}).Send("nothing", Event{Kind: EvPause}) {
		t.Fatal("command delivered to an app that is not migrating")
	}
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
			x := newExec(p, j)
			x.RetryBackoff, x.Progress = 0, &out
			x.ActionTimeout = 50 * time.Millisecond // less than two holds of 30 ms
			x.Drain = 10 * time.Millisecond
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
			if n := p.clk.count(time.Second); n != 3 {
				t.Fatalf("%d backoffs of 1s, want 3 (timers %v)", n, p.clk.waits)
			}
			if !strings.Contains(out.String(), tc.wantLabel) {
				t.Fatalf("progress does not show the hold:\n%s", out.String())
			}
		})
	}
}

// TestExecutorHeldCommands: while held (waiting out the retry backoff),
// pause and abort still work.
func TestExecutorHeldCommands(t *testing.T) {
	j := watch(openJournal(t))
	p := newPlatforms(t, j)
	p.holdShare = map[int]int{25: 1 << 30}
	x := newExec(p, j)
	x.RetryBackoff = time.Hour
	p.clk.blockFrom(time.Hour) // the backoff waits for a command
	res := make(chan Result, 1)
	go func() { res <- x.Migrate(context.Background(), webApp) }()
	waitJournal(t, j, "web", func(s State) bool { return s.Held && s.KubePercent == 25 })
	p.clk.waitBlocked(t, time.Hour)
	if !x.Send("web", Event{Kind: EvPause}) {
		t.Fatal("pause not delivered")
	}
	waitJournal(t, j, "web", func(s State) bool { return s.Paused && s.Held })
	p.clk.waitBlocked(t, time.Hour)
	if !x.Send("web", Event{Kind: EvAbort}) {
		t.Fatal("abort not delivered")
	}
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
			if s, _, _ := Latest(j, "web"); string(s.Spec.MarathonDefinition) != string(webDef) {
				t.Fatalf("journaled definition %s", s.Spec.MarathonDefinition)
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
	st := State{App: "web", Phase: Finalized, Spec: Spec{Steps: []int{50, 100}, MarathonInstances: 2, MaxErrorRate: 0.01}, KubePercent: 100, MarathonDown: true}
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
	a.Spec.MaxAttempts = 3
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

// TestExecutorActionTimeout: an action's timeout is on the executor's
// clock: once ActionTimeout passed there, the action's context ends and the
// action fails as timed out (a forward migration rolls back).
func TestExecutorActionTimeout(t *testing.T) {
	j := openJournal(t)
	p := newPlatforms(t, j)
	p.installing = make(chan struct{}, 1)
	x := newExec(p, j)
	res := make(chan Result, 1)
	go func() { res <- x.Migrate(context.Background(), webApp) }()
	select {
	case <-p.installing:
	case <-time.After(10 * time.Second):
		t.Fatal("install never started")
	}
	p.clk.Step(3*time.Minute - time.Millisecond)
	select {
	case r := <-res:
		t.Fatalf("ended before its timeout: %v %s", r.Err, describe(r.State))
	default:
	}
	p.clk.Step(time.Millisecond)
	r := <-res
	want := "install on Kubernetes: timed out after 3m0s: helm install: context canceled"
	var rb *RolledBackError
	if !errors.As(r.Err, &rb) || rb.Reason != want {
		t.Fatalf("err %v, want rolled back: %s", r.Err, want)
	}
	p.consistent(t, RolledBack)
}
