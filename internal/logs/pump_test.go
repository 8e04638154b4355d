package logs

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"
)

func TestStamperFormats(t *testing.T) {
	tm := time.Date(2026, 3, 4, 15, 6, 7, 89_000_000, time.FixedZone("x", 2*3600+30*60))
	cases := map[string]string{
		"YYYY-MM-DD HH:mm:ss Z":   "2026-03-04 15:06:07 +02:30",
		"YYYY-MM-DDTHH:mm:ss":     "2026-03-04T15:06:07",
		"YYYY-MM-DD HH:mm:ss.SSS": "2026-03-04 15:06:07.089",
		"DD/MM/YY hh:mm A ZZ":     "04/03/26 03:06 PM +0230",
		"[at] H:m:s":              "at 15:6:7",
	}
	for f, want := range cases {
		if got := string(NewStamper(f).Append(nil, tm)); got != want {
			t.Errorf("%q: got %q, want %q", f, got, want)
		}
	}
}

// pumpInto runs a pump from a real pipe into a real file and returns the file.
func pumpInto(t *testing.T, stamp *Stamper, write func(w *os.File)) []byte {
	t.Helper()
	dir := t.TempDir()
	var reg Files
	f, err := reg.Open(filepath.Join(dir, "sub", "out.log"))
	if err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &Pump{Src: r, Dst: []*File{f}, Stamp: stamp, BufSize: 4096}
	done := make(chan error, 1)
	go func() { done <- p.Run() }()
	write(w)
	w.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	f.Close()
	b, err := os.ReadFile(filepath.Join(dir, "sub", "out.log"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A line written in several pieces gets exactly one timestamp, at its start.
func TestPumpTimestampsOnlyAtLineStart(t *testing.T) {
	out := pumpInto(t, NewStamper("YYYY"), func(w *os.File) {
		w.Write([]byte("hel"))
		w.Write([]byte("lo\nwor"))
		w.Write([]byte("ld\n\nlast"))
	})
	y := strconv.Itoa(time.Now().Year())
	want := y + ": hello\n" + y + ": world\n" + y + ": \n" + y + ": last"
	if string(out) != want {
		t.Fatalf("got %q\nwant %q", out, want)
	}
}

// A partial line that stays unfinished is written after a short quiet time,
// and its end is not stamped a second time.
func TestPumpFlushesQuietPartialLine(t *testing.T) {
	dir := t.TempDir()
	var reg Files
	path := filepath.Join(dir, "out.log")
	f, _ := reg.Open(path)
	r, w, _ := os.Pipe()
	p := &Pump{Src: r, Dst: []*File{f}, Stamp: NewStamper("[T]"), PartialFlush: 5 * time.Millisecond}
	done := make(chan error, 1)
	go func() { done <- p.Run() }()
	w.Write([]byte("Password: "))
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if string(b) == "T: Password: " {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("partial line not flushed: %q", b)
		}
		time.Sleep(2 * time.Millisecond)
	}
	w.Write([]byte("ok\nnext\n"))
	w.Close()
	<-done
	b, _ := os.ReadFile(path)
	if string(b) != "T: Password: ok\nT: next\n" {
		t.Fatalf("got %q", b)
	}
}

// Numbered lines written at full speed in writes that cut lines anywhere
// arrive complete, in order, each with one timestamp. (The end-to-end test
// does a million lines through the daemon from a real process.)
func TestPumpManyLinesInOrder(t *testing.T) {
	const n = 200_000
	out := pumpInto(t, NewStamper("YYYY-MM-DDTHH:mm:ss"), func(w *os.File) {
		bw := bufio.NewWriterSize(w, 8191) // odd size: writes cut lines anywhere
		var num []byte
		for i := 0; i < n; i++ {
			bw.WriteString("line ")
			num = strconv.AppendInt(num[:0], int64(i), 10)
			bw.Write(num)
			bw.WriteString(" of the test with some padding to look like a real log line\n")
		}
		bw.Flush()
	})
	lines := bytes.Split(bytes.TrimSuffix(out, []byte{'\n'}), []byte{'\n'})
	if len(lines) != n {
		t.Fatalf("got %d lines, want %d", len(lines), n)
	}
	const stampLen = len("2006-01-02T15:04:05: ")
	for i, l := range lines {
		want := "line " + strconv.Itoa(i) + " of the test with some padding to look like a real log line"
		if len(l) != stampLen+len(want) || string(l[stampLen:]) != want || l[4] != '-' || l[10] != 'T' || string(l[stampLen-2:stampLen]) != ": " {
			t.Fatalf("line %d mangled or out of order: %q", i, l)
		}
	}
}

// Two streams sharing one file never interleave inside a line.
func TestSharedFileKeepsLinesWhole(t *testing.T) {
	dir := t.TempDir()
	var reg Files
	path := filepath.Join(dir, "both.log")
	var pumps []*Pump
	var writers []*os.File
	for i := 0; i < 2; i++ {
		f, _ := reg.Open(path)
		r, w, _ := os.Pipe()
		pumps = append(pumps, &Pump{Src: r, Dst: []*File{f}, BufSize: 1000})
		writers = append(writers, w)
		defer f.Close()
	}
	done := make(chan error, 2)
	for _, p := range pumps {
		go func() { done <- p.Run() }()
	}
	for i, w := range writers {
		go func() {
			bw := bufio.NewWriterSize(w, 333)
			for j := 0; j < 20000; j++ {
				fmt.Fprintf(bw, "stream%d-%d-xxxxxxxxxxxxxxxxxxxxxxxx\n", i, j)
			}
			bw.Flush()
			w.Close()
		}()
	}
	<-done
	<-done
	b, _ := os.ReadFile(path)
	re := regexp.MustCompile(`^stream(\d)-(\d+)-x{24}$`)
	next := [2]int{}
	for _, l := range bytes.Split(bytes.TrimSuffix(b, []byte{'\n'}), []byte{'\n'}) {
		m := re.FindSubmatch(l)
		if m == nil {
			t.Fatalf("mixed line %q", l)
		}
		s, _ := strconv.Atoi(string(m[1]))
		j, _ := strconv.Atoi(string(m[2]))
		if j != next[s] {
			t.Fatalf("stream %d: line %d after %d", s, j, next[s]-1)
		}
		next[s]++
	}
	if next != [2]int{20000, 20000} {
		t.Fatalf("counts %v", next)
	}
}

func BenchmarkPumpRaw(b *testing.B)     { benchPump(b, nil) }
func BenchmarkPumpStamped(b *testing.B) { benchPump(b, NewStamper("YYYY-MM-DDTHH:mm:ss")) }

func benchPump(b *testing.B, st *Stamper) {
	line := bytes.Repeat([]byte("x"), 91)
	line = append(line, '\n')
	chunk := bytes.Repeat(line, 700)
	p := &Pump{Stamp: st}
	var out []byte
	b.SetBytes(int64(len(chunk)))
	for i := 0; i < b.N; i++ {
		if st != nil {
			out = p.stamp(out[:0], chunk)
		}
		bytes.LastIndexByte(chunk, '\n')
	}
}
