package logs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Each dropped line is counted once, whether it went whole or in pieces.
func TestLineCountCountsEachLineOnce(t *testing.T) {
	var c lineCount
	steps := []struct {
		block string
		drop  bool
		want  int64
	}{
		{"a\nb\n", true, 2},
		{"c", true, 1},      // starts a line
		{"c\nd\n", true, 1}, // ends it (counted already), and one more
		{"e", false, 0},     // written
		{"e\n", true, 1},    // its end dropped: the line is damaged
		{"f", true, 1},
		{"f\n", false, 0}, // its start was counted
		{"g\n", true, 1},
	}
	for i, s := range steps {
		var got int64
		if s.drop {
			got = c.drop([]byte(s.block))
		} else {
			c.keep([]byte(s.block))
		}
		if got != s.want {
			t.Errorf("step %d (%q): %d lines, want %d", i, s.block, got, s.want)
		}
	}
}

// A file that cannot be written (/dev/full answers ENOSPC) drops each
// block at once with an error that says so; once writes work again, the
// first one starts with a line saying how many were dropped.
func TestWriteDropsThenSaysHowMany(t *testing.T) {
	var said []string
	reg := &Files{Logf: func(format string, args ...any) { said = append(said, fmt.Sprintf(format, args...)) }}
	path := filepath.Join(t.TempDir(), "app-out.log")
	f, err := reg.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write([]byte("one\n")); err != nil {
		t.Fatal(err)
	}
	good := f.f
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip("no /dev/full")
	}
	f.f = full
	for i := 0; i < 3; i++ {
		_, err := f.Write([]byte("lost 1\nlost 2\n"))
		if !errors.Is(err, ErrDropped) || !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("write to a full device: %v, want ErrDropped and ENOSPC", err)
		}
	}
	full.Close()
	f.f = good
	if _, err := f.Write([]byte("two\n")); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 3 || lines[0] != "one" || lines[2] != "two" ||
		!strings.HasPrefix(lines[1], "[tend] 6 lines dropped between ") || !strings.HasSuffix(lines[1], ": no space left on device") {
		t.Fatalf("file:\n%s", b)
	}
	if len(said) != 2 {
		t.Fatalf("the daemon's log heard %d times, want 2 (the first drop, the recovery): %q", len(said), said)
	}
}
