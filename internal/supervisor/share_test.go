package supervisor

import "testing"

// The addresses a cluster app's preload asks for, as tend writes them.
func TestShareAddr(t *testing.T) {
	for raw, want := range map[string]string{
		":3000":            ":3000",
		"127.0.0.1:3000":   "127.0.0.1:3000",
		"0.0.0.0:3000":     "0.0.0.0:3000",
		"[::]:3000":        "[::]:3000",
		"[::1]:3000":       "[::1]:3000",
		"unix:/tmp/a/../b": "unix:/tmp/b",
	} {
		if got, err := shareAddr(raw); err != nil || got != want {
			t.Errorf("shareAddr(%q) = %q, %v; want %q", raw, got, err, want)
		}
	}
	for _, bad := range []string{"", "3000", "localhost:3000", "127.0.0.1:0", "127.0.0.1:70000", "unix:rel.sock", "[::1]:x"} {
		if got, err := shareAddr(bad); err == nil {
			t.Errorf("shareAddr(%q) = %q, want an error", bad, got)
		}
	}
}
