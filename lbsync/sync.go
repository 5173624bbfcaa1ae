package lbsync

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/switchyard/switchyard/appspec"
	"github.com/switchyard/switchyard/traffic"
)

// Pusher writes the load balancers' routing state: traffic.Fleet (every
// instance of a context) implements it.
// change may be called several times (a conflicting writer makes it retry);
// an error from change is returned as is and nothing is pushed.
type Pusher interface {
	Update(ctx context.Context, change func(traffic.State) (traffic.State, error)) (traffic.State, error)
}

// MarathonLister lists Marathon's apps with their tasks (MarathonSource).
type MarathonLister interface {
	List(ctx context.Context) ([]MarathonApp, error)
}

// MarathonWatcher is a MarathonLister that also reports changes as they
// happen (MarathonSource: the event stream).
type MarathonWatcher interface {
	MarathonLister
	Watch(ctx context.Context, kick func(), onErr func(error)) error
}

// KubernetesLister lists Services with their ready endpoints
// (KubernetesSource).
type KubernetesLister interface {
	Services() ([]Service, error)
}

// Status is what the sync did so far.
type Status struct {
	// Syncs counts the syncs that completed (pushed, or found nginx in step).
	Syncs int `json:"syncs"`
	// Pushes counts the syncs that pushed a change.
	Pushes int `json:"pushes"`
	// Routes is how many routes the sync keeps after the last sync.
	Routes int `json:"routes"`
	// Version is nginx's state version seen by the last sync.
	Version int64 `json:"version"`
	// LastError is the last sync's error ("" when it completed), or the
	// error of a source whose last good snapshot is in use.
	LastError string `json:"lastError,omitempty"`
	// At is when the last sync ended.
	At time.Time `json:"at"`
}

// Syncer keeps nginx's routes equal to Desired: it syncs at start, after
// every change a source reports (debounced) and every Resync period.
type Syncer struct {
	// Pusher writes nginx's routing state.
	Pusher Pusher
	// Group is the marathon-lb group served (default DefaultGroup).
	Group string
	// Apps are the app.yaml specs whose routes are kept.
	Apps []*appspec.Spec
	// Marathon and Kubernetes are the sources (nil: that platform is not
	// followed).
	Marathon   MarathonLister
	Kubernetes KubernetesLister
	// Resync is the period of a full re-read (default 5 s); Debounce how long
	// a reported change waits for more (default 100 ms).
	Resync, Debounce time.Duration
	// Logf receives one line per change and per new problem (nil: dropped).
	Logf func(format string, args ...any)
	// OnSync is called after each sync with the status (may be nil).
	OnSync func(Status)

	once     sync.Once
	kick     chan struct{}
	syncMu   sync.Mutex // one sync at a time; guards the snapshots and reported
	mu       sync.Mutex
	status   Status
	marathon []MarathonApp
	haveM    bool
	services []Service
	haveK    bool
	reported map[string]string // last message logged per topic
}

func (s *Syncer) setup() {
	s.once.Do(func() {
		s.kick = make(chan struct{}, 1)
		s.reported = map[string]string{}
	})
}

