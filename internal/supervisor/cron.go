package supervisor

import (
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// cronParser reads PM2's cron_restart syntax: 5 fields, or 6 with seconds
// first, and the @hourly-style descriptors.
var cronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// nextCron returns the first time after now that spec fires. An empty spec
// or "0" (PM2's way to turn it off) never fires.
func nextCron(spec string, now time.Time) (time.Time, bool) {
	spec = strings.TrimSpace(spec)
	if spec == "" || spec == "0" {
		return time.Time{}, false
	}
	sch, err := cronParser.Parse(spec)
	if err != nil {
		return time.Time{}, false
	}
	next := sch.Next(now)
	return next, !next.IsZero()
}

// ValidCron reports whether spec is a cron_restart tend can run.
func ValidCron(spec string) error {
	spec = strings.TrimSpace(spec)
	if spec == "" || spec == "0" {
		return nil
	}
	_, err := cronParser.Parse(spec)
	return err
}
