package supervisor

import "time"

// clock is the process loop's time: the present and its timers. In the
// daemon it is the supervisor's (Options.Now, the runtime's timers); the
// loop's unit tests use a fake one they move by hand.
type clock interface {
	now() time.Time
	timer(d time.Duration) *alarm
	ticker(d time.Duration) *alarm
}

// alarm is a timer or a ticker of a clock. A nil alarm never fires, and
// stopping it does nothing, so the loop selects on unset ones.
type alarm struct {
	c    <-chan time.Time
	stop func()
}

// C is the channel the alarm fires on; nil for a nil alarm.
func (a *alarm) C() <-chan time.Time {
	if a == nil {
		return nil
	}
	return a.c
}

// Stop stops the alarm.
func (a *alarm) Stop() {
	if a != nil {
		a.stop()
	}
}

// supClock is the supervisor's clock.
type supClock struct{ s *Supervisor }

func (c supClock) now() time.Time { return c.s.now() }

func (supClock) timer(d time.Duration) *alarm {
	t := time.NewTimer(d)
	return &alarm{c: t.C, stop: func() { t.Stop() }}
}

func (supClock) ticker(d time.Duration) *alarm {
	t := time.NewTicker(d)
	return &alarm{c: t.C, stop: t.Stop}
}
