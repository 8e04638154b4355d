package logs

import (
	"bytes"
	"os"
	"sync"
	"syscall"
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
	pending []byte // the start of a line whose end has not arrived
	count   lineCount
}

// bufPool holds read buffers. A pump takes one only while its pipe has data
// to read, so a thousand idle apps hold no buffers at all.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// getBuf takes a read buffer from the pool, with the partial line held
// since the last read at its start; k is that line's length and limit the
// buffer's usable size.
func (p *Pump) getBuf() (bp *[]byte, buf []byte, k int) {
	bp = bufPool.Get().(*[]byte)
	buf = *bp
	if p.BufSize > 0 && p.BufSize < len(buf) {
		buf = buf[:p.BufSize]
	}
	return bp, buf, copy(buf, p.pending)
}

// take writes the whole lines of buf (the held partial line, then what was
// read) and holds the rest until its end arrives, unless it fills the buffer
// (limit) or the stream has ended.
func (p *Pump) take(buf []byte, limit int, end bool) {
	if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
		p.write(buf[:i+1])
		buf = buf[i+1:]
	}
	if len(buf) >= limit-1 || end {
		if len(buf) > 0 {
			p.write(buf) // a line longer than the buffer, or the stream's end
		}
		buf = nil
	}
	if len(buf) == 0 {
		p.pending = nil // an idle pump holds no buffer
		return
	}
	p.pending = append(p.pending[:0], buf...)
}

// flushPending writes the held partial line as it is: the stream stayed
// quiet, or is over.
func (p *Pump) flushPending() {
	if len(p.pending) > 0 {
		p.write(p.pending)
	}
	p.pending = nil
}

// readOnce waits in Go's netpoller until the stream has something and reads
// it into a pooled buffer, after the partial line held: bp holds n bytes
// of a buffer of limit usable ones (bp is nil when err is set). rerr is the
// read's error; eof, the stream's end.
func (p *Pump) readOnce(rc syscall.RawConn) (bp *[]byte, n, limit int, rerr error, eof bool, err error) {
	err = rc.Read(func(fd uintptr) bool {
		b, buf, k := p.getBuf()
		for {
			m, e := unix.Read(int(fd), buf[k:])
			if e == unix.EINTR {
				continue
			}
			if e == unix.EAGAIN {
				bufPool.Put(b)
				return false // wait until readable, holding no buffer
			}
			bp, n, limit, rerr, eof = b, k+max(m, 0), len(buf), e, m == 0 && e == nil
			return true
		}
	})
	return
}

func (p *Pump) partialFlush() time.Duration {
	if p.PartialFlush > 0 {
		return p.PartialFlush
	}
	return 50 * time.Millisecond
}

func (p *Pump) write(block []byte) {
	data := block
	if p.Stamp != nil {
		op := outPool.Get().(*[]byte)
		data = p.stamp((*op)[:0], block)
		defer func() { *op = data[:0]; outPool.Put(op) }()
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

// outPool holds the buffers of stamped output, taken only while writing.
var outPool = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// stamp appends block to out with the timestamp before every line that
// starts in it.
func (p *Pump) stamp(out, block []byte) []byte {
	prefix := p.Stamp.Append(make([]byte, 0, 40), time.Now())
	prefix = append(prefix, ": "...)
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
	return out
}
