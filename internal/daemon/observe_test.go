package daemon

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tend-dev/tend/internal/api"
	"github.com/tend-dev/tend/internal/logs"
)

// A follower that reads nothing: the queue stops growing at its limits, and
// everything dropped is reported, in order, once it reads again.
func TestEventQueueIsBoundedAndCountsDrops(t *testing.T) {
	q := newEventQueue(100, 1<<20)
	for i := 0; i < 10000; i++ {
		q.push(api.Event{Type: api.EventLog, Data: strings.Repeat("x", 50)})
	}
	if q.n != 100 || len(q.buf) > 100 {
		t.Fatalf("queue holds %d events in a buffer of %d, want at most 100", q.n, len(q.buf))
	}
	got, missed := 0, int64(0)
	for {
		ev, ok := q.pop()
		if !ok {
			break
		}
		missed += ev.Missed
		if ev.Type == api.EventLog {
			got++
		}
	}
	if got != 100 || missed != 9900 {
		t.Fatalf("got %d events and %d missed, want 100 and 9900", got, missed)
	}
	// The next kept event after drops carries their count.
	for i := 0; i < 101; i++ {
		q.push(api.Event{Type: api.EventLog})
	}
	for i := 0; i < 100; i++ {
		q.pop()
	}
	q.push(api.Event{Type: api.EventLog, Data: "after"})
	ev, _ := q.pop()
	if ev.Data != "after" || ev.Missed != 1 {
		t.Fatalf("got %+v, want the event after the drop with missed 1", ev)
	}
}

func TestEventQueueByteLimit(t *testing.T) {
	q := newEventQueue(1000, 10<<10)
	for i := 0; i < 100; i++ {
		q.push(api.Event{Type: api.EventLog, Data: strings.Repeat("x", 1000)})
	}
	if q.bytes > 10<<10 {
		t.Fatalf("queue holds %d bytes, limit %d", q.bytes, 10<<10)
	}
	// Drops reported by the bus add up with the queue's own.
	q2 := newEventQueue(10, 1<<20)
	q2.push(api.Event{Type: api.EventLog, Missed: 5})
	ev, _ := q2.pop()
	if ev.Missed != 5 {
		t.Fatalf("missed %d, want 5", ev.Missed)
	}
	q2.addMissed(3)
	ev, ok := q2.pop()
	if !ok || ev.Type != api.EventMissed || ev.Missed != 3 {
		t.Fatalf("got %+v %v, want a missed event of 3", ev, ok)
	}
}

func TestSettings(t *testing.T) {
	home := t.TempDir()
	s, err := LoadSettings(home)
	if err != nil || s.MetricsAddr != "" {
		t.Fatalf("no file: %+v %v", s, err)
	}
	r, _ := s.Rotation()
	if r.Enabled() || r.Retain != DefaultLogRetain {
		t.Fatalf("default rotation %+v", r)
	}
	write := func(body string) {
		if err := os.WriteFile(filepath.Join(home, SettingsFile), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"metrics_addr": "127.0.0.1:9209", "log_max_size": "10M", "log_retain": 0, "log_compress": true, "log_rotate_interval": "@daily"}`)
	s, err = LoadSettings(home)
	if err != nil {
		t.Fatal(err)
	}
	r, _ = s.Rotation()
	if want := (logs.Rotation{MaxSize: 10 << 20, Retain: 0, Compress: true, Interval: "@daily"}); r != want {
		t.Fatalf("rotation %+v, want %+v", r, want)
	}
	for _, bad := range []string{`{"log_max_size": "10MB"}`, `{"log_rotate_interval": "daily"}`, `{"metrics": 1}`, `{"log_retain": -1}`} {
		write(bad)
		if _, err := LoadSettings(home); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
