package loadgen

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// Load is a load run in the background with the moments a change under
// test began and ended marked on it: the one load-and-compare harness of
// the tests and benchmarks that change live traffic (a migration, weight
// shifts, a restart). Stop splits the run into the requests sent before,
// during and after the change.
//
//	l := loadgen.Start(ctx, loadgen.Config{Target: lb, Path: "/web/", PostEvery: 3, Rate: 400})
//	time.Sleep(2 * time.Second) // traffic flows before the change
//	l.Begin()
//	r := x.Migrate(ctx, app)
//	l.End()
//	time.Sleep(2 * time.Second) // and after it
//	p := l.Stop()
//	t.Logf("load:\n%s", p)
//	if err := p.ZeroFailed(1000); err != nil {
//		t.Fatal(err)
//	}
//
// Around does all of that for a change that is one call.
type Load struct {
	cancel context.CancelFunc
	done   chan Result

	mu         sync.Mutex
	begin, end time.Time
	phases     *Phases
}

// Start runs cfg's load in the background until Stop (or until ctx is
// done, or cfg.Requests were sent).
func Start(ctx context.Context, cfg Config) *Load {
	ctx, cancel := context.WithCancel(ctx)
	l := &Load{cancel: cancel, done: make(chan Result, 1)}
	go func() { l.done <- Run(ctx, cfg) }()
	return l
}

// Begin marks now as the moment the change began.
func (l *Load) Begin() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.begin = time.Now()
}

// End marks now as the moment the change ended.
func (l *Load) End() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.end = time.Now()
}

// Stop ends the load, waits for its last requests and returns the run split
// around the change: without Begin, the change began when the load did;
// without End, it ended at Stop. Stop again returns the same Phases.
func (l *Load) Stop() Phases {
	l.cancel()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.phases == nil {
		p := Split(<-l.done, l.begin, l.end)
		l.phases = &p
	}
	return *l.phases
}

// Around runs cfg's load for settle, then change, then for settle again,
// and returns the run split around change.
func Around(ctx context.Context, cfg Config, settle time.Duration, change func()) Phases {
	l := Start(ctx, cfg)
	time.Sleep(settle)
	l.Begin()
	change()
	l.End()
	time.Sleep(settle)
	return l.Stop()
}

// Phases is a finished run split around a change: Before counts the
// requests that started before it began, During those that started while
// it ran, After those that started once it had ended.
type Phases struct {
	// Result is the whole run.
	Result
	Before, During, After Summary
	// Begin and End are when the change began and ended.
	Begin, End time.Time

	marked bool // Begin or End was given: String shows the phases
}

// Split splits r around a change that ran from begin to end (zero: the
// run's start, and its end).
func Split(r Result, begin, end time.Time) Phases {
	stop := r.Start.Add(r.Duration + time.Nanosecond) // after every request's start
	marked := !begin.IsZero() || !end.IsZero()
	if begin.IsZero() {
		begin = r.Start
	}
	if end.IsZero() {
		end = stop
	}
	return Phases{Result: r, Begin: begin, End: end, marked: marked,
		Before: r.Between(r.Start, begin), During: r.Between(begin, end), After: r.Between(end, stop)}
}

// String renders the phases and the whole run (with its failures and the
// backends that answered), one line each; a run with no change marked on
// it, the whole run alone.
func (p Phases) String() string {
	total := fmt.Sprintf("%s; failures %s; by backend %v", p.Result, p.failures(), p.ByBackend)
	if !p.marked {
		return total
	}
	return fmt.Sprintf("before: %s\nduring: %s\nafter:  %s\ntotal:  %s", p.Before, p.During, p.After, total)
}

// failures lists the failure descriptions with their counts, sorted.
func (p Phases) failures() string {
	if len(p.Errors) == 0 {
		return "none"
	}
	var out []string
	for what, n := range p.Errors {
		out = append(out, fmt.Sprintf("%d× %s", n, what))
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// ZeroFailed returns nil when no request of the run failed and at least
// minSent were sent (so that zero means something); else an error with the
// phases and the failures: the check of a change that must lose nothing.
func (p Phases) ZeroFailed(minSent int64) error {
	if p.Failed != 0 {
		return fmt.Errorf("%d of %d requests failed (before/during/after %d/%d/%d): %s",
			p.Failed, p.Sent, p.Before.Failed, p.During.Failed, p.After.Failed, p.failures())
	}
	if p.Sent < minSent {
		return fmt.Errorf("only %d requests sent, want at least %d for zero failures to mean something", p.Sent, minSent)
	}
	return nil
}

// FailedOnlyDuring returns nil when no request failed before the change or
// after it, some were sent after it (traffic flows again), and every
// failure reads as one of allowed (substrings of the failure descriptions,
// e.g. "status 500"): the check of a change that may cost a few requests
// while it runs, such as a bad release caught at its first step.
func (p Phases) FailedOnlyDuring(allowed ...string) error {
	if p.Before.Failed != 0 {
		return fmt.Errorf("requests failed before the change: %s; failures %s", p.Before, p.failures())
	}
	if p.After.Failed != 0 || p.After.Sent == 0 {
		return fmt.Errorf("after the change: %s; failures %s", p.After, p.failures())
	}
	for what, n := range p.Errors {
		ok := false
		for _, a := range allowed {
			ok = ok || strings.Contains(what, a)
		}
		if !ok {
			return fmt.Errorf("%d requests failed with %q, not one of %q", n, what, allowed)
		}
	}
	return nil
}
