package supervisor

import (
	"sync"
	"sync/atomic"

	"github.com/tend-dev/tend/internal/api"
)

// Bus fans events out to subscribers. Publishing never blocks: a subscriber
// whose buffer is full loses the event and is told how many it missed with
// its next delivered event.
type Bus struct {
	mu      sync.Mutex
	subs    map[*Sub]struct{}
	logSubs atomic.Int32
}

// Sub is one subscription.
type Sub struct {
	C      chan api.Event
	logs   bool
	missed atomic.Int64
	bus    *Bus
}

// Subscribe returns a subscription with a buffer of size events. With logs
// false it receives process events only.
func (b *Bus) Subscribe(size int, logs bool) *Sub {
	s := &Sub{C: make(chan api.Event, size), logs: logs, bus: b}
	b.mu.Lock()
	if b.subs == nil {
		b.subs = map[*Sub]struct{}{}
	}
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	if logs {
		b.logSubs.Add(1)
	}
	return s
}

// Close ends the subscription.
func (s *Sub) Close() {
	b := s.bus
	b.mu.Lock()
	_, ok := b.subs[s]
	delete(b.subs, s)
	b.mu.Unlock()
	if ok && s.logs {
		b.logSubs.Add(-1)
	}
}

// WantLogs reports whether anyone follows log lines.
func (b *Bus) WantLogs() bool { return b.logSubs.Load() > 0 }

// Publish delivers ev to every interested subscriber without blocking.
func (b *Bus) Publish(ev api.Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		if ev.Type == "log" && !s.logs {
			continue
		}
		e := ev
		if m := s.missed.Load(); m > 0 {
			e.Missed = m
		}
		select {
		case s.C <- e:
			if e.Missed > 0 {
				s.missed.Add(-e.Missed)
			}
		default:
			s.missed.Add(1)
		}
	}
}
