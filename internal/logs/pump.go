package logs

import (
	"bytes"
	"errors"
	"io"
	"os"
	"time"
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

	atStart bool
	out     []byte
}

// Run copies until the stream ends (every writer has closed it) and closes Src.
func (p *Pump) Run() error {
	defer p.Src.Close()
	size := p.BufSize
	if size <= 0 {
		size = 64 << 10
	}
	wait := p.PartialFlush
	if wait <= 0 {
		wait = 50 * time.Millisecond
	}
	p.atStart = true
	buf := make([]byte, size)
	n := 0
	deadline := false
	for {
		if n > 0 {
			p.Src.SetReadDeadline(time.Now().Add(wait))
			deadline = true
		} else if deadline {
			p.Src.SetReadDeadline(time.Time{})
			deadline = false
		}
		m, err := p.Src.Read(buf[n:])
		n += m
		if m > 0 {
			if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
				p.write(buf[:i+1])
				n = copy(buf, buf[i+1:n])
			}
			if n == len(buf) {
				p.write(buf[:n])
				n = 0
			}
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				if n > 0 {
					p.write(buf[:n])
					n = 0
				}
				continue
			}
			if n > 0 {
				p.write(buf[:n])
			}
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}

func (p *Pump) write(block []byte) {
	data := block
	if p.Stamp != nil {
		data = p.stamp(block)
	}
	for _, d := range p.Dst {
		if d != nil {
			d.Write(data)
		}
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
