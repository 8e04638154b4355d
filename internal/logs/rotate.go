package logs

import (
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tend-dev/tend/internal/cron"

	"github.com/tend-dev/tend/internal/lazyre"
)

// Rotation configures the built-in rotation of a log file. The zero value
// rotates nothing.
type Rotation struct {
	// MaxSize rotates the file before a write would make it larger than this
	// many bytes (0: no size limit). A single block larger than MaxSize is
	// still written whole, so a file never ends in the middle of a line.
	MaxSize int64
	// Interval is a cron expression (5 fields, or @daily, @hourly, ...): the
	// first write after each time it matches rotates the file ("" = none).
	Interval string
	// Retain is how many rotated files are kept; older ones are deleted
	// (0: keep them all).
	Retain int
	// Compress gzips rotated files in the background.
	Compress bool
}

// Enabled reports whether the rotation does anything.
func (r Rotation) Enabled() bool { return r.MaxSize > 0 || r.Interval != "" }

// ParseInterval checks a rotation interval: a cron pattern as PM2's
// cron_restart takes it (package cron), or @daily, @hourly, @weekly,
// @monthly, @yearly or @every 1h.
func ParseInterval(s string) (*cron.Schedule, error) {
	if s == "" {
		return nil, nil
	}
	sch, err := cron.ParseInterval(s, time.Now())
	if err != nil {
		return nil, fmt.Errorf("log rotation interval %q: %v", s, err)
	}
	return sch, nil
}

// policyKey is the path a rotation policy is registered under: the path
// without a per-instance suffix ("api-out-3.log" and "api-out.log" both give
// "api-out"), so one policy set for an app's configured path covers every
// instance's file.
func policyKey(path string) string {
	return instanceSuffix().ReplaceAllString(path, "")
}

var instanceSuffix = lazyre.New(`-[0-9]+\.log$|\.log$`)

// SetRotation sets the rotation of the file at path and of the per-instance
// files derived from it ("x.log" also covers "x-0.log", "x-1.log"). It
// applies to files already open from their next write. A zero Rotation
// removes the setting, so the default applies again.
func (r *Files) SetRotation(path string, rot Rotation) {
	if path == "" || path == Null {
		return
	}
	r.pmu.Lock()
	if r.policies == nil {
		r.policies = map[string]Rotation{}
	}
	if rot == (Rotation{}) {
		delete(r.policies, policyKey(path))
	} else {
		r.policies[policyKey(path)] = rot
	}
	r.pmu.Unlock()
	r.gen.Add(1)
}

// SetDefaultRotation sets the rotation of every file that has none of its
// own (the global settings in $TEND_HOME/tend.json).
func (r *Files) SetDefaultRotation(rot Rotation) {
	r.pmu.Lock()
	r.def = rot
	r.pmu.Unlock()
	r.gen.Add(1)
}

// rotationFor returns the rotation that applies to path.
func (r *Files) rotationFor(path string) Rotation {
	r.pmu.Lock()
	defer r.pmu.Unlock()
	if rot, ok := r.policies[policyKey(path)]; ok {
		return rot
	}
	return r.def
}

func (r *Files) clock() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// rotState is a File's view of its rotation, refreshed when the registry's
// policies change. Guarded by File.mu.
type rotState struct {
	gen      int64
	rot      Rotation
	sched    *cron.Schedule
	next     time.Time // the first write at or after this rotates
	failedAt time.Time // last failed rotation: retried after a while
}

// checkRotation rotates f, if its policy says so, before a write of n bytes.
// Called with f.mu held.
func (f *File) checkRotation(n int) {
	r := f.reg
	if g := r.gen.Load(); g != f.rs.gen {
		f.rs.gen = g
		f.rs.rot = r.rotationFor(f.path)
		f.rs.sched = nil
		f.rs.next = time.Time{}
		if sch, err := ParseInterval(f.rs.rot.Interval); err == nil && sch != nil {
			f.rs.sched = sch
			// Content older than the last boundary is rotated at the next write.
			from := r.clock()
			if st, err := f.f.Stat(); err == nil && st.Size() > 0 {
				from = st.ModTime()
			}
			f.rs.next = nextRotation(sch, from)
		}
	}
	rot := f.rs.rot
	if !rot.Enabled() || f.size <= 0 {
		return
	}
	now := time.Time{}
	due := rot.MaxSize > 0 && f.size+int64(n) > rot.MaxSize
	if !due && f.rs.sched != nil {
		now = r.clock()
		due = !now.Before(f.rs.next)
	}
	if !due {
		return
	}
	if now.IsZero() {
		now = r.clock()
	}
	if !f.rs.failedAt.IsZero() && now.Sub(f.rs.failedAt) < 10*time.Second {
		return
	}
	if err := f.rotate(now); err != nil {
		f.rs.failedAt = now
		r.report(fmt.Errorf("rotate %s: %w", f.path, err))
		return
	}
	f.rs.failedAt = time.Time{}
	if f.rs.sched != nil {
		f.rs.next = nextRotation(f.rs.sched, now)
	}
}

// nextRotation is the schedule's next time after t, or the far future for
// a schedule that never fires again.
func nextRotation(s *cron.Schedule, t time.Time) time.Time {
	if n, ok := s.Next(t); ok {
		return n
	}
	return time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
}

