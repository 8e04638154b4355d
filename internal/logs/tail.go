package logs

import (
	"bytes"
	"io"
	"os"
)

// Tail returns the last n lines of a log file (for `tend logs` and the
// dashboard); nil if it cannot be read.
func Tail(path string, n int) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil
	}
	size := st.Size()
	var buf []byte
	const block = 64 << 10
	for off := size; off > 0 && bytes.Count(buf, []byte{'\n'}) <= n; {
		step := min(int64(block), off)
		off -= step
		chunk := make([]byte, step)
		if _, err := f.ReadAt(chunk, off); err != nil && err != io.EOF {
			return nil
		}
		buf = append(chunk, buf...)
	}
	buf = bytes.TrimSuffix(buf, []byte{'\n'})
	if len(buf) == 0 {
		return nil
	}
	lines := bytes.Split(buf, []byte{'\n'})
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = string(l)
	}
	return out
}
