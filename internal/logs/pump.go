package logs

import (
	"bytes"
	"errors"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Pump copies one output stream of an app (its stdout or stderr pipe) into log
// files and to live followers. It writes whole lines only, so lines from
// several streams sharing a file never mix, and it puts the timestamp at the
// start of every line. A partial line is held until its newline arrives, or
// written as it is when the stream stays quiet for PartialFlush or fills the
// buffer; the rest of such a line then gets no second timestamp.
type Pump struct {
	Src   *os.File
	Dst   []*File  // nil entries are skipped
	Stamp *Stamper // nil: no timestamp
	// Emit, when set, receives each block of output as written (without
	// timestamps), if Want reports that someone is listening.
	Emit func(block []byte)
	Want func() bool
	// PartialFlush is how long a partial line waits for its end; 0 means 50 ms.
	PartialFlush time.Duration
	// BufSize is the read buffer; 0 means 64 KiB.
	BufSize int
	// Dropped, when set, hears of lines that did not reach one of the files
	// (File.Write dropped them: a full disk), counted once each.
	Dropped func(lines int64, err error)

	atStart bool
	out     []byte
	count   lineCount
}

// bufPool holds read buffers. A pump takes one only while its pipe has data
// to read, so a thousand idle apps hold no buffers at all.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// Run copies until the stream ends (every writer has closed it) and closes Src.
func (p *Pump) Run() error {
	defer p.Src.Close()
	wait := p.PartialFlush
	if wait <= 0 {
		wait = 50 * time.Millisecond
	}
	p.atStart = true
	rc, err := p.Src.SyscallConn()
	if err != nil {
		return err
	}
	var pending []byte // the start of a line whose end has not arrived
	deadline := false
	for {
		if len(pending) > 0 {
			p.Src.SetReadDeadline(time.Now().Add(wait))
			deadline = true
		} else if deadline {
			p.Src.SetReadDeadline(time.Time{})
			deadline = false
		}
		var (
			bp   *[]byte
			n    int
			rerr error
			eof  bool
		)
		err := rc.Read(func(fd uintptr) bool {
			b := bufPool.Get().(*[]byte)
			buf := *b
			if p.BufSize > 0 && p.BufSize < len(buf) {
				buf = buf[:p.BufSize]
			}
			k := copy(buf, pending)
			for {
				m, e := unix.Read(int(fd), buf[k:])
				if e == unix.EINTR {
					continue
				}
				if e == unix.EAGAIN {
					bufPool.Put(b)
					return false // wait until readable, holding no buffer
				}
				bp, n, rerr, eof = b, k+max(m, 0), e, m == 0 && e == nil
				*bp = buf[:cap(buf)]
				return true
			}
		})
		if err != nil && bp == nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				p.write(pending) // quiet: write the partial line as it is
				pending = pending[:0]
				continue
			}
			if len(pending) > 0 {
				p.write(pending)
			}
			return err
		}
		buf := (*bp)[:n]
		if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
			p.write(buf[:i+1])
			buf = buf[i+1:]
		}
		limit := len(*bp)
		if p.BufSize > 0 && p.BufSize < limit {
			limit = p.BufSize
		}
		if len(buf) >= limit-1 || eof || rerr != nil {
			if len(buf) > 0 {
				p.write(buf) // a line longer than the buffer, or the stream's end
			}
			buf = nil
		}
		pending = append(pending[:0], buf...)
		bufPool.Put(bp)
		if eof {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

func (p *Pump) write(block []byte) {
	data := block
	if p.Stamp != nil {
		data = p.stamp(block)
	}
	var failed error
	for _, d := range p.Dst {
		if d != nil {
			if _, err := d.Write(data); err != nil {
				failed = err
			}
		}
	}
	if failed == nil {
		p.count.keep(block)
	} else if n := p.count.drop(block); n > 0 && p.Dropped != nil {
		p.Dropped(n, failed)
	}
	if p.Emit != nil && (p.Want == nil || p.Want()) {
		p.Emit(block)
	}
}

// stamp returns block with the timestamp before every line that starts in it.
func (p *Pump) stamp(block []byte) []byte {
	prefix := p.Stamp.Append(make([]byte, 0, 40), time.Now())
	prefix = append(prefix, ": "...)
	out := p.out[:0]
	for len(block) > 0 {
		if p.atStart {
			out = append(out, prefix...)
		}
		i := bytes.IndexByte(block, '\n')
		if i < 0 {
			out = append(out, block...)
			p.atStart = false
			break
		}
		out = append(out, block[:i+1]...)
		block = block[i+1:]
		p.atStart = true
	}
	p.out = out
	return out
}
