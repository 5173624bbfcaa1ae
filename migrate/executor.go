package migrate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"k8s.io/utils/clock"

	"github.com/switchyard/switchyard/journal"
)

// App names what one migration moves.
type App struct {
	// Name is the app (app.yaml name); the journal key.
	Name string
	// MarathonID is the Marathon app id ("/demo/web").
	MarathonID string
	// Route is the app's route name at nginx.
	Route string
	// Spec is what the migration does (used when it starts; a journaled
	// migration keeps its journaled spec).
	Spec Spec
	// MarathonDefinition is the Marathon app definition journaled with the
	// plan when the migration starts (empty: read from Marathon then). A
	// rollback of a finalized migration whose journal lacks one uses it.
	MarathonDefinition json.RawMessage
}

// ErrHold is wrapped by an edge's error when an action cannot complete now
// for a reason outside the app — e.g. a load-balancer instance does not
// acknowledge the pushed weights, or its statistics are missing — and
// retrying later is right. The migration holds (journaled with the reason,
// phase and weights unchanged, the action retried after a backoff) instead
// of rolling back; an operator can still pause or abort it.
var ErrHold = errors.New("held")

// Kubernetes installs, waits for and removes an app's Kubernetes release.
// Every method is idempotent.
type Kubernetes interface {
	// Install installs or upgrades the release (no wait).
	Install(ctx context.Context, app App) error
	// WaitReady waits until every replica is ready.
	WaitReady(ctx context.Context, app App) error
	// Remove uninstalls the release (absent is not an error) and waits.
	Remove(ctx context.Context, app App) error
}

// Marathon scales, removes and re-creates the app's Marathon side.
type Marathon interface {
	// Instances returns the app's configured instance count.
	Instances(ctx context.Context, app App) (int, error)
	// Definition returns the app's definition without its read-only status
	// fields (journaled, to create the app again on a rollback of a
	// finalized migration).
	Definition(ctx context.Context, app App) (json.RawMessage, error)
	// Scale sets the instance count and waits until that many are healthy
	// (or none run, for 0; an absent app has none).
	Scale(ctx context.Context, app App, n int) error
	// Create creates the app from def with instances (or updates it to
	// that: PUT /v2/apps/{id}) and waits until that many are healthy.
	Create(ctx context.Context, app App, def json.RawMessage, instances int) error
	// Delete removes the app (absent is not an error).
	Delete(ctx context.Context, app App) error
}

// Traffic moves an app's route at nginx.
type Traffic interface {
	// SetKubePercent gives Kubernetes kubePercent of the route's requests and
	// waits until nginx applied it.
	SetKubePercent(ctx context.Context, app App, kubePercent int) error
	// SetMarathon puts Marathon's ready backends in the route's pool, or
	// takes them out (first step of a scale-down).
	SetMarathon(ctx context.Context, app App, in bool) error
}

// Stats reads what nginx saw of the app's backends on one platform.
type Stats interface {
	// Observe returns the requests of the app's route to platform between
	// from and to. An error wrapping ErrHold (statistics missing an nginx
	// instance) holds the step instead of failing it.
	Observe(ctx context.Context, app App, platform Platform, from, to time.Time) (Observation, error)
}

// Clock is the executor's time: every wait (observe, soak, drain, retry
// backoff), every action's timeout and every journal entry's time are on
// it. k8s.io/utils/clock's RealClock (the default) and its testing
// FakeClock implement it.
type Clock interface {
	// Now is the current time.
	Now() time.Time
	// NewTimer returns a timer that fires once d has passed.
	NewTimer(d time.Duration) clock.Timer
	// AfterFunc calls f once d has passed (unless the timer is stopped).
	AfterFunc(d time.Duration, f func()) clock.Timer
}

// Executor drives migrations: for each transition it first appends the
// journal entry (fsync'd), then performs the new state's actions.
type Executor struct {
	// Journal records every transition before it is acted on; the edges
	// below perform the actions.
	Journal    journal.Journal
	Kubernetes Kubernetes
	Marathon   Marathon
	Traffic    Traffic
	Stats      Stats
	Clock      Clock
	// Resume is the restart policy (default ResumeContinue), given to the
	// machine with EvRestart when a migration resumes from the journal.
	Resume ResumePolicy
	// Drain is how long a backend that left nginx keeps finishing requests
	// before it is stopped (default 2 s).
	Drain time.Duration
	// ActionTimeout bounds one action (default 3 minutes); a timeout is a
	// failure (a forward migration rolls back).
	ActionTimeout time.Duration
	// RetryBackoff is the pause before a failed rollback action, or a held
	// action, is retried (default 1 s). The machine bounds the retries of a
	// failed rollback action (Spec.MaxAttempts); when it gives up the
	// executor stops with an error naming what is left. Holds are retried
	// until they clear or an operator aborts.
	RetryBackoff time.Duration
	// Progress receives one line per transition and per observation
	// (nil: discarded). Lines are plain text, fit for logs and terminals.
	Progress io.Writer

	mu       sync.Mutex
	commands map[string]chan Event
	outMu    sync.Mutex
}

