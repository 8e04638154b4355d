package supervisor

import (
	"testing"
	"time"
)

func TestNextCron(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 17, 42, 0, time.UTC)
	cases := []struct {
		spec string
		want time.Time
		ok   bool
	}{
		{"0 * * * *", time.Date(2026, 11, 25, 11, 0, 0, 0, time.UTC), true},
		{"*/15 * * * *", time.Date(2026, 11, 25, 10, 30, 0, 0, time.UTC), true},
		{"30 * * * * *", time.Date(2026, 11, 25, 10, 18, 30, 0, time.UTC), true}, // 6 fields: seconds first
		{"0 3 * * 1", time.Date(2026, 11, 30, 3, 0, 0, 0, time.UTC), true},       // next Monday 03:00
		{"@daily", time.Time{}, false},                                           // PM2 reads no nicknames
		{"0 0 1,30 * *", time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC), true},
		{"0", time.Time{}, false},
		{"", time.Time{}, false},
		{"not cron", time.Time{}, false},
	}
	for _, c := range cases {
		got, ok := nextCron(c.spec, now)
		if ok != c.ok || !got.Equal(c.want) {
			t.Errorf("%q: got %v %v, want %v %v", c.spec, got, ok, c.want, c.ok)
		}
	}
	// successive runs with a fake clock: every run is after the previous one
	clk := now
	for i := 0; i < 5; i++ {
		next, _ := nextCron("*/15 * * * *", clk)
		if next.Sub(clk) > 15*time.Minute || !next.After(clk) || next.Minute()%15 != 0 {
			t.Fatalf("run %d: %v after %v", i, next, clk)
		}
		clk = next
	}
}
