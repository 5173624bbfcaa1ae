package marathon

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/switchyard/switchyard/marathon"
)

// busEvent is one event ready to send: its type and JSON body.
type busEvent struct {
	Type string
	Data []byte
}

// eventBus fans events out to the /v2/events subscribers. A subscriber that
// cannot keep up (its buffer is full) is disconnected rather than slowing the
// scheduler down, as Marathon drops slow SSE consumers.
type eventBus struct {
	mu   sync.Mutex
	subs map[chan busEvent]struct{}
}

func newEventBus() *eventBus { return &eventBus{subs: map[chan busEvent]struct{}{}} }

// subscribe returns a channel of events; call the returned function to leave.
func (b *eventBus) subscribe() (<-chan busEvent, func()) {
	ch := make(chan busEvent, 1024)
	b.mu.Lock()
	b.subs[ch] = struct{}{}
	b.mu.Unlock()
	return ch, func() {
		b.mu.Lock()
		if _, ok := b.subs[ch]; ok {
			delete(b.subs, ch)
			close(ch)
		}
		b.mu.Unlock()
	}
}

// publish sends an event to every subscriber.
func (b *eventBus) publish(typ string, payload any) {
	data, err := json.Marshal(payload)
	if err != nil {
		return
	}
	ev := busEvent{Type: typ, Data: data}
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs {
		select {
		case ch <- ev:
		default:
			delete(b.subs, ch)
			close(ch)
		}
	}
}

// closeAll disconnects every subscriber.
func (b *eventBus) closeAll() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs {
		delete(b.subs, ch)
		close(ch)
	}
}

// meta is the common part of every event.
func meta(typ string) marathon.EventMeta {
	return marathon.EventMeta{EventType: typ, Timestamp: formatTime(time.Now())}
}