// Result is how one migration ended.
type Result struct {
	// App is the app; State its last state; Err why it did not finalize
	// (a *RolledBackError when it rolled back); Duration the time it took.
	App      string
	State    State
	Err      error
	Duration time.Duration
	// Spent is the time spent per action kind (summed over repeats).
	Spent map[ActionKind]time.Duration
}

// Latest returns the app's latest journaled state (ok false: never
// journaled).
func Latest(j journal.Reader, app string) (State, bool, error) {
	es, err := j.Load(app)
	if err != nil || len(es) == 0 {
		return State{}, false, err
	}
	return decodeState(es[len(es)-1])
}

// Startable refuses what Migrate would take as done without journaling
// anything: migrating an app that is on Kubernetes already (Finalized),
// rolling back one that is rolled back already or that never migrated. A
// caller that waits for the journal's next entry (serve's API, a client
// following it) checks this first.
func Startable(j journal.Reader, app string, first []Event) error {
	st, found, err := Latest(j, app)
	if err != nil {
		return err
	}
	rollback := len(first) > 0 && first[0].Kind == EvRollback
	switch {
	case rollback && !found:
		return fmt.Errorf("%s: no migration of this app in the journal to roll back", app)
	case rollback && st.Phase == RolledBack:
		return fmt.Errorf("%s is rolled back already (on Marathon)", app)
	case !rollback && found && st.Phase == Finalized:
		return fmt.Errorf("%s is migrated already (Finalized on Kubernetes; `switchyard rollback %s` moves it back)", app, app)
	}
	return nil
}

// StateOf decodes the state journaled with an entry.
func StateOf(e journal.Entry) (State, error) {
	s, _, err := decodeState(e)
	return s, err
}

func decodeState(e journal.Entry) (State, bool, error) {
	var s State
	if err := json.Unmarshal(e.State, &s); err != nil {
		return State{}, false, fmt.Errorf("journal entry %d of %s: %w", e.Seq, e.App, err)
	}
	return s, true, nil
}

// Send delivers an operator command (pause, resume, abort, rollback,
// finalize) to a running migration; it reports false when the app is not
// being migrated by this executor.
func (x *Executor) Send(app string, ev Event) bool {
	x.mu.Lock()
	ch := x.commands[app]
	x.mu.Unlock()
	if ch == nil {
		return false
	}
	select {
	case ch <- ev:
		return true
	default:
		return false
	}
}

// Migrate runs (or resumes, from the journal) one app's migration until it
// is Finalized or RolledBack, or until ctx ends (the journal then holds
// where it stood). A first event (e.g. EvRollback) may be given; EvRollback
// of a Finalized migration moves the app back to Marathon (re-created from
// the journaled definition).
func (x *Executor) Migrate(ctx context.Context, app App, first ...Event) Result {
	start := x.clock().Now()
	spent := map[ActionKind]time.Duration{}
	st, err := x.migrate(ctx, app, first, spent)
	return Result{App: app.Name, State: st, Err: err, Duration: x.clock().Now().Sub(start), Spent: spent}
}

// Wave migrates apps with at most parallel migrations at once (<= 0: one).
// Results are in the order of apps.
func (x *Executor) Wave(ctx context.Context, apps []App, parallel int) []Result {
	if parallel <= 0 {
		parallel = 1
	}
	out := make([]Result, len(apps))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, a := range apps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				out[i] = Result{App: a.Name, Err: ctx.Err()}
				return
			}
			defer func() { <-sem }()
			out[i] = x.Migrate(ctx, a)
		}()
	}
	wg.Wait()
	return out
}

func (x *Executor) clock() Clock {
	if x.Clock == nil {
		return clock.RealClock{}
	}
	return x.Clock
}

