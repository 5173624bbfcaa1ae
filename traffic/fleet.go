package traffic

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"
)

// ErrNotAcknowledged means some instances of the fleet have not stored the
// desired routing state (yet): they route with an older one. The Fleet keeps
// the desired state and Fleet.Run pushes it when they answer again. Errors
// that wrap it are *NotAcknowledgedError.
var ErrNotAcknowledged = errors.New("routing state not acknowledged by every load balancer instance")

// NotAcknowledgedError lists the instances that did not store Version.
type NotAcknowledgedError struct {
	// Version is the desired version.
	Version int64
	// Pending maps each instance's name to why it did not store Version.
	Pending map[string]error
	// Of is the number of instances in the fleet.
	Of int
}

// Error names each pending instance, its problem and the fix.
func (e *NotAcknowledgedError) Error() string {
	names := make([]string, 0, len(e.Pending))
	for n := range e.Pending {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	fmt.Fprintf(&b, "routing state version %d not acknowledged by %d of %d load balancer instances %s (they route with their previous state; the fleet keeps version %d and pushes it to them again while they lag)",
		e.Version, len(e.Pending), e.Of, strings.Join(names, ", "), e.Version)
	for _, n := range names {
		fmt.Fprintf(&b, "; %s: %v", n, e.Pending[n])
	}
	return b.String()
}

// Is makes errors.Is(err, ErrNotAcknowledged) true.
func (e *NotAcknowledgedError) Is(target error) bool { return target == ErrNotAcknowledged }

// Unwrap returns the instances' errors.
func (e *NotAcknowledgedError) Unwrap() []error {
	out := make([]error, 0, len(e.Pending))
	for _, err := range e.Pending {
		out = append(out, err)
	}
	return out
}

// Fleet is the nginx instances of one context: it pushes the same versioned
// routing state to all of them. A change counts as applied only when every
// instance answered 200 for its version. The Fleet remembers the desired
// state, and Run brings instances that were unreachable or restarted with an
// older state up to it. Set the fields before the first call; a Fleet is
// safe for concurrent use, and its own pushes are serialized.
type Fleet struct {
	// Instances are the context's nginx instances (unique names).
	Instances []*Client
	// BackendCIDRs are the networks backends may be in (Validate).
	BackendCIDRs []netip.Prefix
	// Period is how often Run checks every instance's /healthz
	// (default 1 s).
	Period time.Duration
	// OnEvent receives Run's notable events (an instance restarted, came
	// back, was brought up to the desired version); may be nil.
	OnEvent func(string)
	// OnError receives Run's errors (an instance unreachable, a push
	// failed); may be nil.
	OnError func(error)

	setupOnce sync.Once
	setupErr  error
	write     sync.Mutex // serializes pushes (Update and Sync)

	mu      sync.Mutex // guards desired and inst
	desired *State
	inst    []instanceState
}

type instanceState struct {
	checked   bool
	reachable bool
	version   int64 // last version it reported or stored; -1 unknown
	id        string
	lastErr   error
	reported  string // the last error given to OnError by Sync
}

// NewFleet returns a fleet of the given instances, validating backends
// against backendCIDRs.
func NewFleet(backendCIDRs []netip.Prefix, instances ...*Client) *Fleet {
	return &Fleet{Instances: instances, BackendCIDRs: backendCIDRs}
}

// InstanceStatus is what the Fleet knows of one instance.
type InstanceStatus struct {
	// Name and AdminURL identify the instance.
	Name, AdminURL string
	// Reachable says the instance answered the last request.
	Reachable bool
	// Version is the routing state version it last reported or stored
	// (-1 before it ever answered).
	Version int64
	// Instance is its instance id (changes when nginx restarts).
	Instance string
	// Acknowledged says it holds the fleet's desired version or a newer one
	// (true when the fleet has no desired state yet).
	Acknowledged bool
	// LastError is the error of the last request, nil after a success.
	LastError error
}

func (f *Fleet) setup() error {
	f.setupOnce.Do(func() {
		if len(f.Instances) == 0 {
			f.setupErr = errors.New("load balancer: no instance configured (set the context's loadBalancer.instances)")
			return
		}
		seen := map[string]bool{}
		for i, c := range f.Instances {
			if c == nil || c.AdminURL == "" {
				f.setupErr = fmt.Errorf("load balancer: instances[%d] has no admin URL (check the context's loadBalancer.instances)", i)
				return
			}
			if seen[c.String()] {
				f.setupErr = fmt.Errorf("load balancer: instance name %q is used twice (check the context's loadBalancer.instances)", c.String())
				return
			}
			seen[c.String()] = true
		}
		f.inst = make([]instanceState, len(f.Instances))
		for i := range f.inst {
			f.inst[i].version = -1
		}
	})
	return f.setupErr
}

// Desired returns the state the fleet last pushed (or is still pushing to
// some instances), and false before its first change.
func (f *Fleet) Desired() (State, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.desired == nil {
		return State{}, false
	}
	return f.desired.Clone(), true
}

// Status returns what the fleet knows of each instance, in Instances order.
func (f *Fleet) Status() []InstanceStatus {
	if err := f.setup(); err != nil {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]InstanceStatus, len(f.Instances))
	for i, c := range f.Instances {
		st := f.inst[i]
		out[i] = InstanceStatus{Name: c.String(), AdminURL: c.AdminURL, Reachable: st.reachable, Version: st.version,
			Instance: st.id, Acknowledged: f.ackedLocked(i), LastError: st.lastErr}
	}
	return out
}

