package serve

import (
	"bytes"
	"context"
	"sync"
	"time"
)

// snapshot is one server-sent event: its name and JSON data.
type snapshot struct {
	event string
	data  []byte
}

// statusHub reads the status once per period for every event stream at
// once (one journal read and one leader lookup, however many dashboards
// watch) while at least one stream is open, and hands each stream the
// latest snapshot that differs from the one before. A slow stream skips to
// the newest snapshot; it never holds the others up.
type statusHub struct {
	poll   func(context.Context) snapshot
	period time.Duration

	mu   sync.Mutex
	subs map[chan snapshot]struct{}
	last *snapshot
	stop context.CancelFunc // the poller's, while it runs
}

// subscribe returns a channel that receives the latest snapshot (at once
// when there is one) and each change after it, and the function that ends
// the subscription. The first subscriber starts the poller, the last one
// to leave stops it.
func (h *statusHub) subscribe() (<-chan snapshot, func()) {
	ch := make(chan snapshot, 1)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.subs == nil {
		h.subs = map[chan snapshot]struct{}{}
	}
	h.subs[ch] = struct{}{}
	if h.last != nil {
		ch <- *h.last
	}
	if h.stop == nil {
		ctx, cancel := context.WithCancel(context.Background())
		h.stop = cancel
		go h.run(ctx)
	}
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(h.subs, ch)
		if len(h.subs) == 0 && h.stop != nil {
			h.stop()
			h.stop, h.last = nil, nil
		}
	}
}

// run polls until ctx ends, publishing each change.
func (h *statusHub) run(ctx context.Context) {
	t := time.NewTicker(h.period)
	defer t.Stop()
	for {
		s := h.poll(ctx)
		h.mu.Lock()
		if ctx.Err() != nil { // stopped while polling: a new poller may run
			h.mu.Unlock()
			return
		}
		if h.last == nil || h.last.event != s.event || !bytes.Equal(h.last.data, s.data) {
			h.last = &s
			for ch := range h.subs {
				select { // drop what the stream has not taken yet
				case <-ch:
				default:
				}
				ch <- s
			}
		}
		h.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
