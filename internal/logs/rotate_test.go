package logs

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// readAll returns the rotated copies of path (decompressed) followed by path.
func readAll(t *testing.T, path string) ([]byte, []string) {
	t.Helper()
	var all []byte
	files := append(Rotated(path), path)
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(name, ".gz") {
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if b, err = io.ReadAll(zr); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		all = append(all, b...)
	}
	return all, files
}

// Several writers at full speed through pumps into one file that rotates by
// size: every line is in exactly one file, whole, in each writer's order.
func TestRotateBySizeKeepsEveryLine(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprintf("compress=%v", compress), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "app-out.log")
			var reg Files
			reg.SetRotation(path, Rotation{MaxSize: 64 << 10, Compress: compress})
			f, err := reg.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			const writers, lines = 3, 20000
			var wg sync.WaitGroup
			for w := 0; w < writers; w++ {
				r, pw, err := os.Pipe()
				if err != nil {
					t.Fatal(err)
				}
				p := &Pump{Src: r, Dst: []*File{f}, BufSize: 8192}
				wg.Add(2)
				go func() { defer wg.Done(); p.Run() }()
				go func() {
					defer wg.Done()
					// Whole lines per write: a writer stalled mid-line for
					// PartialFlush would (by design) get its partial line
					// written alone, and that is not what this test is about.
					var buf []byte
					for i := 0; i < lines; i++ {
						buf = fmt.Appendf(buf, "w%d %08d %s\n", w, i, strings.Repeat("y", 40))
						if len(buf) > 4000 || i == lines-1 {
							pw.Write(buf)
							buf = buf[:0]
						}
					}
					pw.Close()
				}()
			}
			wg.Wait()
			f.Close()
			reg.WaitIdle()
			all, files := readAll(t, path)
			if len(files) < 10 {
				t.Fatalf("only %d files: rotation did not happen", len(files))
			}
			next := make([]int, writers)
			for i, line := range strings.Split(strings.TrimSuffix(string(all), "\n"), "\n") {
				var w, n int
				if _, err := fmt.Sscanf(line, "w%d %d", &w, &n); err != nil || w < 0 || w >= writers {
					t.Fatalf("line %d is broken: %q", i, line)
				}
				if n != next[w] {
					want := fmt.Sprintf("w%d %08d ", w, next[w])
					at := strings.Index(string(all), want)
					t.Fatalf("writer %d: got line %d, want %d (found at byte %d of %d; files %v)\ncontext: %q", w, n, next[w], at, len(all), files, contextAround(all, i))
				}
				next[w]++
			}
			for w, n := range next {
				if n != lines {
					t.Errorf("writer %d: %d lines, want %d", w, n, lines)
				}
			}
			for _, name := range files[:len(files)-1] {
				if strings.HasSuffix(name, ".gz") != compress {
					t.Errorf("%s: compressed=%v, want %v", name, !compress, compress)
				}
				if !compress {
					if st, _ := os.Stat(name); st.Size() > 64<<10 {
						t.Errorf("%s is %d bytes, more than the limit", name, st.Size())
					}
				}
			}
		})
	}
}

func TestRotateRetain(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.log")
	var reg Files
	reg.SetDefaultRotation(Rotation{MaxSize: 100, Retain: 3})
	f, err := reg.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	line := []byte(strings.Repeat("z", 59) + "\n")
	for i := 0; i < 20; i++ {
		f.Write(line)
	}
	f.Close()
	reg.WaitIdle()
	if got := Rotated(path); len(got) != 3 {
		t.Fatalf("kept %d rotated files (%v), want 3", len(got), got)
	}
}

// A per-instance file follows the policy of its app's configured path.
func TestRotationCoversInstanceFiles(t *testing.T) {
	dir := t.TempDir()
	var reg Files
	reg.SetRotation(filepath.Join(dir, "api-out.log"), Rotation{MaxSize: 10})
	f, err := reg.Open(filepath.Join(dir, "api-out-3.log"))
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("first line\n"))
	f.Write([]byte("second line\n"))
	f.Close()
	if got := Rotated(filepath.Join(dir, "api-out-3.log")); len(got) != 1 {
		t.Fatalf("rotated: %v", got)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "api-out-3.log")); string(b) != "second line\n" {
		t.Fatalf("current file: %q", b)
	}
}

