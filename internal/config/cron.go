package config

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// checkCron validates a cron_restart pattern the way PM2's cron library (croner) does
// before accepting it: optional seconds, five or six fields, @nicknames, month and
// day names, L (last day of month), ranges, steps and lists.
func checkCron(v any) error {
	pattern, ok := v.(string)
	if !ok {
		return fmt.Errorf("CronPattern: Pattern has to be of type string.")
	}
	if strings.Contains(pattern, "@") {
		switch strings.ToLower(strings.TrimSpace(pattern)) {
		case "@yearly", "@annually":
			pattern = "0 0 1 1 *"
		case "@monthly":
			pattern = "0 0 1 * *"
		case "@weekly":
			pattern = "0 0 * * 0"
		case "@daily":
			pattern = "0 0 * * *"
		case "@hourly":
			pattern = "0 * * * *"
		}
	}
	parts := strings.Split(regexp.MustCompile(`\s+`).ReplaceAllString(pattern, " "), " ")
	if len(parts) < 5 || len(parts) > 6 {
		return fmt.Errorf("CronPattern: invalid configuration format ('%s'), exactly five or six space separated parts are required.", pattern)
	}
	if len(parts) == 5 {
		parts = append([]string{"0"}, parts...)
	}
	lastDOM := false
	if strings.Contains(parts[3], "L") {
		parts[3] = strings.Replace(parts[3], "L", "", 1)
		lastDOM = true
	}
	if len(parts[4]) >= 3 {
		parts[4] = replaceNames(parts[4], monthNames)
	}
	if len(parts[5]) >= 3 {
		parts[5] = regexp.MustCompile(`(?i)-sun`).ReplaceAllString(parts[5], "-7")
		parts[5] = replaceNames(parts[5], dayNames)
	}
	for i := range parts {
		parts[i] = strings.ReplaceAll(parts[i], "?", "*")
	}
	for i, p := range parts {
		bad := regexp.MustCompile(`[^/*0-9,-]+`)
		if i == 5 {
			bad = regexp.MustCompile(`[^/*0-9,\-#L]+`)
		}
		if bad.MatchString(p) {
			return fmt.Errorf("CronPattern: configuration entry %d (%s) contains illegal characters.", i, p)
		}
	}
	fields := []struct {
		name     string
		min, max int // valid values as written
	}{{"second", 0, 59}, {"minute", 0, 59}, {"hour", 0, 23}, {"day", 1, 31}, {"month", 1, 12}, {"dayOfWeek", 0, 7}}
	for i, f := range fields {
		if parts[i] == "" && !(i == 3 && lastDOM) {
			return fmt.Errorf("CronPattern: configuration entry %s (%s) is empty, check for trailing spaces.", f.name, parts[i])
		}
		if err := checkCronField(parts[i], f.name, f.min, f.max); err != nil {
			return err
		}
	}
	return nil
}

var (
	monthNames = []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}
	dayNames   = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}
)

func replaceNames(s string, names []string) string {
	for i, n := range names {
		num := i
		if len(names) == 12 {
			num = i + 1
		}
		s = regexp.MustCompile(`(?i)`+n).ReplaceAllString(s, strconv.Itoa(num))
	}
	return s
}

func checkCronField(conf, name string, lo, hi int) error {
	if conf == "*" || conf == "" {
		return nil
	}
	for _, item := range strings.Split(conf, ",") {
		if item == "" {
			continue
		}
		if strings.Contains(item, "#") {
			if name != "dayOfWeek" {
				return fmt.Errorf("CronPattern: nth (#) only allowed in day-of-week field")
			}
			item = strings.SplitN(item, "#", 2)[0]
		}
		if name == "dayOfWeek" {
			item = strings.TrimSuffix(item, "L")
		}
		rng, step, hasStep := strings.Cut(item, "/")
		if hasStep {
			n, err := strconv.Atoi(step)
			if err != nil {
				return fmt.Errorf("CronPattern: Syntax error, illegal stepping: (NaN)")
			}
			if n == 0 {
				return fmt.Errorf("CronPattern: Syntax error, illegal stepping: 0")
			}
			if n > hi-lo+1 {
				return fmt.Errorf("CronPattern: Syntax error, max steps for part is (%d)", hi-lo+1)
			}
			if rng == "*" {
				continue
			}
		}
		from, to, isRange := strings.Cut(rng, "-")
		a, err := strconv.Atoi(from)
		if err != nil {
			return fmt.Errorf("CronPattern: %s is not a number: '%s'", name, item)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(to); err != nil {
				return fmt.Errorf("CronPattern: Syntax error, illegal upper range (NaN)")
			}
			if a > b {
				return fmt.Errorf("CronPattern: From value is larger than to value: '%s'", item)
			}
		}
		for _, n := range []int{a, b} {
			if n < lo || n > hi {
				return fmt.Errorf("CronPattern: Invalid value for %s: %d", name, n)
			}
		}
	}
	return nil
}
