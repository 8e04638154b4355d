//go:build linux && !tend_portable

package logs

import (
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tend-dev/tend/internal/poller"
)

// maxReadsPerWake bounds what one wake-up of a busy pump reads (with 64 KiB
// buffers, 4 MiB) before it lets the other pipes' turns come.
const maxReadsPerWake = 64

// polled is a pump's state while it waits on the shared poller.
type polled struct {
	mu      sync.Mutex
	p       *Pump
	w       *poller.Watch
	fd      int
	ended   bool
	end     func(error)
	quiet   *time.Timer // writes the partial line once the stream is quiet
	quietAt time.Time
}

// Start copies the stream without a goroutine of its own: Src waits on
// the daemon's one poller (internal/poller), and the copy runs in a
// goroutine that lives only while the pipe has something to read. end is
// called once the stream has ended (every writer closed it) or Stop ended
// it. Stop writes the partial line the pump holds and closes Src; what is
// still in the pipe stays there.
func (p *Pump) Start(end func(error)) (stop func()) {
	p.atStart = true
	s := &polled{p: p, end: end, fd: -1}
	if rc, err := p.Src.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) {
			if unix.SetNonblock(int(fd), true) == nil { // drain never blocks
				s.fd = int(fd)
			}
		})
	}
	pl, err := poller.Default()
	if err == nil && s.fd >= 0 {
		s.mu.Lock() // the first wake-up waits for s.w
		s.w, err = pl.Add(s.fd, s.ready)
		s.mu.Unlock()
	}
	if s.w == nil { // no epoll: a goroutine waits in the netpoller
		go s.wait()
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

// wait is the pump without a poller: a goroutine waits in the netpoller.
func (s *polled) wait() {
	rc, err := s.p.Src.SyscallConn()
	for err == nil {
		err = rc.Read(func(fd uintptr) bool {
			n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 0)
			return err != nil || n > 0
		})
		s.mu.Lock()
		if err == nil {
			s.readyLocked()
		} else if !s.ended {
			s.finish(err)
		}
		ended := s.ended
		s.mu.Unlock()
		if ended {
			return
		}
	}
}

// ready runs when the pipe is readable.
func (s *polled) ready(*poller.Watch) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readyLocked()
}

func (s *polled) readyLocked() {
	if s.ended || s.drain() {
		return
	}
	if len(s.p.pending) > 0 {
		s.quietAt = time.Now().Add(s.p.partialFlush())
		if s.quiet == nil {
			s.quiet = time.AfterFunc(s.p.partialFlush(), s.onQuiet)
		} else {
			s.quiet.Reset(s.p.partialFlush())
		}
	}
	if s.w != nil {
		if err := s.w.Arm(); err != nil {
			s.finish(err)
		}
	}
}

// drain reads what the pipe holds now; true once the stream has ended (and
// the pump with it).
func (s *polled) drain() bool {
	p := s.p
	bp, buf, k := p.getBuf()
	defer bufPool.Put(bp)
	for range maxReadsPerWake {
		m, err := unix.Read(s.fd, buf[k:])
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN {
			return false
		}
		end := m <= 0
		p.take(buf[:k+max(m, 0)], len(buf), end)
		if end {
			s.finish(err)
			return true
		}
		k = copy(buf, p.pending)
	}
	return false
}

// onQuiet writes the partial line once the stream stayed quiet for
// PartialFlush since it arrived.
func (s *polled) onQuiet() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended || len(s.p.pending) == 0 {
		return
	}
	if d := time.Until(s.quietAt); d > 0 {
		s.quiet.Reset(d)
		return
	}
	s.p.flushPending()
}

func (s *polled) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended {
		s.finish(nil)
	}
}

// finish ends the pump: no more wake-ups, the partial line written, Src
// closed (after the poller forgot it: its number may be reused at once).
func (s *polled) finish(err error) {
	s.ended = true
	if s.w != nil {
		s.w.Remove()
	}
	if s.quiet != nil {
		s.quiet.Stop()
	}
	s.p.flushPending()
	s.p.Src.Close()
	s.end(err)
}