// Acknowledged reports whether every instance holds the desired version (or
// a newer one): no instance may still route with an older state.
func (f *Fleet) Acknowledged() bool {
	if err := f.setup(); err != nil {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.inst {
		if !f.ackedLocked(i) {
			return false
		}
	}
	return true
}

func (f *Fleet) ackedLocked(i int) bool {
	return f.desired == nil || f.inst[i].version >= f.desired.Version
}

// record notes the outcome of a request to instance i: the version it
// reported or stored (-1: none), its id ("" unknown) or the error.
func (f *Fleet) record(i int, version int64, id string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := &f.inst[i]
	st.checked = true
	if err != nil {
		// Any answer, even an error, shows the instance is reachable; a
		// conflict is not the instance's problem.
		st.reachable = !errors.Is(err, ErrUnreachable)
		if !errors.Is(err, ErrConflict) {
			st.lastErr = err
		}
		return
	}
	st.reachable, st.lastErr = true, nil
	if id != "" {
		st.id = id
	}
	if version >= 0 {
		st.version = version
	}
}

// result is one instance's answer.
type result struct {
	state State
	err   error
}

// each runs fn on the given instances (all when idx is nil) in parallel.
func (f *Fleet) each(idx []int, fn func(i int, c *Client) result) []result {
	if idx == nil {
		idx = make([]int, len(f.Instances))
		for i := range idx {
			idx[i] = i
		}
	}
	out := make([]result, len(f.Instances))
	var wg sync.WaitGroup
	for _, i := range idx {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = fn(i, f.Instances[i])
		}()
	}
	wg.Wait()
	return out
}

func (f *Fleet) readAll(ctx context.Context) []result {
	return f.each(nil, func(i int, c *Client) result {
		s, err := c.Get(ctx)
		if err == nil {
			f.record(i, s.Version, "", nil)
		} else {
			f.record(i, -1, "", err)
		}
		return result{s, err}
	})
}

// putAll pushes s to the instances idx (all when nil) and records the
// outcomes; a conflict means the instance holds a newer state.
func (f *Fleet) putAll(ctx context.Context, s State, idx []int) []result {
	return f.each(idx, func(i int, c *Client) result {
		st, err := c.Put(ctx, s)
		if err == nil {
			f.record(i, st.Version, "", nil)
		} else {
			f.record(i, -1, "", err)
		}
		return result{st, err}
	})
}

func (f *Fleet) setDesired(s State) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := s.Clone()
	f.desired = &c
}

// maxAttempts bounds Update's retries on version conflicts.
const maxAttempts = 20

