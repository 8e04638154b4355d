package supervisor

import (
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock (the loop's) that moves only when a test advances
// it: uptimes as the loop measures them, and timers and tickers that fire
// when it passes their time, without sleeping.
type fakeClock struct {
	mu     sync.Mutex
	at     time.Time
	alarms []*fakeAlarm
}

type fakeAlarm struct {
	c       chan time.Time
	when    time.Time
	every   time.Duration // a ticker's period; 0 for a timer
	stopped bool
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.at
}

func (c *fakeClock) timer(d time.Duration) *alarm  { return c.add(d, 0) }
func (c *fakeClock) ticker(d time.Duration) *alarm { return c.add(d, d) }

func (c *fakeClock) add(d, every time.Duration) *alarm {
	c.mu.Lock()
	defer c.mu.Unlock()
	a := &fakeAlarm{c: make(chan time.Time, 1), when: c.at.Add(d), every: every}
	c.alarms = append(c.alarms, a)
	return &alarm{c: a.c, stop: func() {
		c.mu.Lock()
		a.stopped = true
		c.mu.Unlock()
	}}
}

// advance moves the clock by d and fires the alarms whose time has come
// (a ticker once, as a runtime ticker drops ticks nobody reads).
func (c *fakeClock) advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at = c.at.Add(d)
	for _, a := range c.alarms {
		if a.stopped || a.when.After(c.at) {
			continue
		}
		select {
		case a.c <- c.at:
		default:
		}
		if a.every == 0 {
			a.stopped = true
			continue
		}
		for !a.when.After(c.at) {
			a.when = a.when.Add(a.every)
		}
	}
	return c.at
}

// pending is how many alarms are set and not fired or stopped.
func (c *fakeClock) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, a := range c.alarms {
		if !a.stopped {
			n++
		}
	}
	return n
}

// runFor simulates one run of the given length ending in a crash, then the
// policy's decision, like the loop does.
func runFor(t *testing.T, clk *fakeClock, p Policy, c *Counters, up time.Duration) Decision {
	t.Helper()
	start := clk.now()
	end := clk.advance(up)
	d := p.OnExit(c, Exit{Code: 1, Uptime: end.Sub(start)})
	clk.advance(d.Delay)
	return d
}

func TestPolicyUnstableRestartsReachErrored(t *testing.T) {
	clk := &fakeClock{at: time.Unix(0, 0)}
	p := Policy{Autorestart: true, MinUptime: time.Second, MaxRestarts: 3}
	var c Counters
	for i := 1; i <= 2; i++ {
		d := runFor(t, clk, p, &c, 100*time.Millisecond)
		if !d.Restart || d.Status != WaitingRestart {
			t.Fatalf("crash %d: got %+v, want a restart", i, d)
		}
		if c.Unstable != i {
			t.Fatalf("crash %d: unstable = %d", i, c.Unstable)
		}
	}
	d := runFor(t, clk, p, &c, 100*time.Millisecond)
	if d.Restart || d.Status != Errored {
		t.Fatalf("third unstable crash: got %+v, want errored (PM2 errors at max_restarts unstable runs)", d)
	}
	if c.Unstable != 0 {
		t.Fatalf("counter not reset after errored: %d", c.Unstable)
	}
}

// PM2 loops for ever on an app that always lives just longer than min_uptime
// (PM2 issues #2584, #1676). tend's streak rule stops it.
func TestPolicyCrashLoopJustAboveMinUptimeIsCapped(t *testing.T) {
	clk := &fakeClock{at: time.Unix(0, 0)}
	p := Policy{Autorestart: true, MinUptime: time.Second, MaxRestarts: 5}
	var c Counters
	var d Decision
	n := 0
	for n = 1; n <= 100; n++ {
		d = runFor(t, clk, p, &c, 1100*time.Millisecond)
		if !d.Restart {
			break
		}
	}
	if d.Status != Errored || n != 5 {
		t.Fatalf("got %+v after %d crashes, want errored after 5", d, n)
	}
}