// Kick asks for a sync soon (a source saw a change).
func (s *Syncer) Kick() {
	s.setup()
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Status returns what the sync did so far.
func (s *Syncer) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

// errInStep stops an Update whose state needs no change.
var errInStep = errors.New("routes in step")

// Sync reads the sources, derives the desired routes and pushes the
// difference (nothing when nginx is in step). A source that fails keeps its
// last good snapshot; before a source ever answered, nothing is pushed.
func (s *Syncer) Sync(ctx context.Context) (Status, error) {
	s.setup()
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	err := s.sync(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status.At = time.Now()
	if err != nil {
		s.status.LastError = err.Error()
	}
	st := s.status
	if s.OnSync != nil {
		s.OnSync(st)
	}
	return st, err
}

func (s *Syncer) sync(ctx context.Context) error {
	var stale []string
	if s.Marathon != nil {
		apps, err := s.Marathon.List(ctx)
		switch {
		case err == nil:
			s.marathon, s.haveM = apps, true
			s.report("marathon", "")
		case !s.haveM:
			return fmt.Errorf("no route pushed until Marathon answers: %w", err)
		default:
			stale = append(stale, "Marathon: "+err.Error())
			s.report("marathon", fmt.Sprintf("Marathon unreachable, its apps' routes keep their last known backends: %v", err))
		}
	}
	if s.Kubernetes != nil {
		svcs, err := s.Kubernetes.Services()
		switch {
		case err == nil:
			s.services, s.haveK = svcs, true
		case !s.haveK:
			return fmt.Errorf("no route pushed until Kubernetes answers: %w", err)
		default:
			stale = append(stale, "Kubernetes: "+err.Error())
		}
	}
	desired, problems := Desired(Inputs{Group: s.Group, Apps: s.Apps, Marathon: s.marathon, Services: s.services})
	var msgs []string
	for _, p := range problems {
		msgs = append(msgs, p.Error())
	}
	s.report("problems", strings.Join(msgs, "\n"))

	var res Result
	pushed := true
	st, err := s.Pusher.Update(ctx, func(cur traffic.State) (traffic.State, error) {
		res = Reconcile(cur, desired)
		if len(res.Changes) == 0 {
			return cur, errInStep
		}
		return res.State, nil
	})
	if errors.Is(err, errInStep) {
		pushed, err = false, nil
		st = res.State
	}
	if err != nil {
		return fmt.Errorf("push routes to nginx: %w", err)
	}
	for _, c := range res.Changes {
		s.logf("%s (version %d)", c, st.Version)
	}
	sort.Strings(res.Held)
	s.report("held", strings.Join(res.Held, ", "))
	owned := 0
	for _, r := range st.Routes {
		if r.Owner == Owner {
			owned++
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status.Syncs++
	if pushed {
		s.status.Pushes++
	}
	s.status.Routes, s.status.Version = owned, st.Version
	s.status.LastError = strings.Join(stale, "; ")
	return nil
}

// report logs msg for topic when it differs from the last one logged.
func (s *Syncer) report(topic, msg string) {
	if s.reported[topic] == msg {
		return
	}
	s.reported[topic] = msg
	switch {
	case msg == "":
		s.logf("%s: resolved", topic)
	case topic == "problems":
		for _, l := range strings.Split(msg, "\n") {
			s.logf("route left out: %s", l)
		}
	case topic == "held":
		s.logf("routes held by another owner, left alone: %s", msg)
	default:
		s.logf("%s", msg)
	}
}

// logChanged returns an error logger that logs an error only when its message
// differs from the previous one (a source that stays down logs once).
func (s *Syncer) logChanged(format string) func(error) {
	var mu sync.Mutex
	last := ""
	return func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if err.Error() == last {
			return
		}
		last = err.Error()
		s.logf(format, err)
	}
}

func (s *Syncer) logf(format string, args ...any) {
	if s.Logf != nil {
		s.Logf(format, args...)
	}
}

// Run syncs until ctx ends: at once, after every reported change and every
// Resync period. A Marathon source that can watch is watched (re-subscribed
// on the next period when that fails). Errors are logged and retried.
func (s *Syncer) Run(ctx context.Context) error {
	s.setup()
	resync, debounce := s.Resync, s.Debounce
	if resync <= 0 {
		resync = 5 * time.Second
	}
	if debounce <= 0 {
		debounce = 100 * time.Millisecond
	}
	w, watch := s.Marathon.(MarathonWatcher)
	watching := false
	streamErr := s.logChanged("Marathon event stream: %v (reconnecting; resyncing every " + resync.String() + " meanwhile)")
	t := time.NewTicker(resync)
	defer t.Stop()
	lastErr := ""
	for {
		if watch && !watching {
			err := w.Watch(ctx, s.Kick, streamErr)
			if err == nil {
				watching = true
			} else if ctx.Err() == nil {
				streamErr(err)
			}
		}
		_, err := s.Sync(ctx)
		if ctx.Err() != nil {
			return nil
		}
		switch {
		case err != nil && err.Error() != lastErr:
			s.logf("sync failed: %v", err)
			lastErr = err.Error()
		case err == nil && lastErr != "":
			s.logf("sync recovered")
			lastErr = ""
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-s.kick:
			select { // let a burst of events settle
			case <-ctx.Done():
				return nil
			case <-time.After(debounce):
			}
			select {
			case <-s.kick:
			default:
			}
		}
	}
}