// Update reads every instance's state (in parallel), applies change to the
// newest one (or to the fleet's own desired state when that is newer),
// validates the result as the next version and pushes it to every instance
// in parallel. It implements follow.Pusher.
//
//   - Every instance answered 200: the change is applied; it returns the
//     state as stored.
//   - An instance holds a newer state (409, another writer): it re-reads and
//     retries (jittered, at most 20 attempts); change may be called again.
//   - An instance refused the state (400) while others accepted it: the
//     previous state is pushed forward as a newer version, so nothing stays
//     half-applied, and the error (wrapping ErrRefused) says nothing changed.
//   - An instance is unreachable or answered another error: the others hold
//     the new state, the fleet keeps it as desired (Run pushes it later), and
//     it returns the desired state with a *NotAcknowledgedError.
//
// When nothing changes (change returns the state every instance that
// answers already holds), no version is pushed.
//
// Several writers (fleets of other processes) converge: an instance accepts
// only a newer version, so a writer's change is applied only once every
// instance stored it. A change can still be lost when writers that see
// different subsets of the instances (a partition) store different states
// under the same version; the newest version on the first instance in
// Instances order wins the next change.
func (f *Fleet) Update(ctx context.Context, change func(State) (State, error)) (State, error) {
	if err := f.setup(); err != nil {
		return State{}, err
	}
	f.write.Lock()
	defer f.write.Unlock()
	var last error
	for attempt := 0; attempt < maxAttempts; attempt++ {
		if attempt > 0 {
			// Another writer won: back off a little (jittered) and re-read.
			t := time.NewTimer(time.Duration(attempt*5+rand.IntN(20)) * time.Millisecond)
			select {
			case <-ctx.Done():
				t.Stop()
				return State{}, fmt.Errorf("%w (gave up: %w)", last, ctx.Err())
			case <-t.C:
			}
		}
		reads := f.readAll(ctx)
		base, err := f.base(reads)
		if err != nil {
			return State{}, err
		}
		next, err := change(base.Clone())
		if err != nil {
			return State{}, err
		}
		next.Version = base.Version
		if sameState(next, base) {
			if pending, ok := f.holdEverywhere(reads, base); ok {
				// Nothing to change: no new version (the instances that
				// did not answer still count as pending).
				f.setDesired(base)
				if len(pending) > 0 {
					return base, &NotAcknowledgedError{Version: base.Version, Pending: pending, Of: len(f.Instances)}
				}
				return base, nil
			}
		}
		next.Version = base.Version + 1
		if err := Validate(next, f.BackendCIDRs); err != nil {
			return State{}, fmt.Errorf("routing state version %d not applied (nothing changed): %w", next.Version, err)
		}
		res := f.putAll(ctx, next, nil)
		var accepted, refused, conflict []int
		pending := map[string]error{}
		for i, r := range res {
			switch {
			case r.err == nil:
				accepted = append(accepted, i)
			case errors.Is(r.err, ErrRefused):
				refused = append(refused, i)
			case errors.Is(r.err, ErrConflict):
				conflict = append(conflict, i)
			default:
				pending[f.Instances[i].String()] = r.err
			}
		}
		if len(refused) > 0 {
			return State{}, f.rollBack(ctx, base, next, res, accepted, refused)
		}
		if len(conflict) > 0 {
			errs := make([]error, 0, len(conflict))
			for _, i := range conflict {
				errs = append(errs, res[i].err)
			}
			last = fmt.Errorf("routing state version %d not applied: another writer got there first: %w", next.Version, errors.Join(errs...))
			continue
		}
		f.setDesired(next)
		if len(pending) > 0 {
			return next, &NotAcknowledgedError{Version: next.Version, Pending: pending, Of: len(f.Instances)}
		}
		return res[accepted[0]].state, nil
	}
	return State{}, last
}

// base picks the state a change applies to: the newest state read (the
// first instance's on a tie), or the fleet's desired state when newer.
func (f *Fleet) base(reads []result) (State, error) {
	var base *State
	var errs []error
	for i := range reads {
		if reads[i].err != nil {
			errs = append(errs, reads[i].err)
			continue
		}
		if base == nil || reads[i].state.Version > base.Version {
			base = &reads[i].state
		}
	}
	f.mu.Lock()
	if f.desired != nil && (base == nil || f.desired.Version > base.Version) {
		d := f.desired.Clone()
		base = &d
	}
	f.mu.Unlock()
	if base == nil {
		return State{}, fmt.Errorf("routing state not changed: no load balancer instance answered and the fleet knows no earlier state: %w", errors.Join(errs...))
	}
	return *base, nil
}

// holdEverywhere reports whether every instance that answered holds s, and
// returns the errors of those that did not answer.
func (f *Fleet) holdEverywhere(reads []result, s State) (map[string]error, bool) {
	pending := map[string]error{}
	for i, r := range reads {
		switch {
		case r.err != nil:
			pending[f.Instances[i].String()] = r.err
		case !sameState(r.state, s):
			return nil, false
		}
	}
	return pending, true
}

