package spec

import (
	"encoding/json"
	"time"
)

// Durations travel in milliseconds, the unit of PM2's files and of jlist:
// the same number for kill_timeout in the ecosystem file, in
// POST /v1/start, in the state records, in dump.json and in jlist. In Go
// they are time.Duration. JSON written before this carried nanoseconds and
// no "duration_unit"; it is still read as nanoseconds, so a daemon replaced
// by `tend update` or restarted after a crash reads its predecessor's
// records right.

// Millis is a duration as whole milliseconds in JSON.
type Millis int64

// Dur is m as a time.Duration, in unit (time.Millisecond, or
// time.Nanosecond for JSON from before durations were milliseconds).
func (m Millis) Dur(unit time.Duration) time.Duration { return time.Duration(m) * unit }

// ToMillis rounds d to whole milliseconds (a sub-millisecond remainder
// rounds up, so a positive duration never becomes 0).
func ToMillis(d time.Duration) Millis {
	ms := d / time.Millisecond
	if d%time.Millisecond > 0 {
		ms++
	}
	return Millis(ms)
}

// unitMillis marks JSON whose durations are milliseconds.
const unitMillis = "ms"

func unitOf(marker string) time.Duration {
	if marker == unitMillis {
		return time.Millisecond
	}
	return time.Nanosecond
}

// appFields is App without its methods: its JSON is the plain field
// encoding, which appWire overrides for the durations.
type appFields App

// appWire is App's JSON: the fields of App, with the durations shadowed
// (a field at a shallower depth wins) by millisecond ones.
type appWire struct {
	*appFields
	Unit                   string `json:"duration_unit"`
	MinUptime              Millis `json:"min_uptime"`
	RestartDelay           Millis `json:"restart_delay"`
	ExpBackoffRestartDelay Millis `json:"exp_backoff_restart_delay,omitempty"`
	KillTimeout            Millis `json:"kill_timeout"`
	WatchDelay             Millis `json:"watch_delay,omitempty"`
	ListenTimeout          Millis `json:"listen_timeout,omitempty"`
	ReloadTimeout          Millis `json:"reload_timeout,omitempty"`
}

// MarshalJSON writes the durations in milliseconds.
func (a App) MarshalJSON() ([]byte, error) {
	return json.Marshal(appWire{
		appFields: (*appFields)(&a), Unit: unitMillis,
		MinUptime: ToMillis(a.MinUptime), RestartDelay: ToMillis(a.RestartDelay),
		ExpBackoffRestartDelay: ToMillis(a.ExpBackoffRestartDelay), KillTimeout: ToMillis(a.KillTimeout),
		WatchDelay: ToMillis(a.WatchDelay), ListenTimeout: ToMillis(a.ListenTimeout), ReloadTimeout: ToMillis(a.ReloadTimeout),
	})
}

// UnmarshalJSON reads durations in milliseconds, or in nanoseconds from
// JSON without "duration_unit" (written before it existed).
func (a *App) UnmarshalJSON(b []byte) error {
	w := appWire{appFields: (*appFields)(a)}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	u := unitOf(w.Unit)
	a.MinUptime, a.RestartDelay = w.MinUptime.Dur(u), w.RestartDelay.Dur(u)
	a.ExpBackoffRestartDelay, a.KillTimeout = w.ExpBackoffRestartDelay.Dur(u), w.KillTimeout.Dur(u)
	a.WatchDelay, a.ListenTimeout, a.ReloadTimeout = w.WatchDelay.Dur(u), w.ListenTimeout.Dur(u), w.ReloadTimeout.Dur(u)
	return nil
}

type probeFields Probe

type probeWire struct {
	*probeFields
	Unit        string `json:"duration_unit"`
	Interval    Millis `json:"interval"`
	Timeout     Millis `json:"timeout"`
	StartPeriod Millis `json:"start_period"`
}

// MarshalJSON writes the durations in milliseconds.
func (p Probe) MarshalJSON() ([]byte, error) {
	return json.Marshal(probeWire{probeFields: (*probeFields)(&p), Unit: unitMillis,
		Interval: ToMillis(p.Interval), Timeout: ToMillis(p.Timeout), StartPeriod: ToMillis(p.StartPeriod)})
}

// UnmarshalJSON reads durations in milliseconds, or in nanoseconds from
// JSON without "duration_unit".
func (p *Probe) UnmarshalJSON(b []byte) error {
	w := probeWire{probeFields: (*probeFields)(p)}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	u := unitOf(w.Unit)
	p.Interval, p.Timeout, p.StartPeriod = w.Interval.Dur(u), w.Timeout.Dur(u), w.StartPeriod.Dur(u)
	return nil
}
