package micro

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/tend-dev/tend/internal/logs"
	"github.com/tend-dev/tend/internal/procstat"
)

// benchPumpRun drives a real Pump: an app-like writer puts 92-byte lines into
// a pipe in 64 KiB writes, the pump reads, splits and appends to a file. This
// is the daemon's whole user-space cost per line (the log scenario of
// go run ./bench measures it end to end).
func benchPumpRun(b *testing.B, format string) {
	line := append(bytes.Repeat([]byte("x"), 91), '\n')
	chunk := bytes.Repeat(line, (64<<10)/len(line))
	var files logs.Files
	f, err := files.Open(filepath.Join(b.TempDir(), "out.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	r, w, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	p := &logs.Pump{Src: r, Dst: []*logs.File{f}, Stamp: logs.NewStamper(format)}
	done := make(chan error, 1)
	go func() { done <- p.Run() }()
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := w.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	w.Close()
	if err := <-done; err != nil && err != io.EOF {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(chunk)/len(line)), "ns/line")
}

func BenchmarkPumpRunRaw(b *testing.B)     { benchPumpRun(b, "") }
func BenchmarkPumpRunStamped(b *testing.B) { benchPumpRun(b, "YYYY-MM-DDTHH:mm:ss") }

// BenchmarkStamperAppend is one timestamp, as rendered for every block.
func BenchmarkStamperAppend(b *testing.B) {
	st := logs.NewStamper("YYYY-MM-DDTHH:mm:ss")
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = st.Append(buf[:0], testTime)
	}
}

// BenchmarkProcstatTake is one walk of /proc: its cost grows with every
// process on the machine, not with the apps tend runs.
func BenchmarkProcstatTake(b *testing.B) {
	b.ReportAllocs()
	n := 0
	for i := 0; i < b.N; i++ {
		n = len(procstat.Take().Procs)
	}
	b.ReportMetric(float64(n), "procs")
}

// BenchmarkSamplerUsage is the usage figure of 10 process trees, as jlist
// asks for it, with a fresh walk each time.
func BenchmarkSamplerUsage(b *testing.B) {
	pids := []int{os.Getpid()}
	for len(pids) < 10 {
		pids = append(pids, os.Getppid())
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		sm := procstat.Sampler{}
		sm.Usage(pids)
	}
}