func TestPolicyStableRunEndsTheStreak(t *testing.T) {
	clk := &fakeClock{at: time.Unix(0, 0)}
	p := Policy{Autorestart: true, MinUptime: time.Second, MaxRestarts: 3}
	var c Counters
	runFor(t, clk, p, &c, 2*time.Second)
	for i := 0; i < 10; i++ {
		d := runFor(t, clk, p, &c, 2*time.Second)
		if !d.Restart || c.Streak != 2 {
			t.Fatalf("round %d: %+v", i, d)
		}
		// A run of 30 s or more in between resets the streak.
		if d := runFor(t, clk, p, &c, StableAfter); !d.Restart || c.Streak != 1 {
			t.Fatalf("round %d after a stable run: %+v streak %d", i, d, c.Streak)
		}
	}
}

func TestPolicyStopExitCodesAndAutorestart(t *testing.T) {
	p := Policy{Autorestart: true, MinUptime: time.Second, MaxRestarts: 16, StopExitCodes: []int{0, 3}}
	var c Counters
	if d := p.OnExit(&c, Exit{Code: 3, Uptime: time.Minute}); d.Restart || d.Status != Stopped {
		t.Fatalf("exit 3 in stop_exit_codes: %+v", d)
	}
	if d := p.OnExit(&c, Exit{Code: 2, Uptime: time.Minute}); !d.Restart {
		t.Fatalf("exit 2: %+v", d)
	}
	// 128+SIGINT is a signal death, not exit code 130 chosen by the app.
	p.StopExitCodes = []int{130}
	if d := p.OnExit(&c, Exit{Code: 130, Signal: "SIGINT", Uptime: time.Minute}); !d.Restart {
		t.Fatalf("killed by signal: %+v", d)
	}
	p.Autorestart = false
	if d := p.OnExit(&c, Exit{Code: 1, Uptime: time.Minute}); d.Restart || d.Status != Stopped {
		t.Fatalf("autorestart off: %+v", d)
	}
}

func TestPolicyRestartDelayAndExpBackoff(t *testing.T) {
	clk := &fakeClock{at: time.Unix(0, 0)}
	p := Policy{Autorestart: true, MinUptime: 0, MaxRestarts: 1000, RestartDelay: 4 * time.Second}
	var c Counters
	if d := runFor(t, clk, p, &c, time.Second); d.Delay != 4*time.Second {
		t.Fatalf("restart_delay: %v", d.Delay)
	}
	p.ExpBackoff = 100 * time.Millisecond
	c = Counters{}
	want := []time.Duration{100, 150, 225, 337500 * time.Microsecond / time.Millisecond}
	for i, w := range want[:3] {
		if d := runFor(t, clk, p, &c, time.Second); d.Delay != w*time.Millisecond {
			t.Fatalf("backoff %d: %v, want %v", i, d.Delay, w*time.Millisecond)
		}
	}
	for i := 0; i < 20; i++ {
		runFor(t, clk, p, &c, time.Second)
	}
	if c.PrevBackoff != MaxBackoff {
		t.Fatalf("backoff cap: %v", c.PrevBackoff)
	}
	// a run that lasted 30 s resets it: its crash waits the first delay again
	if d := runFor(t, clk, p, &c, StableAfter); d.Delay != 100*time.Millisecond {
		t.Fatalf("backoff after a 30 s run: %v", d.Delay)
	}
}

func TestTransitions(t *testing.T) {
	ok := [][2]Status{{Stopped, Launching}, {Launching, Online}, {Online, Stopping}, {Stopping, Stopped},
		{Online, WaitingRestart}, {WaitingRestart, Launching}, {Launching, Errored}, {Errored, Launching}, {Online, Launching}}
	for _, tr := range ok {
		if !canMove(tr[0], tr[1]) {
			t.Errorf("%s -> %s refused", tr[0], tr[1])
		}
	}
	bad := [][2]Status{{Stopped, Online}, {Stopping, Online}, {Stopped, Stopping}, {WaitingRestart, Online}, {Errored, Online}}
	for _, tr := range bad {
		if canMove(tr[0], tr[1]) {
			t.Errorf("%s -> %s allowed", tr[0], tr[1])
		}
	}
}
