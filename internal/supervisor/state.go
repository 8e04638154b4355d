// Package supervisor runs apps: one explicit state machine per process, a
// restart policy, process-group stop with escalation to SIGKILL, and log
// capture through package logs.
package supervisor

import (
	"fmt"
	"time"

	"github.com/tend-dev/tend/internal/api"
)

// Status is a process's state, named as PM2 names it.
type Status string

// The statuses.
const (
	Launching      Status = api.StatusLaunching
	Online         Status = api.StatusOnline
	Stopping       Status = api.StatusStopping
	Stopped        Status = api.StatusStopped
	Errored        Status = api.StatusErrored
	WaitingRestart Status = api.StatusWaitingRestart
	Waiting        Status = api.StatusWaiting
)

// transitions lists, for each status, the statuses it may move to.
var transitions = map[Status][]Status{
	Stopped:        {Launching, Waiting},
	Errored:        {Launching, Stopped, Waiting},
	Launching:      {Online, Errored, Stopping, Stopped},
	Online:         {Stopping, WaitingRestart, Launching, Stopped, Errored, Waiting},
	Stopping:       {Stopped},
	WaitingRestart: {Launching, Stopped, Errored, Waiting},
	Waiting:        {Launching, Stopped, Errored},
}

// ErrTransition reports an impossible state change.
type ErrTransition struct{ From, To Status }

func (e *ErrTransition) Error() string {
	return fmt.Sprintf("supervisor: no transition from %q to %q", e.From, e.To)
}

func canMove(from, to Status) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Policy is an app's restart policy, with PM2's meaning for each field.
type Policy struct {
	Autorestart   bool
	StopExitCodes []int
	MinUptime     time.Duration
	MaxRestarts   int
	RestartDelay  time.Duration
	ExpBackoff    time.Duration // first delay of the exponential backoff; 0 = off
}

// Crash-loop constants.
const (
	// StableAfter is how long a run must last to end a crash streak (unless
	// MinUptime is longer) and to reset the exponential backoff.
	StableAfter = 30 * time.Second
	// MaxBackoff caps the exponential backoff, as PM2 does.
	MaxBackoff = 15 * time.Second
)

// Counters are the restart bookkeeping a Policy updates on each exit.
type Counters struct {
	Unstable    int           // PM2's unstable_restarts: runs shorter than MinUptime
	Streak      int           // crashes since the last run that lasted StableAfter
	PrevBackoff time.Duration // last exponential backoff delay
}

// Exit describes how a run ended.
type Exit struct {
	Code   int    // exit status, or 128+signal
	Signal string // "" unless killed by a signal
	Uptime time.Duration
}

// Decision is what to do after an unrequested exit.
type Decision struct {
	Status  Status        // Stopped, Errored or WaitingRestart
	Restart bool          // start again after Delay
	Delay   time.Duration // wait before the next start
	Reason  string        // why it did not restart, for the log and describe
}

// OnExit applies the policy to an exit the user did not ask for.
//
// PM2's rule: a run shorter than min_uptime is unstable; at max_restarts
// unstable runs the app is errored. An app that always crashes just after
// min_uptime would loop for ever under that rule, so tend also counts a crash
// streak that only a run of max(min_uptime, 30 s) ends, and errors the app
// when the streak reaches max_restarts as well.
func (p Policy) OnExit(c *Counters, e Exit) Decision {
	if e.Uptime < p.MinUptime {
		c.Unstable++
	}
	stable := StableAfter
	if p.MinUptime > stable {
		stable = p.MinUptime
	}
	if e.Uptime >= stable {
		c.Streak = 1
	} else {
		c.Streak++
	}
	if e.Uptime >= StableAfter {
		c.PrevBackoff = 0
	}
	if !p.Autorestart {
		return Decision{Status: Stopped, Reason: "autorestart is off"}
	}
	for _, code := range p.StopExitCodes {
		if code == e.Code && e.Signal == "" {
			return Decision{Status: Stopped, Reason: fmt.Sprintf("exit code %d is in stop_exit_codes", code)}
		}
	}
	if c.Unstable >= p.MaxRestarts {
		c.Unstable, c.Streak = 0, 0
		return Decision{Status: Errored, Reason: fmt.Sprintf("too many unstable restarts (%d runs shorter than min_uptime %v)", p.MaxRestarts, p.MinUptime)}
	}
	if c.Streak >= p.MaxRestarts {
		c.Unstable, c.Streak = 0, 0
		return Decision{Status: Errored, Reason: fmt.Sprintf("crash loop: %d crashes in a row without a run of %v", p.MaxRestarts, stable)}
	}
	d := Decision{Status: WaitingRestart, Restart: true, Delay: p.RestartDelay}
	if p.ExpBackoff > 0 {
		if c.PrevBackoff == 0 {
			c.PrevBackoff = p.ExpBackoff
		} else {
			c.PrevBackoff = min(MaxBackoff, time.Duration(float64(c.PrevBackoff)*1.5))
		}
		d.Delay = c.PrevBackoff
	}
	return d
}
