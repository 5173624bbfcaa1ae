package traffic

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"
)

// Sampler snapshots a fleet's statistics every Period in the background and
// answers windows of time from the snapshots it keeps: what the migration's
// gates are judged on. It keeps every snapshot of the last Fine, and one per
// Coarse before that, up to Keep: about 116 snapshots with the defaults. A
// snapshot holds every series of every instance, about 200 bytes each (10
// instances with 1,000 routes on 3 platforms: 6 MB). It is safe for
// concurrent use.
type Sampler struct {
	// Fleet is scraped.
	Fleet *Fleet
	// Period is the time between snapshots (default 1 s).
	Period time.Duration
	// Keep is how long snapshots are kept (default 15 min).
	Keep time.Duration
	// Fine is the recent span in which every snapshot is kept (default
	// 1 min); Coarse the spacing of the older ones (default 15 s).
	Fine, Coarse time.Duration
	// OnError receives the errors of the background snapshots (an
	// instance could not be scraped); may be nil.
	OnError func(error)

	mu    sync.Mutex
	snaps []Snapshot // by time
}

func (s *Sampler) period() time.Duration {
	if s.Period > 0 {
		return s.Period
	}
	return time.Second
}

// Run takes a snapshot every Period until ctx ends, then returns ctx's
// error.
func (s *Sampler) Run(ctx context.Context) error {
	t := time.NewTicker(s.period())
	defer t.Stop()
	for {
		sctx, cancel := context.WithTimeout(ctx, max(5*s.period(), 5*time.Second))
		_, err := s.Sample(sctx)
		cancel()
		if err != nil && ctx.Err() == nil && s.OnError != nil {
			s.OnError(err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Sample takes a snapshot now and keeps it (also when some instance could
// not be scraped: Delta then reports it); its error is the snapshot's.
func (s *Sampler) Sample(ctx context.Context) (Snapshot, error) {
	snap, err := s.Fleet.Snapshot(ctx)
	if snap.Time.IsZero() {
		return snap, err
	}
	s.add(snap)
	return snap, err
}

// add inserts a snapshot in time order and drops and thins old ones.
func (s *Sampler) add(snap Snapshot) {
	keep, fine, coarse := s.Keep, s.Fine, s.Coarse
	if keep <= 0 {
		keep = 15 * time.Minute
	}
	if fine <= 0 {
		fine = time.Minute
	}
	if coarse <= 0 {
		coarse = 15 * time.Second
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i := sort.Search(len(s.snaps), func(i int) bool { return s.snaps[i].Time.After(snap.Time) })
	s.snaps = append(s.snaps, Snapshot{})
	copy(s.snaps[i+1:], s.snaps[i:])
	s.snaps[i] = snap
	newest := s.snaps[len(s.snaps)-1].Time
	kept := s.snaps[:0]
	var last time.Time
	for _, sn := range s.snaps {
		age := newest.Sub(sn.Time)
		if age > keep || (age > fine && len(kept) > 0 && sn.Time.Sub(last) < coarse) {
			continue
		}
		kept = append(kept, sn)
		last = sn.Time
	}
	for j := len(kept); j < len(s.snaps); j++ {
		s.snaps[j] = Snapshot{} // let the dropped ones be collected
	}
	s.snaps = kept
}

// Window returns the requests between from and to, summed over the fleet
// and the given routes (see Delta): from the snapshot nearest at or after
// from to the latest at or before to. When to is newer than the latest
// snapshot, it takes a fresh one first. The span may start up to Period
// (Coarse, for a from older than Fine) after from, and is shorter when from
// is older than the oldest snapshot kept; the module's counters lag by up
// to about a second. An instance missing from either snapshot is an error
// wrapping ErrIncomplete.
func (s *Sampler) Window(ctx context.Context, from, to time.Time, routes []string, platform string) (Stat, error) {
	s.mu.Lock()
	fresh := len(s.snaps) == 0 || to.After(s.snaps[len(s.snaps)-1].Time)
	s.mu.Unlock()
	if fresh {
		if snap, _ := s.Sample(ctx); snap.Time.IsZero() {
			return Stat{}, fmt.Errorf("load balancer statistics: %w", ctx.Err())
		}
	}
	s.mu.Lock()
	i := sort.Search(len(s.snaps), func(i int) bool { return !s.snaps[i].Time.Before(from) })
	j := sort.Search(len(s.snaps), func(i int) bool { return s.snaps[i].Time.After(to) }) - 1
	if fresh && j < len(s.snaps)-1 {
		j = len(s.snaps) - 1 // the fresh snapshot, taken a moment after to
	}
	var older, newer Snapshot
	ok := i < len(s.snaps) && j >= 0 && i <= j
	if ok {
		older, newer = s.snaps[i], s.snaps[j]
	}
	s.mu.Unlock()
	if !ok {
		return Stat{}, fmt.Errorf("load balancer statistics: no snapshot between %s and %s (one is taken every %s)", from.Format(time.RFC3339), to.Format(time.RFC3339), s.period())
	}
	return Delta(older, newer, routes, platform)
}