// Rotation by date happens at the first write after each boundary.
func TestRotateByInterval(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "d.log")
	now := time.Date(2026, 5, 1, 23, 59, 0, 0, time.Local)
	var mu sync.Mutex
	reg := &Files{Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }}
	set := func(t time.Time) { mu.Lock(); now = t; mu.Unlock() }
	reg.SetRotation(path, Rotation{Interval: "@daily"})
	f, err := reg.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("may 1\n"))
	set(now.Add(30 * time.Second))
	f.Write([]byte("still may 1\n"))
	set(time.Date(2026, 5, 2, 0, 0, 1, 0, time.Local))
	f.Write([]byte("may 2\n"))
	set(time.Date(2026, 5, 2, 12, 0, 0, 0, time.Local))
	f.Write([]byte("may 2 noon\n"))
	set(time.Date(2026, 5, 4, 8, 0, 0, 0, time.Local))
	f.Write([]byte("may 4\n"))
	f.Close()
	got := Rotated(path)
	if len(got) != 2 {
		t.Fatalf("rotated %v, want 2 files", got)
	}
	want := []string{"may 1\nstill may 1\n", "may 2\nmay 2 noon\n"}
	for i, name := range got {
		if !strings.Contains(name, "d__2026-05-0") {
			t.Errorf("name %s", name)
		}
		b, _ := os.ReadFile(name)
		if string(b) != want[i] {
			t.Errorf("%s: %q, want %q", name, b, want[i])
		}
	}
	if b, _ := os.ReadFile(path); string(b) != "may 4\n" {
		t.Errorf("current: %q", b)
	}
}

func TestParseInterval(t *testing.T) {
	for _, ok := range []string{"0 0 * * *", "@daily", "@hourly", "*/5 * * * *", "@every 1h"} {
		if _, err := ParseInterval(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"daily", "61 * * * *", "* * *"} {
		if _, err := ParseInterval(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func contextAround(all []byte, line int) string {
	lines := strings.Split(string(all), "\n")
	return strings.Join(lines[max(0, line-3):min(len(lines), line+3)], "\n")
}

// A line written in two pieces (a partial line flushed after a quiet spell)
// is never split across a rotation.
func TestRotationWaitsForLineEnd(t *testing.T) {
	dir := t.TempDir()
	var reg Files
	path := filepath.Join(dir, "a.log")
	reg.SetRotation(path, Rotation{MaxSize: 10})
	f, err := reg.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("0123456789\n")) // fills the file
	f.Write([]byte("first half "))  // would rotate: goes in first
	f.Write([]byte("second half\n"))
	f.Close()
	matches, _ := filepath.Glob(filepath.Join(dir, "a*.log*"))
	if len(matches) < 2 {
		t.Fatalf("no rotation happened: %v", matches)
	}
	for _, m := range matches {
		b, _ := os.ReadFile(m)
		for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			if strings.HasPrefix(l, "second") || strings.HasSuffix(l, "half ") {
				t.Errorf("line cut across files in %s: %q", m, l)
			}
		}
	}
}

// Only the end of a partial line waits for its file: the lines written
// with it go to the next file when the limit is passed.
func TestRotationAfterALineEndInTheSameBlock(t *testing.T) {
	dir := t.TempDir()
	var reg Files
	path := filepath.Join(dir, "a.log")
	reg.SetRotation(path, Rotation{MaxSize: 20})
	f, err := reg.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.Write([]byte("0123456789\nstart "))
	if n, err := f.Write([]byte("end\n" + strings.Repeat("y", 30) + "\n")); n != 35 || err != nil {
		t.Fatalf("write: %d, %v", n, err)
	}
	rotated := Rotated(path)
	if len(rotated) != 1 {
		t.Fatalf("rotated copies %v, want 1", rotated)
	}
	old, _ := os.ReadFile(rotated[0])
	cur, _ := os.ReadFile(path)
	if string(old) != "0123456789\nstart end\n" || string(cur) != strings.Repeat("y", 30)+"\n" {
		t.Fatalf("rotated %q, current %q", old, cur)
	}
}
