// Package logs carries an app's output from its pipes to its log files and to
// live followers: whole lines only, in order, with an optional timestamp at the
// start of every line.
package logs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// Null is the path that disables a log.
const Null = "/dev/null"

// Files is a registry of open log files shared by every stream that writes to
// the same path (instances with merged logs, out and err sent to one file).
type Files struct {
	mu    sync.Mutex
	files map[string]*File

	// Now is the clock of date-based rotation; nil means time.Now.
	Now func() time.Time
	// Logf reports rotation and compression errors; nil discards them.
	Logf func(format string, args ...any)
	// OpenFile opens a log file, creating missing folders (0755); nil means
	// os.MkdirAll and os.OpenFile. The daemon's refuses links and other
	// users' folders inside TEND_HOME.
	OpenFile func(path string, flag int, perm os.FileMode) (*os.File, error)

	pmu      sync.Mutex // guards policies and def; never held while taking a File's mu
	policies map[string]Rotation
	def      Rotation
	gen      atomic.Int64 // bumped when policies change
	work     worker
}

// File is one open log file. Writes are serialised so that lines from
// different streams never interleave inside a line.
type File struct {
	path string
	reg  *Files
	refs int

	mu      sync.Mutex
	f       *os.File
	size    int64 // bytes in the file, for rotation by size
	midLine bool  // the last write did not end a line
	rs      rotState
	drop    dropping // while writes fail (a full disk): what was dropped
}

// Open returns the shared File for path, creating missing folders. It returns
// nil, nil for Null or "".
func (r *Files) Open(path string) (*File, error) {
	if path == "" || path == Null || path == "NULL" {
		return nil, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.files == nil {
		r.files = map[string]*File{}
	}
	if f, ok := r.files[path]; ok {
		f.refs++
		return f, nil
	}
	fh, err := r.openAppend(path)
	if err != nil {
		return nil, err
	}
	f := &File{path: path, reg: r, refs: 1, f: fh, size: fileSize(fh)}
	f.rs.gen = -1
	r.files[path] = f
	return f, nil
}

func (r *Files) openAppend(path string) (*os.File, error) {
	f, err := r.openFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log file: %w", err)
	}
	return f, nil
}

func (r *Files) openFile(path string, flag int, perm os.FileMode) (*os.File, error) {
	if r.OpenFile != nil {
		return r.OpenFile(path, flag, perm)
	}
	if flag&os.O_CREATE != 0 {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, fmt.Errorf("create log folder: %w", err)
		}
	}
	return os.OpenFile(path, flag, perm)
}

func fileSize(f *os.File) int64 {
	if st, err := f.Stat(); err == nil {
		return st.Size()
	}
	return 0
}

// Close drops one reference; the file closes with the last.
func (f *File) Close() error {
	if f == nil {
		return nil
	}
	r := f.reg
	r.mu.Lock()
	f.refs--
	last := f.refs == 0
	if last {
		delete(r.files, f.path)
	}
	r.mu.Unlock()
	if !last {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.f.Close()
}

// Path is the file's path.
func (f *File) Path() string { return f.path }

// Write appends p in one write call, first rotating the file if its
// rotation policy says so. It never blocks on a file that cannot take more
// (a full disk): p is dropped, whole — a write cut short is taken back —,
// and the error, which wraps ErrDropped, says why. Once a write succeeds
// again, a line saying how many lines were dropped comes before p, and the
// daemon's log (Files.Logf) hears of both moments.
func (f *File) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	// A partial line (flushed after a quiet spell) is finished in the same
	// file: rotation waits for a line boundary, so no line is cut in two —
	// and only that line waits, not the lines after it in p.
	all, first := len(p), error(nil)
	if f.midLine {
		if i := bytes.IndexByte(p, '\n'); i >= 0 && i+1 < len(p) {
			_, first = f.write(p[:i+1])
			p = p[i+1:]
		}
	}
	if !f.midLine {
		f.checkRotation(len(p))
	}
	if _, err := f.write(p); err != nil {
		return 0, err
	}
	if first != nil {
		return 0, first
	}
	return all, nil
}

// write appends p in one write call; a write that fails drops p (Write).
// Called with f.mu held.
func (f *File) write(p []byte) (int, error) {
	buf := p
	if !f.drop.since.IsZero() {
		buf = append(f.drop.marker(f.midLine), p...)
	}
	n, err := f.f.Write(buf)
	if err == nil && n == len(buf) {
		f.size += int64(n)
		f.midLine = buf[n-1] != '\n'
		if !f.drop.since.IsZero() {
			f.reg.report(fmt.Errorf("%s is written again: %d lines were dropped since %s (%v)",
				f.path, f.drop.lines, f.drop.since.Format(time.RFC3339), f.drop.err))
			f.drop = dropping{count: f.drop.count}
		}
		f.drop.count.keep(p)
		return len(p), nil
	}
	if err == nil {
		err = io.ErrShortWrite
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err // the path is said once, by whoever reports it
	}
	if n > 0 {
		// Take back what a short write left: only whole lines in the file.
		if end, serr := f.f.Seek(0, io.SeekCurrent); serr == nil && f.f.Truncate(end-int64(n)) == nil {
			n = 0
		} else {
			f.size += int64(n)
			f.midLine = buf[n-1] != '\n'
		}
	}
	now := time.Now()
	if f.drop.since.IsZero() {
		f.drop.since, f.drop.err = now, err
		f.reg.report(fmt.Errorf("writing %s: %v: its lines are dropped (the app goes on) until it can be written again", f.path, err))
	}
	f.drop.last = now
	f.drop.lines += f.drop.count.drop(p)
	return 0, &DropError{Path: f.path, Err: err}
}

// ErrDropped is matched by errors.Is for the error of a write that dropped
// its lines.
var ErrDropped = errors.New("log lines dropped")

// DropError is the error of a write whose lines were dropped.
type DropError struct {
	Path string
	Err  error // why, e.g. ENOSPC
}

func (e *DropError) Error() string        { return fmt.Sprintf("%s: lines dropped: %v", e.Path, e.Err) }
func (e *DropError) Unwrap() error        { return e.Err }
func (e *DropError) Is(target error) bool { return target == ErrDropped }

// Reopen closes and reopens every file, for an external logrotate that moved
// them away.
func (r *Files) Reopen() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var first error
	for _, f := range r.files {
		f.mu.Lock()
		nf, err := r.openAppend(f.path)
		if err == nil {
			f.f.Close()
			f.f = nf
			f.size = fileSize(nf)
		} else if first == nil {
			first = err
		}
		f.mu.Unlock()
	}
	return first
}

// Truncate empties the file at path, open or not.
func (r *Files) Truncate(path string) error {
	if path == "" || path == Null {
		return nil
	}
	r.mu.Lock()
	f := r.files[path]
	r.mu.Unlock()
	if f != nil {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.size = 0
		return f.f.Truncate(0)
	}
	fh, err := r.openFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	return fh.Close()
}