// rollBack handles a state refused by some instances: the instances that
// accepted it get the previous state back as a newer version (so do the
// others, to keep one version everywhere), and the error says nothing
// changed, and which instances, if any, could not be put back yet.
func (f *Fleet) rollBack(ctx context.Context, prev, next State, res []result, accepted, refused []int) error {
	why := make([]error, 0, len(refused))
	for _, i := range refused {
		why = append(why, res[i].err)
	}
	refusal := fmt.Errorf("routing state version %d not applied (nothing changed): %w", next.Version, errors.Join(why...))
	if len(accepted) == 0 {
		return refusal
	}
	back := prev.Clone()
	back.Version = next.Version + 1
	rres := f.putAll(ctx, back, nil)
	f.setDesired(back)
	pending := map[string]error{}
	for _, i := range accepted {
		if err := rres[i].err; err != nil && !errors.Is(err, ErrConflict) {
			pending[f.Instances[i].String()] = fmt.Errorf("it still routes with the refused version %d: %w", next.Version, err)
		}
	}
	if len(pending) == 0 {
		names := make([]string, len(accepted))
		for k, i := range accepted {
			names[k] = f.Instances[i].String()
		}
		return fmt.Errorf("%w (instances %s had accepted it and hold the previous routes again, as version %d)", refusal, strings.Join(names, ", "), back.Version)
	}
	return errors.Join(refusal, &NotAcknowledgedError{Version: back.Version, Pending: pending, Of: len(f.Instances)})
}

// SetRoute adds a route or replaces the route of the same name.
func (f *Fleet) SetRoute(ctx context.Context, r Route) (State, error) {
	return f.Update(ctx, func(s State) (State, error) { return s.WithRoute(r), nil })
}

// RemoveRoute removes a route; removing a missing route is not an error.
func (f *Fleet) RemoveRoute(ctx context.Context, name string) (State, error) {
	return f.Update(ctx, func(s State) (State, error) { return s.WithoutRoute(name), nil })
}

// Get returns the newest routing state among the instances that answer.
func (f *Fleet) Get(ctx context.Context) (State, error) {
	if err := f.setup(); err != nil {
		return State{}, err
	}
	reads := f.readAll(ctx)
	var best *State
	var errs []error
	for i := range reads {
		if reads[i].err != nil {
			errs = append(errs, reads[i].err)
		} else if best == nil || reads[i].state.Version > best.Version {
			best = &reads[i].state
		}
	}
	if best == nil {
		return State{}, fmt.Errorf("no load balancer instance answered: %w", errors.Join(errs...))
	}
	return *best, nil
}

// RemoveBackend takes a backend out of service in the only safe order:
// first it is removed from the route on every instance (no new request goes
// to it), then requests already sent to it get drain to finish, then stop is
// called (may be nil) to stop the task or pod. A backend that is already
// absent from the route is only drained and stopped, so the call can be
// repeated. While an instance has not acknowledged the removal, the backend
// is not stopped.
func (f *Fleet) RemoveBackend(ctx context.Context, route, address string, drain time.Duration, stop func(context.Context) error) error {
	_, err := f.Update(ctx, func(s State) (State, error) {
		r, ok := s.Route(route)
		if !ok {
			return s, nil
		}
		kept := r.Backends[:0]
		for _, b := range r.Backends {
			if b.Address != address {
				kept = append(kept, b)
			}
		}
		r.Backends = kept
		return s.WithRoute(r), nil
	})
	if err != nil {
		return fmt.Errorf("remove backend %s from route %q: %w (it was not stopped)", address, route, err)
	}
	if drain > 0 {
		t := time.NewTimer(drain)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return fmt.Errorf("remove backend %s from route %q: removed from nginx, drain interrupted (not stopped): %w", address, route, ctx.Err())
		case <-t.C:
		}
	}
	if stop != nil {
		if err := stop(ctx); err != nil {
			return fmt.Errorf("remove backend %s from route %q: removed from nginx and drained, but stopping it failed: %w", address, route, err)
		}
	}
	return nil
}

