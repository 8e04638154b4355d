package daemon

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/tend-dev/tend/internal/api"
)

// Limits of what the daemon holds for one follower of /v1/events that reads
// more slowly than the apps write. Beyond them events are dropped and the
// follower is told how many (api.EventMissed), so a slow reader never slows
// an app and never makes the daemon grow.
const (
	followerMaxEvents = 16384
	followerMaxBytes  = 4 << 20
)

// eventQueue is a bounded FIFO between the goroutine that drains a bus
// subscription (never blocked by the network) and the one that writes to the
// follower's connection.
type eventQueue struct {
	mu      sync.Mutex
	buf     []api.Event
	head    int
	n       int
	bytes   int
	missed  int64
	maxN    int
	maxB    int
	wake    chan struct{}
	dropped int64 // total, for tests
}

func newEventQueue(maxN, maxB int) *eventQueue {
	return &eventQueue{buf: make([]api.Event, 64), maxN: maxN, maxB: maxB, wake: make(chan struct{}, 1)}
}

func eventSize(ev api.Event) int { return len(ev.Data) + len(ev.Name) + len(ev.Reason) + 96 }

// push adds ev, or counts it as missed when the queue is full.
func (q *eventQueue) push(ev api.Event) {
	q.mu.Lock()
	q.missed += ev.Missed // dropped by the bus before ev
	sz := eventSize(ev)
	if q.n >= q.maxN || (q.n > 0 && q.bytes+sz > q.maxB) {
		q.missed++
		q.dropped++
		q.mu.Unlock()
		return
	}
	// ev carries the count of everything dropped since the last event kept.
	ev.Missed, q.missed = q.missed, 0
	if q.n == len(q.buf) {
		nb := make([]api.Event, min(2*len(q.buf), q.maxN))
		for i := 0; i < q.n; i++ {
			nb[i] = q.buf[(q.head+i)%len(q.buf)]
		}
		q.buf, q.head = nb, 0
	}
	q.buf[(q.head+q.n)%len(q.buf)] = ev
	q.n++
	q.bytes += sz
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// addMissed counts events dropped before they reached the queue.
func (q *eventQueue) addMissed(n int64) {
	if n == 0 {
		return
	}
	q.mu.Lock()
	q.missed += n
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// pop returns the oldest event (its Missed counts the events dropped just
// before it). When the queue is empty but events were dropped after the last
// one, it returns an EventMissed event. ok is false when there is nothing to
// send.
func (q *eventQueue) pop() (ev api.Event, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n == 0 {
		if q.missed > 0 {
			ev = api.Event{Type: api.EventMissed, Missed: q.missed}
			q.missed = 0
			return ev, true
		}
		return ev, false
	}
	ev = q.buf[q.head]
	q.buf[q.head] = api.Event{}
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	q.bytes -= eventSize(ev)
	if q.n == 0 && len(q.buf) > 1024 {
		q.buf, q.head = make([]api.Event, 64), 0 // give memory back after a burst
	}
	return ev, true
}

// parseIDs reads a comma-separated list of pm_ids; nil means all.
func parseIDs(s string) map[int]bool {
	if s == "" {
		return nil
	}
	out := map[int]bool{}
	for _, f := range strings.Split(s, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil {
			out[n] = true
		}
	}
	return out
}

// events streams newline-delimited JSON events until the client goes away.
// ?logs=1 includes log lines; ?ids=1,2 keeps only the log lines of those
// pm_ids (process events of every app are always sent).
func (d *Daemon) events(w http.ResponseWriter, r *http.Request) {
	query := r.URL.Query()
	ids := parseIDs(query.Get("ids"))
	sub := d.sup.Bus.Subscribe(4096, query.Get("logs") == "1")
	defer sub.Close()
	q := newEventQueue(followerMaxEvents, followerMaxBytes)
	stop := make(chan struct{})
	moved := make(chan struct{}) // the mover below has returned
	var stopOnce sync.Once
	halt := func() { stopOnce.Do(func() { close(stop) }); <-moved }
	defer halt()
	take := func(ev api.Event) {
		if ev.Type == api.EventLog && ids != nil && !ids[ev.PMID] {
			q.addMissed(ev.Missed)
			return
		}
		q.push(ev)
	}
	go func() {
		defer close(moved)
		for {
			select {
			case <-stop:
				return
			case ev := <-sub.C:
				take(ev)
			}
		}
	}()

	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	fl, _ := w.(http.Flusher)
	if fl != nil {
		fl.Flush()
	}
	enc := json.NewEncoder(w)
	for {
		ev, ok := q.pop()
		if ok {
			if err := enc.Encode(ev); err != nil {
				return
			}
			continue
		}
		if fl != nil {
			fl.Flush()
		}
		select {
		case <-r.Context().Done():
			return
		case <-d.quit:
			// The daemon ends: send what was published before it did (the
			// last stops), then end the stream.
			halt()
			for drained := false; !drained; {
				select {
				case ev := <-sub.C:
					take(ev)
				default:
					drained = true
				}
			}
			for ev, ok := q.pop(); ok; ev, ok = q.pop() {
				if enc.Encode(ev) != nil {
					return
				}
			}
			return
		case <-q.wake:
		}
	}
}

// brief drops what a dashboard does not need from a process list (the
// environment and the raw options), which is most of its size.
func brief(ps []api.Process) {
	for i := range ps {
		ps[i].PM2Env.Env = nil
		ps[i].PM2Env.Options = nil
		ps[i].PM2Env.Cache = nil // keep the full list's cache for the full list
	}
}