// sleep waits d on the executor's clock, or until ctx ends (then it
// returns ctx.Err()).
func (x *Executor) sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := x.clock().NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (x *Executor) migrate(ctx context.Context, app App, first []Event, spent map[ActionKind]time.Duration) (State, error) {
	cmds := make(chan Event, 8)
	x.mu.Lock()
	if x.commands == nil {
		x.commands = map[string]chan Event{}
	}
	if x.commands[app.Name] != nil {
		x.mu.Unlock()
		return State{}, fmt.Errorf("migrate %s: already running in this executor", app.Name)
	}
	x.commands[app.Name] = cmds
	x.mu.Unlock()
	defer func() {
		x.mu.Lock()
		delete(x.commands, app.Name)
		x.mu.Unlock()
	}()

	s, found, err := Latest(x.Journal, app.Name)
	if err != nil {
		return s, fmt.Errorf("migrate %s: %w", app.Name, err)
	}
	var events []Event
	switch {
	case !found && len(first) > 0:
		return s, fmt.Errorf("migrate %s: no migration of this app in the journal", app.Name)
	case !found || s.Phase == RolledBack && len(first) == 0: // a new attempt
		p, err := x.plan(ctx, app)
		if err != nil {
			return s, err
		}
		if s, err = Start(app.Name, p); err != nil {
			return s, fmt.Errorf("migrate %s: %w", app.Name, err)
		}
		events = []Event{{Kind: EvStart}}
	default:
		if !s.Phase.Terminal() {
			x.logf(app.Name, "resuming from the journal: %s", summary(s))
		}
		if len(s.Spec.MarathonDefinition) == 0 {
			// Journaled before definitions were: the caller's, if any.
			s.Spec.MarathonDefinition = app.MarathonDefinition
		}
		events = append([]Event{{Kind: EvRestart, Resume: x.Resume}}, first...)
	}
	applied := false
	for _, ev := range events {
		n, err := x.step(ctx, s, ev)
		var na *NotApplied
		switch {
		case errors.Is(err, ErrNoMarathonDefinition):
			return s, fmt.Errorf("migrate %s: roll back the finalized migration: %w", app.Name, err)
		case errors.As(err, &na):
			continue
		case err != nil:
			return s, err
		}
		s, applied = n, true
	}
	if !applied && s.Phase.Terminal() {
		x.logf(app.Name, "already %s (%s); nothing to do", s.Phase, s.Reason)
		return s, nil
	}
	holds := 0
	for !s.Phase.Terminal() {
		if s.GaveUp {
			return s, fmt.Errorf("migrate %s: %s", app.Name, s.Reason)
		}
		acts := Actions(s)
		if len(acts) == 0 { // paused: wait for a command
			select {
			case ev := <-cmds:
				if s, err = x.apply(ctx, s, ev); err != nil {
					return s, err
				}
				continue
			case <-ctx.Done():
				return s, fmt.Errorf("migrate %s: stopped in %s: %w", app.Name, Label(s), ctx.Err())
			}
		}
		began := x.clock().Now()
		ev, cmd := x.perform(ctx, app, s, acts[0], cmds)
		spent[acts[0].Kind] += x.clock().Now().Sub(began)
		if ctx.Err() != nil {
			return s, fmt.Errorf("migrate %s: stopped in %s: %w", app.Name, s.Phase, ctx.Err())
		}
		if ev.Kind == EvHeld {
			if holds++; s.Held && holds%30 == 0 {
				x.logf(app.Name, "%s: still held after %d attempts: %s", Label(s), holds, ev.Reason)
			}
		} else {
			holds = 0
		}
		if s, err = x.apply(ctx, s, ev); err != nil {
			return s, err
		}
		if cmd != nil {
			if s, err = x.apply(ctx, s, *cmd); err != nil {
				return s, err
			}
		}
		if s.Retrying() {
			// Retry the same action after a backoff; an operator's command
			// (abort, pause) is taken meanwhile.
			cmd, err := x.backoff(ctx, cmds)
			if err != nil {
				return s, fmt.Errorf("migrate %s: stopped in %s: %w", app.Name, Label(s), err)
			}
			if cmd != nil {
				if s, err = x.apply(ctx, s, *cmd); err != nil {
					return s, err
				}
			}
		}
	}
	switch {
	case s.Phase == RolledBack:
		return s, &RolledBackError{App: app.Name, Reason: s.Cause}
	case s.Phase == Finalized && s.Cause != "":
		return s, fmt.Errorf("migrate %s: %s", app.Name, s.Reason)
	}
	return s, nil
}