// rotate moves the file aside and opens a new one at its path. Called with
// f.mu held: no write can fall between the rename and the reopen, and every
// write is whole lines, so no line is lost, split or written twice.
func (f *File) rotate(now time.Time) error {
	dst, err := rotatedName(f.path, now)
	if err != nil {
		return err
	}
	if err := os.Rename(f.path, dst); err != nil {
		return err
	}
	nf, err := f.reg.openAppend(f.path)
	if err != nil {
		// Keep writing to the moved file rather than lose lines.
		return err
	}
	f.f.Close()
	f.f = nf
	f.size = 0
	f.reg.background(job{path: f.path, rotated: dst, rot: f.rs.rot})
	return nil
}

// rotatedStamp is the time format in rotated file names (pm2-logrotate's
// default dateFormat, YYYY-MM-DD_HH-mm-ss).
const rotatedStamp = "2006-01-02_15-04-05"

// rotatedName returns a free name for a rotated copy of path:
// "<dir>/<stem>__<YYYY-MM-DD_HH-mm-ss>[.<n>]<ext>".
func rotatedName(path string, now time.Time) (string, error) {
	dir, base := filepath.Split(path)
	ext := filepath.Ext(base)
	stem := strings.TrimSuffix(base, ext)
	ts := now.Format(rotatedStamp)
	for n := 0; n < 100000; n++ {
		name := stem + "__" + ts
		if n > 0 {
			name += "." + strconv.Itoa(n)
		}
		name = filepath.Join(dir, name+ext)
		if !exists(name) && !exists(name+".gz") && !exists(name+".gz.tmp") {
			return name, nil
		}
	}
	return "", fmt.Errorf("no free name for a rotated copy of %s", path)
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// Rotated returns the rotated copies of the log file at path, oldest first
// (compressed ones end in .gz).
func Rotated(path string) []string {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	ext := filepath.Ext(base)
	stem := strings.TrimSuffix(base, ext)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	type rf struct {
		name string
		ts   string
		n    int
	}
	var fs []rf
	for _, e := range ents {
		name := e.Name()
		rest, ok := strings.CutPrefix(name, stem+"__")
		if !ok {
			continue
		}
		rest, _ = strings.CutSuffix(rest, ".gz")
		rest, ok = strings.CutSuffix(rest, ext)
		if !ok || len(rest) < len(rotatedStamp) {
			continue
		}
		ts, seq := rest[:len(rotatedStamp)], rest[len(rotatedStamp):]
		if _, err := time.Parse(rotatedStamp, ts); err != nil {
			continue
		}
		n := 0
		if seq != "" {
			v, err := strconv.Atoi(strings.TrimPrefix(seq, "."))
			if err != nil || seq[0] != '.' {
				continue
			}
			n = v
		}
		fs = append(fs, rf{name: filepath.Join(dir, name), ts: ts, n: n})
	}
	sort.Slice(fs, func(i, j int) bool {
		if fs[i].ts != fs[j].ts {
			return fs[i].ts < fs[j].ts
		}
		return fs[i].n < fs[j].n
	})
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.name
	}
	return out
}

// job is the background work after a rotation: compress the rotated file,
// then delete the oldest copies beyond Retain.
type job struct {
	path    string
	rotated string
	rot     Rotation
}

// worker runs background jobs one at a time, so rotation never costs the
// writer more than a rename and an open, and compression never uses more than
// one core however many files rotate.
type worker struct {
	mu      sync.Mutex
	queue   []job
	running bool
	idle    *sync.Cond
}

func (r *Files) background(j job) {
	w := &r.work
	w.mu.Lock()
	defer w.mu.Unlock()
	w.queue = append(w.queue, j)
	if !w.running {
		w.running = true
		go r.runJobs()
	}
}

func (r *Files) runJobs() {
	w := &r.work
	for {
		w.mu.Lock()
		if len(w.queue) == 0 {
			w.running = false
			if w.idle != nil {
				w.idle.Broadcast()
			}
			w.mu.Unlock()
			return
		}
		j := w.queue[0]
		w.queue = w.queue[1:]
		w.mu.Unlock()
		if j.rot.Compress {
			if err := compress(j.rotated); err != nil {
				r.report(fmt.Errorf("compress %s: %w", j.rotated, err))
			}
		}
		if j.rot.Retain > 0 {
			old := Rotated(j.path)
			for len(old) > j.rot.Retain {
				if err := os.Remove(old[0]); err != nil && !os.IsNotExist(err) {
					r.report(err)
				}
				old = old[1:]
			}
		}
	}
}

// WaitIdle waits until no compression or clean-up is pending (for tests and
// shutdown).
func (r *Files) WaitIdle() {
	w := &r.work
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.idle == nil {
		w.idle = sync.NewCond(&w.mu)
	}
	for w.running {
		w.idle.Wait()
	}
}

// compress replaces path by path.gz. The .gz appears complete (written to a
// temporary name, then renamed) before path is removed.
func compress(path string) error {
	src, err := os.Open(path)
	if err != nil {
		return err
	}
	defer src.Close()
	tmp := path + ".gz.tmp"
	dst, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW, 0o644)
	if err != nil {
		return err
	}
	zw, _ := gzip.NewWriterLevel(dst, gzip.DefaultCompression)
	zw.Name = filepath.Base(path)
	if _, err = io.Copy(zw, src); err == nil {
		err = zw.Close()
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path+".gz")
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Remove(path)
}

func (r *Files) report(err error) {
	if r.Logf != nil {
		r.Logf("logs: %v", err)
	}
}
