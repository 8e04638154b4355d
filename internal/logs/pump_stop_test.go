package logs

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// A pump stopped while its stream is busy (a daemon that detaches for the
// next one) writes whole lines only, and every line it did not write is
// still in the pipe for the next reader: none lost, none twice.
func TestPumpStopWhileBusy(t *testing.T) {
	const n = 200000
	dir := t.TempDir()
	var reg Files
	path := filepath.Join(dir, "out.log")
	f, err := reg.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	fd := -1
	rc, err := r.SyscallConn() // not r.Fd(): that makes r blocking
	if err != nil {
		t.Fatal(err)
	}
	rc.Control(func(u uintptr) { fd, err = syscall.Dup(int(u)) })
	if err != nil {
		t.Fatal(err)
	}
	next := os.NewFile(uintptr(fd), "next") // the next daemon's end
	go func() {
		for i := range n {
			fmt.Fprintf(w, "line %07d\n", i)
		}
		w.Close()
	}()
	ended := make(chan struct{})
	p := &Pump{Src: r, Dst: []*File{f}, BufSize: 4096}
	stop := p.Start(func(error) { close(ended) })
	deadline := time.Now().Add(20 * time.Second)
	for {
		if st, err := os.Stat(path); err == nil && st.Size() > 100_000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the pump wrote nothing")
		}
		time.Sleep(time.Millisecond)
	}
	stop()
	select {
	case <-ended:
	case <-time.After(20 * time.Second):
		t.Fatal("end was not called after stop")
	}
	rest, err := io.ReadAll(next)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	all := append(got, rest...)
	lines := bytes.Split(bytes.TrimSuffix(all, []byte("\n")), []byte("\n"))
	if len(lines) != n {
		t.Fatalf("%d lines in the file and the pipe, want %d", len(lines), n)
	}
	for i, l := range lines {
		if want := fmt.Sprintf("line %07d", i); string(l) != want {
			t.Fatalf("line %d is %q, want %q", i, l, want)
		}
	}
	if len(got) > 0 && got[len(got)-1] != '\n' {
		t.Fatalf("the file ends inside a line: %q", got[max(0, len(got)-20):])
	}
}
