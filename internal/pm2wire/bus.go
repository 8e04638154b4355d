package pm2wire

import (
	"encoding/json"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tend-dev/tend/internal/api"
)

// The bus: PM2's daemon publishes [topic, data] frames on pub.sock; PM2's
// sub-emitter (pm2.launchBus) matches the topic against what it listens to
// (log:*, process:event, process:msg, pm2:kill, axm:reply, …).

// pubQueue bounds the frames waiting for one slow subscriber; beyond it
// frames are dropped for that subscriber (an app is never slowed down).
const pubQueue = 4096

type pubConn struct {
	c    net.Conn
	out  chan []byte
	once sync.Once
	done chan struct{}
}

func (p *pubConn) send(frame []byte) {
	select {
	case p.out <- frame:
	default: // too slow: dropped
	}
}

func (p *pubConn) close() { p.once.Do(func() { close(p.done); p.c.Close() }) }

// Emit publishes one event to every bus subscriber.
func (s *Server) Emit(topic string, data any) {
	frame, err := Encode(topic, data)
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for p := range s.pubs {
		p.send(frame)
	}
}

// acceptPub accepts bus subscribers. Every accept, here or in syncPub,
// happens under pubMu and subscribes the connection to the daemon's events
// before the lock is released, so a call that syncs first is sure that every
// bus connected before it hears its events. (A listener's RawConn has no
// Read: the listener is polled with the wake pipe beside it, with no
// timeout, so an idle daemon never wakes and Close is noticed at once.)
func (s *Server) acceptPub() {
	wake := int32(s.wakeR.Fd())
	defer s.wakeR.Close()
	for {
		select {
		case <-s.closed:
			return
		default:
		}
		ready, woken := false, false
		err := s.pubRaw.Control(func(fd uintptr) {
			fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: wake, Events: unix.POLLIN}}
			if n, err := unix.Poll(fds, -1); err == nil && n > 0 {
				ready = fds[0].Revents != 0
				woken = fds[1].Revents != 0
			}
		})
		if err != nil || woken {
			return
		}
		if ready {
			s.syncPub()
		}
	}
}

// syncPub takes in the bus connections that wait in the listener's queue.
func (s *Server) syncPub() {
	if raw := s.pubRaw; raw != nil {
		raw.Control(func(fd uintptr) { s.acceptPending(int(fd)) })
	}
}

func (s *Server) acceptPending(fd int) {
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	for {
		syscall.ForkLock.RLock() // no exec between accept and close-on-exec
		nfd, _, err := unix.Accept(fd)
		if err == nil {
			unix.CloseOnExec(nfd)
		}
		syscall.ForkLock.RUnlock()
		if err != nil {
			if err != unix.EAGAIN && err != unix.EINTR && err != unix.ECONNABORTED {
				s.opts.Logf("PM2 pub.sock: accept: %v", err)
				time.Sleep(50 * time.Millisecond) // out of fds: no busy loop
			}
			if err == unix.EINTR || err == unix.ECONNABORTED {
				continue
			}
			return
		}
		f := os.NewFile(uintptr(nfd), "pub")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			continue
		}
		if _, ok := s.admit(c); !ok {
			continue
		}
		events, cancel := s.b.Subscribe(true)
		p := &pubConn{c: c, out: make(chan []byte, pubQueue), done: make(chan struct{})}
		s.mu.Lock()
		s.pubs[p] = struct{}{}
		s.mu.Unlock()
		go func() {
			defer s.drop(c)
			defer cancel()
			s.servePub(p, events)
		}()
	}
}

func (s *Server) servePub(p *pubConn, events <-chan api.Event) {
	c := p.c
	defer func() {
		s.mu.Lock()
		delete(s.pubs, p)
		s.mu.Unlock()
		p.close()
	}()
	// A subscriber never writes; a read ends when it goes away.
	go func() {
		buf := make([]byte, 512)
		for {
			if _, err := c.Read(buf); err != nil {
				p.close()
				return
			}
		}
	}()
	go func() {
		for {
			select {
			case <-p.done:
				return
			case f := <-p.out:
				c.SetWriteDeadline(time.Now().Add(30 * time.Second))
				if _, err := c.Write(f); err != nil {
					p.close()
					return
				}
			}
		}
	}()
	for {
		select {
		case <-p.done:
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			topic, data := s.translate(ev)
			if topic == "" {
				continue
			}
			if f, err := Encode(topic, data); err == nil {
				p.send(f)
			}
		}
	}
}

// listTTL is how long the bus reuses the process list it reads names,
// namespaces and pm2_env from: every subscriber shares it, so a burst of
// events costs one walk of the processes, not one per event and subscriber.
const listTTL = 250 * time.Millisecond

func (s *Server) busProcs() map[int]api.Process {
	s.listMu.Lock()
	defer s.listMu.Unlock()
	if s.listMap == nil || time.Since(s.listAt) > listTTL {
		m := map[int]api.Process{}
		for _, p := range s.b.List() {
			m[p.PMID] = p
		}
		s.listMap, s.listAt = m, time.Now()
	}
	return s.listMap
}

// procInfo is the short process object of PM2's log and message events.
func procInfo(ev api.Event, procs map[int]api.Process) map[string]any {
	ns := "default"
	if p, ok := procs[ev.PMID]; ok && p.PM2Env.Namespace != "" {
		ns = p.PM2Env.Namespace
	}
	return map[string]any{"pm_id": ev.PMID, "name": ev.Name, "rev": nil, "namespace": ns}
}

// pm2Event names PM2's process:event for a tend status change ("" for none:
// PM2's client itself announces stop, restart, delete and reload).
func pm2Event(status string) string {
	switch status {
	case api.StatusLaunching:
		return "start"
	case api.StatusOnline:
		return "online"
	case api.StatusStopped, api.StatusErrored, api.StatusWaitingRestart:
		return "exit"
	}
	return ""
}

func (s *Server) translate(ev api.Event) (string, any) {
	load := s.busProcs
	switch ev.Type {
	case api.EventLog:
		topic := "log:out"
		if ev.Stream == "err" {
			topic = "log:err"
		}
		return topic, map[string]any{"process": procInfo(ev, load()), "at": ev.Time, "data": ev.Data + "\n"}
	case api.EventProcess:
		name := pm2Event(ev.Status)
		if name == "" {
			return "", nil
		}
		var proc map[string]any
		if p, ok := load()[ev.PMID]; ok {
			proc = envWithoutEnv(p)
			proc["status"] = ev.Status // as of this event
		} else {
			proc = map[string]any{"name": ev.Name, "pm_id": ev.PMID, "status": ev.Status}
		}
		return "process:event", map[string]any{"event": name, "manually": false, "process": proc, "at": ev.Time}
	case api.EventMessage:
		var msg any
		if json.Unmarshal([]byte(ev.Data), &msg) != nil {
			msg = ev.Data // a NOTIFY_SOCKET message
		}
		proc := procInfo(ev, load())
		delete(proc, "rev")
		if m, ok := msg.(map[string]any); ok {
			t, _ := m["type"].(string)
			if d, has := m["data"]; has && d != nil && t != "" {
				if strings.HasPrefix(t, "axm:") && t != "axm:reply" {
					return "", nil // PM2's daemon keeps these to itself
				}
				proc["versioning"] = nil
				return t, map[string]any{"at": ev.Time, "data": d, "process": proc}
			}
			if _, ok := m["node_version"]; ok {
				return "", nil
			}
		}
		return "process:msg", map[string]any{"at": ev.Time, "raw": msg, "process": proc}
	}
	return "", nil
}
