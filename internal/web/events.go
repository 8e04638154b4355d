package web

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tend-dev/tend/internal/api"
)

// Sample is one CPU and memory figure of a process.
type Sample struct {
	Time   int64   `json:"t"` // epoch ms
	CPU    float64 `json:"cpu"`
	Memory int64   `json:"mem"`
}

// history keeps the last max samples of each pm_id in a ring.
type history struct {
	mu   sync.Mutex
	max  int
	ring map[int]*ring
}

type ring struct {
	buf  []Sample
	next int
	full bool
}

func (h *history) add(ps []api.Process, at int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ring == nil {
		h.ring = map[int]*ring{}
	}
	seen := make(map[int]bool, len(ps))
	for _, p := range ps {
		seen[p.PMID] = true
		r := h.ring[p.PMID]
		if r == nil {
			r = &ring{buf: make([]Sample, h.max)}
			h.ring[p.PMID] = r
		}
		r.buf[r.next] = Sample{Time: at, CPU: p.Monit.CPU, Memory: p.Monit.Memory}
		r.next = (r.next + 1) % len(r.buf)
		r.full = r.full || r.next == 0
	}
	for id := range h.ring {
		if !seen[id] { // deleted
			delete(h.ring, id)
		}
	}
}

// all returns every process's samples, oldest first.
func (h *history) all() map[string][]Sample {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string][]Sample, len(h.ring))
	for id, r := range h.ring {
		var s []Sample
		if r.full {
			s = append(s, r.buf[r.next:]...)
		}
		s = append(s, r.buf[:r.next]...)
		out[strconv.Itoa(id)] = s
	}
	return out
}

func (s *Server) history(w http.ResponseWriter, r *http.Request) {
	b, _ := json.Marshal(struct {
		IntervalMS int64               `json:"interval_ms"`
		Samples    map[string][]Sample `json:"samples"`
	}{s.opts.SampleInterval.Milliseconds(), s.hist.all()})
	relay(w, http.StatusOK, b)
}

// watch registers a page that follows events; the first one starts the
// sampler. The returned function unregisters it; the last one stops the
// sampler, so a daemon nobody watches has no timer and no goroutine for
// the dashboard.
func (s *Server) watch() (<-chan []byte, func()) {
	c := make(chan []byte, 1)
	s.wmu.Lock()
	s.watchers[c] = struct{}{}
	if s.stop == nil {
		s.stop = make(chan struct{})
		s.sampling.Add(1)
		go s.sample(s.stop)
	}
	s.wmu.Unlock()
	return c, func() {
		s.wmu.Lock()
		delete(s.watchers, c)
		if len(s.watchers) == 0 && s.stop != nil {
			close(s.stop)
			s.stop = nil
		}
		s.wmu.Unlock()
	}
}

// StatsEvent is the event the sampler sends to every page.
type StatsEvent struct {
	Type      string      `json:"type"` // "stats"
	Time      int64       `json:"time"`
	Processes []StatsProc `json:"processes"`
}

// StatsProc is what the process table shows of one process.
type StatsProc struct {
	PMID     int     `json:"pm_id"`
	PID      int     `json:"pid"`
	Status   string  `json:"status"`
	Health   string  `json:"health,omitempty"`
	CPU      float64 `json:"cpu"`
	Memory   int64   `json:"mem"`
	Restarts int     `json:"restarts"`
	Uptime   int64   `json:"pm_uptime"`
}

// sample takes one figure of every process per interval, keeps it in the
// history and sends it to every watcher, until stop is closed.
func (s *Server) sample(stop chan struct{}) {
	defer s.sampling.Done()
	t := time.NewTicker(s.opts.SampleInterval)
	defer t.Stop()
	for {
		ps, err := s.list(context.Background(), true)
		if err == nil {
			now := time.Now().UnixMilli()
			s.hist.add(ps, now)
			ev := StatsEvent{Type: "stats", Time: now, Processes: make([]StatsProc, len(ps))}
			for i, p := range ps {
				ev.Processes[i] = StatsProc{PMID: p.PMID, PID: p.PID, Status: p.PM2Env.Status, Health: p.PM2Env.Health, CPU: p.Monit.CPU, Memory: p.Monit.Memory, Restarts: p.PM2Env.RestartTime, Uptime: p.PM2Env.PMUptime}
			}
			b, _ := json.Marshal(ev)
			s.wmu.Lock()
			for c := range s.watchers {
				select { // a watcher that has not sent the last one gets the newest
				case <-c:
				default:
				}
				c <- b
			}
			s.wmu.Unlock()
		}
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

// events streams server-sent events: the API's event stream (process
// events of every app, log lines of the pm_ids in ?ids=1,2) and the
// sampler's "stats" events. Each event's data is one JSON object with a
// "type".
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, &api.Error{Code: api.CodeInternal, Message: "streaming unsupported"})
		return
	}
	path := api.Prefix + "/events"
	if ids := r.URL.Query().Get("ids"); ids != "" {
		for _, f := range strings.Split(ids, ",") {
			if _, err := strconv.Atoi(f); err != nil {
				writeError(w, http.StatusBadRequest, api.BadInputf("ids: %q is not a process id", f))
				return
			}
		}
		path += "?logs=1&ids=" + ids
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	out := &sseWriter{w: w, fl: fl}
	out.send([]byte(`{"type":"hello"}`))

	stats, leave := s.watch()
	defer leave()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	apiDone := make(chan struct{})
	go func() {
		defer close(apiDone)
		req, _ := http.NewRequestWithContext(ctx, "GET", path, nil)
		s.opts.API.ServeHTTP(out, req)
	}()
	for {
		select {
		case <-ctx.Done():
			<-apiDone
			return
		case <-apiDone: // the daemon is stopping
			return
		case b := <-stats:
			out.send(b)
		}
	}
}

// sseWriter turns the API's newline-delimited JSON into server-sent events
// on the page's connection; the sampler's events go through it too.
type sseWriter struct {
	mu      sync.Mutex
	w       http.ResponseWriter
	fl      http.Flusher
	partial []byte
	failed  bool
}

func (s *sseWriter) Header() http.Header { return http.Header{} }
func (s *sseWriter) WriteHeader(int)     {}

func (s *sseWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.partial = append(s.partial, p...)
	for {
		i := bytes.IndexByte(s.partial, '\n')
		if i < 0 {
			break
		}
		s.writeEvent(s.partial[:i])
		s.partial = s.partial[i+1:]
	}
	if s.failed {
		return 0, http.ErrHandlerTimeout
	}
	return len(p), nil
}

// Flush is called by the API handler when it has sent what it had.
func (s *sseWriter) Flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fl.Flush()
}

func (s *sseWriter) send(b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writeEvent(b)
	s.fl.Flush()
}

func (s *sseWriter) writeEvent(line []byte) {
	if len(line) == 0 || s.failed {
		return
	}
	// JSON has no raw newline, so one data line holds the event.
	if _, err := s.w.Write(append(append([]byte("data: "), line...), '\n', '\n')); err != nil {
		s.failed = true
	}
}
