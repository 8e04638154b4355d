//go:build linux && !tend_portable

package logs

import (
	"errors"
	"os"
	"sync"
	"time"

	"github.com/tend-dev/tend/internal/poller"
)

// linger is how long a pump that has read keeps its goroutine, waiting in
// Go's netpoller for more, before it hands its pipe back to the poller: a
// busy stream costs one wake-up per burst, not one per read.
const linger = 100 * time.Millisecond

// polled is a pump's state while it waits on the shared poller.
type polled struct {
	mu       sync.Mutex
	p        *Pump
	w        *poller.Watch // nil: no poller, the goroutine never ends
	busy     bool          // a goroutine is reading (read runs)
	stopping bool          // Stop waits for that goroutine to end the pump
	ended    bool
	stopped  chan struct{} // closed by finish
	end      func(error)
}

// Start copies the stream without a goroutine of its own while it is
// quiet: Src waits on the daemon's one poller (internal/poller), and when
// it has something, a goroutine reads it and stays while the stream is
// busy (linger), then hands it back. end is called once the stream has
// ended (every writer closed it) or Stop ended it. Stop writes the partial
// line the pump holds and closes Src; what is still in the pipe stays
// there.
func (p *Pump) Start(end func(error)) (stop func()) {
	p.atStart = true
	s := &polled{p: p, end: end, stopped: make(chan struct{})}
	fd := -1
	if rc, err := p.Src.SyscallConn(); err == nil {
		rc.Control(func(u uintptr) { fd = int(u) })
	}
	pl, err := poller.Default()
	if err == nil && fd >= 0 {
		// the first wake-up waits for s.w; on an error s.w stays nil and a
		// goroutine reads
		s.mu.Lock()
		s.w, _ = pl.Add(fd, func(*poller.Watch) { s.read() })
		s.mu.Unlock()
	}
	if s.w == nil { // no epoll: a goroutine reads for the stream's life
		go s.read()
	}
	return s.stop
}

// Run copies until the stream ends (every writer has closed it) and closes
// Src.
func (p *Pump) Run() error {
	done := make(chan error, 1)
	p.Start(func(err error) { done <- err })
	return <-done
}

// read copies what arrives until the stream has been quiet for linger (a
// partial line that waited PartialFlush is written then), and arms the
// poller again.
func (s *polled) read() {
	s.mu.Lock()
	if s.ended || s.busy {
		s.mu.Unlock()
		return
	}
	s.busy = true
	s.mu.Unlock()
	p := s.p
	rc, err := p.Src.SyscallConn()
	if err != nil {
		s.mu.Lock()
		s.finish(err)
		s.mu.Unlock()
		return
	}
	wait := p.partialFlush()
	var lingerSet time.Time
	for {
		bp, n, limit, rerr, eof, err := p.readOnce(rc)
		s.mu.Lock()
		if err == nil {
			p.take((*bp)[:n], limit, eof || rerr != nil)
			bufPool.Put(bp)
			switch {
			case eof || rerr != nil:
				s.finish(rerr)
			case s.stopping:
				s.finish(nil)
			case len(p.pending) > 0:
				p.Src.SetReadDeadline(time.Now().Add(wait))
				lingerSet = time.Time{}
			case s.w != nil:
				if now := time.Now(); now.Sub(lingerSet) > linger/4 {
					p.Src.SetReadDeadline(now.Add(linger))
					lingerSet = now
				}
			default:
				p.Src.SetReadDeadline(time.Time{})
			}
			ended := s.ended
			s.mu.Unlock()
			if ended {
				return
			}
			continue
		}
		if s.stopping || !errors.Is(err, os.ErrDeadlineExceeded) {
			s.finish(nil) // stopped, or Src closed
			s.mu.Unlock()
			return
		}
		// Quiet: write the partial line as it is; back to the poller.
		p.flushPending()
		p.Src.SetReadDeadline(time.Time{})
		lingerSet = time.Time{}
		if s.w == nil {
			s.mu.Unlock()
			continue
		}
		s.busy = false
		if err := s.w.Arm(); err != nil {
			s.finish(err)
		}
		s.mu.Unlock()
		return
	}
}

// stop ends the pump; a goroutine reading is woken (a deadline in the past)
// and ends it after writing what it has read.
func (s *polled) stop() {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	if !s.busy {
		s.finish(nil)
		s.mu.Unlock()
		return
	}
	s.stopping = true
	s.p.Src.SetReadDeadline(time.Unix(1, 0))
	s.mu.Unlock()
	<-s.stopped
}

// finish ends the pump: no more wake-ups, the partial line written, Src
// closed (after the poller forgot it: its number may be reused at once).
func (s *polled) finish(err error) {
	s.ended = true
	if s.w != nil {
		s.w.Remove()
	}
	s.p.flushPending()
	s.p.Src.Close()
	close(s.stopped)
	s.end(err)
}