// backoff waits RetryBackoff on the executor's clock, or until an
// operator's command arrives (returned).
func (x *Executor) backoff(ctx context.Context, cmds <-chan Event) (*Event, error) {
	d := x.RetryBackoff
	if d <= 0 {
		d = time.Second
	}
	t := x.clock().NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return nil, nil
	case cmd := <-cmds:
		return &cmd, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// plan is the app's plan with what it leaves out read from Marathon: the
// instance count and the definition (journaled, to create the app again on
// a rollback of the finalized migration). Start gives it the machine's
// defaults.
func (x *Executor) plan(ctx context.Context, app App) (Spec, error) {
	p := app.Spec
	if p.MarathonInstances == 0 {
		n, err := x.Marathon.Instances(ctx, app)
		if err != nil {
			return p, fmt.Errorf("migrate %s: read the Marathon app: %w", app.Name, err)
		}
		p.MarathonInstances = n
	}
	p.MarathonDefinition = app.MarathonDefinition
	if len(p.MarathonDefinition) == 0 {
		def, err := x.Marathon.Definition(ctx, app)
		if err != nil {
			return p, fmt.Errorf("migrate %s: read the Marathon app definition (journaled to roll back a finalized migration): %w", app.Name, err)
		}
		p.MarathonDefinition = def
	}
	return p, nil
}

// RolledBackError says a migration ended rolled back, and why.
type RolledBackError struct{ App, Reason string }

func (e *RolledBackError) Error() string {
	return fmt.Sprintf("migrate %s: rolled back: %s", e.App, e.Reason)
}

// step gives an event to the machine: an applied event's transition is
// journaled (durably) before the caller performs the new state's actions;
// one the machine does not apply leaves s as it is, journals nothing and
// is returned as the machine's *NotApplied error.
func (x *Executor) step(ctx context.Context, s State, ev Event) (State, error) {
	n, _, err := Next(s, ev)
	if err != nil {
		return s, err
	}
	data, err := json.Marshal(n)
	if err != nil {
		return s, fmt.Errorf("migrate %s: encode the state to journal: %w", s.App, err)
	}
	e := &journal.Entry{App: n.App, From: Label(s), To: Label(n), Event: string(ev.Kind), Time: x.clock().Now(), Reason: n.Reason, State: data}
	// The journal write must not be cut short by a cancelled migration.
	if err := x.Journal.Append(context.WithoutCancel(ctx), e); err != nil {
		return s, fmt.Errorf("migrate %s: %w (nothing was done for this transition)", s.App, err)
	}
	x.logf(n.App, "%s → %s (%s)%s", Label(s), Label(n), ev.Kind, reasonSuffix(n.Reason))
	return n, nil
}

// apply is step for the events of a running migration: one the machine
// does not apply (a command that came too late, a repeated hold) is nothing
// to do.
func (x *Executor) apply(ctx context.Context, s State, ev Event) (State, error) {
	n, err := x.step(ctx, s, ev)
	var na *NotApplied
	if errors.As(err, &na) {
		return s, nil
	}
	return n, err
}

func summary(s State) string {
	return fmt.Sprintf("%s, weights kubernetes %d%% / marathon %d%%", Label(s), s.KubePercent, 100-s.KubePercent)
}

func reasonSuffix(r string) string {
	if r == "" {
		return ""
	}
	return ": " + r
}

// perform runs one action and returns the event it ends with, and an
// operator command that arrived meanwhile (applied after it). Waits and
// observations are interrupted by a command; other actions finish first.
func (x *Executor) perform(ctx context.Context, app App, s State, a Action, cmds <-chan Event) (Event, *Event) {
	timeout := x.ActionTimeout
	if timeout <= 0 {
		timeout = 3 * time.Minute
	}
	if a.Kind == ActObserve || a.Kind == ActWait {
		timeout += a.Wait
	}
	// The timeout is on the executor's clock: the action's context is
	// cancelled with context.DeadlineExceeded as its cause.
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	deadline := x.clock().AfterFunc(timeout, func() { cancel(context.DeadlineExceeded) })
	defer deadline.Stop()
	done := make(chan Event, 1)
	go func() { done <- x.do(actx, app, s, a, timeout) }()
	select {
	case ev := <-done:
		return ev, nil
	case cmd := <-cmds:
		if a.Kind == ActObserve || a.Kind == ActWait {
			cancel(nil)
			<-done
			return cmd, nil
		}
		return <-done, &cmd
	}
}

func (x *Executor) do(ctx context.Context, app App, s State, a Action, timeout time.Duration) Event {
	fail := func(what string, err error) Event {
		if errors.Is(err, ErrHold) {
			return Event{Kind: EvHeld, Reason: fmt.Sprintf("%s: %v", what, err)}
		}
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
			err = fmt.Errorf("timed out after %s: %w", timeout, err)
		}
		return Event{Kind: EvFailed, Reason: fmt.Sprintf("%s: %v", what, err)}
	}
	ok := Event{Kind: EvDone}
	switch a.Kind {
	case ActInstall:
		if err := x.Kubernetes.Install(ctx, app); err != nil {
			return fail("install on Kubernetes", err)
		}
	case ActWaitReady:
		if err := x.Kubernetes.WaitReady(ctx, app); err != nil {
			return fail("wait for the Kubernetes release to be ready", err)
		}
	case ActSetWeights:
		if err := x.Traffic.SetKubePercent(ctx, app, a.KubePercent); err != nil {
			return fail(fmt.Sprintf("set weights kubernetes=%d%%", a.KubePercent), err)
		}
	case ActObserve:
		from := x.clock().Now()
		if err := x.sleep(ctx, a.Wait); err != nil {
			return fail("watch the step", err)
		}
		pf := a.Platform
		if pf == "" {
			pf = PlatformKubernetes
		}
		obs, err := x.Stats.Observe(ctx, app, pf, from, x.clock().Now())
		if err != nil {
			return fail(fmt.Sprintf("read nginx statistics of %s", pf), err)
		}
		step, to := fmt.Sprintf("step %d%%", s.KubePercent), "Kubernetes"
		if pf == PlatformMarathon {
			step, to = fmt.Sprintf("back step marathon %d%%", 100-s.KubePercent), "Marathon"
		}
		x.logf(app.Name, "%s: kubernetes %d%% / marathon %d%%, %d requests to %s, error rate %.2f%%, p99 %s",
			step, s.KubePercent, 100-s.KubePercent, obs.Requests, to, 100*obs.ErrorRate, obs.P99)
		return Event{Kind: EvObserved, Obs: obs}
	case ActScaleMarathon:
		if a.Instances == 0 {
			if err := x.Traffic.SetMarathon(ctx, app, false); err != nil {
				return fail("take Marathon's backends out of nginx", err)
			}
			if err := x.sleep(ctx, x.drain()); err != nil {
				return fail("drain Marathon's backends", err)
			}
			if err := x.Marathon.Scale(ctx, app, 0); err != nil {
				return fail("scale Marathon to 0", err)
			}
			break
		}
		if err := x.Marathon.Scale(ctx, app, a.Instances); err != nil {
			return fail(fmt.Sprintf("scale Marathon to %d", a.Instances), err)
		}
		if err := x.Traffic.SetMarathon(ctx, app, true); err != nil {
			return fail("put Marathon's backends back in nginx", err)
		}
	case ActWait:
		if err := x.sleep(ctx, a.Wait); err != nil {
			return fail("soak", err)
		}
	case ActDeleteMarathon:
		if err := x.Marathon.Delete(ctx, app); err != nil {
			return fail("remove the Marathon app", err)
		}
	case ActCreateMarathon:
		if err := x.Marathon.Create(ctx, app, s.Spec.MarathonDefinition, a.Instances); err != nil {
			return fail(fmt.Sprintf("create the Marathon app again with %d instances", a.Instances), err)
		}
		// Back in the pool at weight 0: set-weights moves traffic to it.
		if err := x.Traffic.SetMarathon(ctx, app, true); err != nil {
			return fail("put Marathon's backends back in nginx", err)
		}
	case ActRemoveKubernetes:
		// Its backends left the pool with the weights stage: let requests
		// already sent to them finish before the pods stop.
		if err := x.sleep(ctx, x.drain()); err != nil {
			return fail("drain Kubernetes' backends", err)
		}
		if err := x.Kubernetes.Remove(ctx, app); err != nil {
			return fail("remove the Kubernetes release", err)
		}
	}
	return ok
}

func (x *Executor) drain() time.Duration {
	if x.Drain <= 0 {
		return 2 * time.Second
	}
	return x.Drain
}

func (x *Executor) logf(app, format string, args ...any) {
	if x.Progress == nil {
		return
	}
	x.outMu.Lock()
	defer x.outMu.Unlock()
	fmt.Fprintf(x.Progress, "%s %s: %s\n", x.clock().Now().Format("15:04:05.000"), app, fmt.Sprintf(format, args...))
}