// Run checks every instance's /healthz each Period (Sync) until ctx ends,
// bringing instances that hold an older version than the desired one up to
// it. It reports through OnEvent and OnError (an error once, not every
// round, while it stays the same) and returns ctx's error.
func (f *Fleet) Run(ctx context.Context) error {
	if err := f.setup(); err != nil {
		return err
	}
	period := f.Period
	if period <= 0 {
		period = time.Second
	}
	// A round waits for no instance longer than this (one that hangs must
	// not delay the others' next check for long).
	round := max(5*period, 5*time.Second)
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		rctx, cancel := context.WithTimeout(ctx, round)
		f.Sync(rctx)
		cancel()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Sync is one round of Run: it reads every instance's /healthz (in
// parallel) and pushes the desired state to the instances that report an
// older version (unreachable during a push, or restarted with an older
// state). It returns a *NotAcknowledgedError while some instance does not
// hold the desired version.
func (f *Fleet) Sync(ctx context.Context) error {
	if err := f.setup(); err != nil {
		return err
	}
	hs := make([]Health, len(f.Instances))
	res := f.each(nil, func(i int, c *Client) result {
		h, err := c.Health(ctx)
		hs[i] = h
		return result{err: err}
	})
	var lag []int
	var events []string
	var errs []error
	f.mu.Lock()
	for i, r := range res {
		st := &f.inst[i]
		name := f.Instances[i].String()
		if r.err != nil {
			if st.reported != r.err.Error() {
				st.reported = r.err.Error()
				errs = append(errs, r.err)
			}
			st.checked, st.reachable, st.lastErr = true, false, r.err
			continue
		}
		h := hs[i]
		switch {
		case st.id != "" && h.Instance != st.id:
			events = append(events, fmt.Sprintf("load balancer instance %s restarted (instance id %s -> %s), it holds routing state version %d", name, st.id, h.Instance, h.Version))
		case st.checked && !st.reachable:
			events = append(events, fmt.Sprintf("load balancer instance %s answers again, it holds routing state version %d", name, h.Version))
		}
		st.checked, st.reachable, st.lastErr, st.id, st.version = true, true, nil, h.Instance, h.Version
		if f.desired != nil && h.Version < f.desired.Version {
			lag = append(lag, i) // its push reports its own errors
		} else {
			st.reported = ""
		}
	}
	f.mu.Unlock()
	f.emit(events, errs)
	if len(lag) > 0 {
		f.catchUp(ctx, lag, hs)
	}
	return f.pendingErr()
}

// catchUp pushes the desired state to the lagging instances.
func (f *Fleet) catchUp(ctx context.Context, lag []int, hs []Health) {
	f.write.Lock()
	defer f.write.Unlock()
	d, ok := f.Desired()
	if !ok {
		return
	}
	res := f.putAll(ctx, d, lag)
	var events []string
	var errs []error
	for _, i := range lag {
		name := f.Instances[i].String()
		switch err := res[i].err; {
		case err == nil:
			events = append(events, fmt.Sprintf("load balancer instance %s brought up to routing state version %d (it held version %d)", name, d.Version, hs[i].Version))
		case errors.Is(err, ErrConflict):
			// It got a newer state meanwhile (from us or another writer).
		default:
			err = fmt.Errorf("bringing load balancer instance %s up to routing state version %d: %w", name, d.Version, err)
			f.mu.Lock()
			if f.inst[i].reported != err.Error() {
				f.inst[i].reported = err.Error()
				errs = append(errs, err)
			}
			f.mu.Unlock()
		}
	}
	f.emit(events, errs)
}

func (f *Fleet) emit(events []string, errs []error) {
	for _, e := range events {
		if f.OnEvent != nil {
			f.OnEvent(e)
		}
	}
	for _, err := range errs {
		if f.OnError != nil {
			f.OnError(err)
		}
	}
}

// pendingErr returns a *NotAcknowledgedError naming the instances that do
// not hold the desired version, or nil.
func (f *Fleet) pendingErr() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.desired == nil {
		return nil
	}
	pending := map[string]error{}
	for i := range f.inst {
		if f.ackedLocked(i) {
			continue
		}
		err := f.inst[i].lastErr
		if err == nil {
			err = fmt.Errorf("it holds version %d", f.inst[i].version)
		}
		pending[f.Instances[i].String()] = err
	}
	if len(pending) == 0 {
		return nil
	}
	return &NotAcknowledgedError{Version: f.desired.Version, Pending: pending, Of: len(f.Instances)}
}

// Pending returns a *NotAcknowledgedError naming the instances that do not
// hold the desired version (as last seen), or nil when all do.
func (f *Fleet) Pending() error {
	if err := f.setup(); err != nil {
		return err
	}
	return f.pendingErr()
}
