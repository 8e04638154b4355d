package pm2

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tend-dev/tend/internal/cron"
)

// checkCron validates a cron_restart pattern as PM2 does before it accepts
// an app: by reading it with its cron library (package cron has the same
// dialect). A pattern PM2 refuses is refused with the library's reason and,
// where the user likely meant something PM2 does not take, what to write.
func checkCron(v any) error {
	pattern, ok := v.(string)
	if !ok {
		return fmt.Errorf("CronPattern: Pattern has to be of type string.")
	}
	if _, err := cron.Parse(pattern, time.Now()); err != nil {
		var ce *cron.Error
		if errors.As(err, &ce) {
			if hint := cronHint(pattern); hint != "" {
				return fmt.Errorf("%w (%s)", err, hint)
			}
		}
		return err
	}
	return nil
}

// cronHint names the pattern to write for a nickname or a Vixie/Quartz
// extension that PM2's cron library does not read.
func cronHint(pattern string) string {
	nick := map[string]string{
		"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
		"@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
	}
	p := strings.ToLower(strings.TrimSpace(pattern))
	if w, ok := nick[p]; ok {
		return fmt.Sprintf("PM2 reads no @nicknames: write '%s'", w)
	}
	if strings.ContainsAny(p, "#lw") {
		return "PM2's cron library reads L only alone in the day-of-month field, and no # or W"
	}
	return ""
}
