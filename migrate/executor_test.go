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
	// holdShare and holdStats make the next so many pushes and statistics
	// reads hold (a load-balancer instance does not acknowledge).
	holdShare, holdStats int
	created              json.RawMessage // the definition Create got
	dead                 *bool           // after a simulated crash nothing acts
	actions              []string
	maxInstances         int
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
	if p.share != 0 {
		p.t.Errorf("Kubernetes removed with %d%% of the traffic", p.share)
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
	p.marathonDef = false
	return nil
}
func (p *platforms) SetShare(ctx context.Context, app App, pct int) error {
	if err := p.act(app, fmt.Sprintf("share %d", pct)); err != nil {
		return err
	}
	if p.holdShare > 0 {
		p.holdShare--
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
// journal append of a full migration (and of a rolled back one), then
// starts a new executor on the same journal: it must end consistent.
func TestExecutorCrashAtEveryTransition(t *testing.T) {
	for _, tc := range []struct {
		name   string
		obs    Observation
		policy ResumePolicy
		want   Phase
	}{
		{"continue", good, ResumeContinue, Finalized},
		{"gate fails", bad, ResumeContinue, RolledBack},
		{"policy rollback", good, ResumeRollback, ""},
	} {
		// Count the appends of an uninterrupted run.
		j := openJournal(t)
		p := newPlatforms(t, j)
		p.obs = tc.obs
		newExec(p, j).Migrate(context.Background(), webApp)
		es, _ := j.Load("web")
		total := len(es)
		for n := 1; n <= total; n++ {
			j := openJournal(t)
			p := newPlatforms(t, j)
			p.obs = tc.obs
			cj := &crashJournal{Journal: j, n: n, dead: p.dead}
			first := newExec(p, cj).Migrate(context.Background(), webApp)
			if first.Err == nil && n < total {
				t.Fatalf("%s: crash after %d appends was not noticed", tc.name, n)
			}
			*p.dead = false
			x := newExec(p, j)
			x.Resume = tc.policy
			r := x.Migrate(context.Background(), webApp)
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
