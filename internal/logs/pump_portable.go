//go:build !linux || tend_portable

package logs

import (
	"errors"
	"os"
	"time"
)

// Start runs the pump in a goroutine of its own that waits for the pipe in
// the netpoller; end is called once the stream has ended (or Stop closed
// it). Stop ends the pump: it writes the partial line it holds and closes
// Src.
func (p *Pump) Start(end func(error)) (stop func()) {
	go func() { end(p.Run()) }()
	return func() { p.Src.Close() }
}

// Run copies until the stream ends (every writer has closed it) and closes Src.
func (p *Pump) Run() error {
	defer p.Src.Close()
	wait := p.partialFlush()
	p.atStart = true
	rc, err := p.Src.SyscallConn()
	if err != nil {
		return err
	}
	deadline := false
	for {
		if len(p.pending) > 0 {
			p.Src.SetReadDeadline(time.Now().Add(wait))
			deadline = true
		} else if deadline {
			p.Src.SetReadDeadline(time.Time{})
			deadline = false
		}
		bp, n, limit, rerr, eof, err := p.readOnce(rc)
		if err != nil && bp == nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				p.flushPending() // quiet: write the partial line as it is
				continue
			}
			p.flushPending()
			return err
		}
		p.take((*bp)[:n], limit, eof || rerr != nil)
		bufPool.Put(bp)
		if eof {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}
