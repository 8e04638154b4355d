package supervisor

import (
	"time"

	"github.com/tend-dev/tend/internal/cron"
)

// cronSchedule is an app's cron_restart, read once per pattern as PM2 reads
// it once when it registers the job (`?` is the moment it was read).
type cronSchedule struct {
	spec  string
	sched *cron.Schedule
}

// next returns the first time after now that spec fires. An empty spec or
// "0" (PM2's way to turn it off) never fires, nor does a pattern that does
// not parse (the config loader has refused it already).
func (c *cronSchedule) next(spec string, now time.Time) (time.Time, bool) {
	if spec != c.spec || (c.sched == nil && !cron.Off(spec)) {
		c.spec, c.sched = spec, nil
		if !cron.Off(spec) {
			c.sched, _ = cron.Parse(spec, now)
		}
	}
	return c.sched.Next(now)
}

// nextCron is next for a pattern read now.
func nextCron(spec string, now time.Time) (time.Time, bool) {
	var c cronSchedule
	return c.next(spec, now)
}
