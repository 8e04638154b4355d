package display

import (
	"testing"
	"time"
)

func TestFormats(t *testing.T) {
	for b, want := range map[int64]string{512: "512b", 12 << 10: "12.0kb", 43201331: "41.2mb", 3 << 29: "1.5gb"} {
		if got := Bytes(b); got != want {
			t.Errorf("Bytes(%d) = %s, want %s", b, got, want)
		}
	}
	for d, want := range map[time.Duration]string{12 * time.Second: "12s", 5 * time.Minute: "5m", 3 * time.Hour: "3h", 50 * time.Hour: "2D"} {
		if got := Uptime(d); got != want {
			t.Errorf("Uptime(%v) = %s, want %s", d, got, want)
		}
	}
}
