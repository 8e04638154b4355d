//go:build linux

package poller

import (
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sys/unix"
)

// Poller is one epoll instance and the goroutine that waits on it.
type Poller struct {
	epfd int

	mu      sync.Mutex
	next    uint64
	watches map[uint64]*Watch
}

// Watch is one descriptor on a Poller. It is one-shot: after its function
// has been started, it reports nothing until Arm.
type Watch struct {
	p  *Poller
	id uint64
	fd int
	fn func(*Watch)

	mu      sync.Mutex
	removed bool
}

// ErrRemoved is returned by Arm after Remove.
var ErrRemoved = errors.New("poller: the watch was removed")

var (
	defOnce sync.Once
	def     *Poller
	defErr  error
)

// Default returns the process's shared Poller, started on first use.
func Default() (*Poller, error) {
	defOnce.Do(func() { def, defErr = New() })
	return def, defErr
}

// New starts a Poller. It lives as long as the process.
func New() (*Poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	p := &Poller{epfd: epfd, watches: map[uint64]*Watch{}}
	go p.loop()
	return p, nil
}

const events = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT

// Add watches fd (which the caller keeps open until it has called Remove):
// once fd is readable, at its end or in error, fn runs in a new goroutine
// with the watch, which then waits for fn (or who comes after it) to Arm it
// again or Remove it. fn may run once more after Remove has
// returned if the descriptor became ready just before: it must cope with a
// closed descriptor.
func (p *Poller) Add(fd int, fn func(*Watch)) (*Watch, error) {
	p.mu.Lock()
	p.next++
	w := &Watch{p: p, id: p.next, fd: fd, fn: fn}
	p.watches[w.id] = w
	p.mu.Unlock()
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, w.event()); err != nil {
		p.forget(w)
		return nil, fmt.Errorf("epoll_ctl add: %w", err)
	}
	return w, nil
}

func (w *Watch) event() *unix.EpollEvent {
	return &unix.EpollEvent{Events: events, Fd: int32(uint32(w.id)), Pad: int32(uint32(w.id >> 32))}
}

// Arm asks for fn again once the descriptor is ready (at once if it still
// is).
func (w *Watch) Arm() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.removed {
		return ErrRemoved
	}
	if err := unix.EpollCtl(w.p.epfd, unix.EPOLL_CTL_MOD, w.fd, w.event()); err != nil {
		return fmt.Errorf("epoll_ctl mod: %w", err)
	}
	return nil
}

// Remove stops watching; call it before closing the descriptor. It is safe
// to call more than once.
func (w *Watch) Remove() {
	w.mu.Lock()
	if !w.removed {
		w.removed = true
		unix.EpollCtl(w.p.epfd, unix.EPOLL_CTL_DEL, w.fd, nil)
	}
	w.mu.Unlock()
	w.p.forget(w)
}

func (p *Poller) forget(w *Watch) {
	p.mu.Lock()
	delete(p.watches, w.id)
	p.mu.Unlock()
}

// Len is the number of descriptors watched.
func (p *Poller) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.watches)
}

func (p *Poller) loop() {
	evs := make([]unix.EpollEvent, 256)
	for {
		n, err := unix.EpollWait(p.epfd, evs, -1)
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			panic(fmt.Sprintf("poller: epoll_wait: %v", err))
		}
		p.mu.Lock()
		for _, ev := range evs[:n] {
			id := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			if w := p.watches[id]; w != nil {
				go w.fn(w)
			}
		}
		p.mu.Unlock()
	}
}
