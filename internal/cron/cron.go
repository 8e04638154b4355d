// Package cron reads and schedules cron patterns exactly as PM2 does.
//
// PM2 7.0.4 validates `cron_restart` and runs it with croner 4.1.97, whose
// dialect differs from Vixie cron and from most Go libraries:
//
//   - five fields, or six with seconds first; no @daily-style nicknames;
//   - month and weekday names (jan, mon, any case), 0 and 7 are Sunday;
//   - `L` alone in the day-of-month field is the last day of the month;
//   - `?` stands for the current value of its field when the pattern is read;
//   - a list (`,`) may hold only plain numbers (or `*`): a range or a step
//     inside a list is an error;
//   - `a/n` starts at a without the 1-based offset of days and months
//     (`1/2` in the day field is the 2nd, 4th, ...), a quirk kept as is;
//   - day of month AND day of week must both match (Vixie cron ORs them);
//   - a string with a colon after its first character is one point in time
//     (`2027-01-01T00:00:00`, local time, or UTC with a `Z`).
//
// The same parser serves config validation, the supervisor's restarts and,
// through ParseInterval, log rotation (which also takes a few nicknames).
// testdata/croner.json holds croner's own answers; the tests compare.
package cron

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Schedule is a parsed pattern. The zero value never fires.
type Schedule struct {
	sec, min [60]bool
	hour     [24]bool
	day      [31]bool // index 0 is the 1st
	month    [12]bool // index 0 is January
	dow      [8]bool  // 0 and 7 are Sunday
	lastDay  bool     // `L`: only the last day of the month
	once     time.Time
	every    time.Duration // @every, log rotation only
	fields   bool
}

// Error is a pattern croner refuses; Msg says why in croner's terms.
type Error struct {
	Pattern string
	Msg     string
}

func (e *Error) Error() string { return e.Msg }

func fail(pattern, format string, a ...any) error {
	return &Error{Pattern: pattern, Msg: fmt.Sprintf(format, a...)}
}

// Parse reads a pattern as croner 4.1.97 does. now gives the values that
// `?` stands for and the location of a one-off date without a `Z`.
func Parse(pattern string, now time.Time) (*Schedule, error) {
	if i := strings.Index(pattern, ":"); i > 0 {
		t, ok := parseISOLocal(pattern, now.Location())
		if !ok {
			return nil, fail(pattern, "CronDate: Provided string value for CronDate could not be parsed as date.")
		}
		return &Schedule{once: t}, nil
	}
	parts := strings.Fields(pattern)
	if len(parts) < 5 || len(parts) > 6 {
		return nil, fail(pattern, "CronPattern: invalid configuration format ('%s'), exactly five or six space separated parts required.", pattern)
	}
	if len(parts) == 5 {
		parts = append([]string{"0"}, parts...)
	}
	s := &Schedule{fields: true}
	if strings.ToUpper(parts[3]) == "L" {
		parts[3] = "28,29,30,31"
		s.lastDay = true
	}
	parts[4] = replaceNames(parts[4], monthNames, 1)
	parts[5] = replaceNames(parts[5], dayNames, 0)
	for i, v := range []int{now.Second(), now.Minute(), now.Hour(), now.Day(), int(now.Month()), int(now.Weekday())} {
		parts[i] = strings.Replace(parts[i], "?", strconv.Itoa(v), 1)
	}
	for i, p := range parts {
		if strings.IndexFunc(p, func(r rune) bool { return !strings.ContainsRune("/*0123456789,-", r) }) >= 0 {
			return nil, fail(pattern, "CronPattern: configuration entry %d (%s) contains illegal characters.", i, p)
		}
	}
	fields := []struct {
		name   string
		set    []bool
		offset int
	}{
		{"seconds", s.sec[:], 0}, {"minutes", s.min[:], 0}, {"hours", s.hour[:], 0},
		{"days", s.day[:], -1}, {"months", s.month[:], -1}, {"daysOfWeek", s.dow[:], 0},
	}
	for i, f := range fields {
		if err := fillField(pattern, f.name, parts[i], f.set, f.offset, false); err != nil {
			return nil, err
		}
	}
	if s.dow[7] {
		s.dow[0] = true
	}
	return s, nil
}

var (
	monthNames = []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}
	dayNames   = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}
)

// replaceNames turns names into numbers, case-insensitively, every
// occurrence, as croner does before it checks the characters.
func replaceNames(s string, names []string, first int) string {
	for i, n := range names {
		for {
			j := strings.Index(strings.ToLower(s), n)
			if j < 0 {
				break
			}
			s = s[:j] + strconv.Itoa(i+first) + s[j+len(n):]
		}
	}
	return s
}

// jsInt is JavaScript's parseInt on the characters a field may hold: the
// leading digits, or false where there are none.
func jsInt(s string) (int, bool) {
	n, i := 0, 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		if n < 1<<40 {
			n = n*10 + int(s[i]-'0')
		}
	}
	return n, i > 0
}

// fillField marks the values one field matches, with croner's checks.
func fillField(pattern, name, conf string, set []bool, offset int, inList bool) error {
	size := len(set)
	if conf == "*" {
		for i := range set {
			set[i] = true
		}
		return nil
	}
	if items := strings.Split(conf, ","); len(items) > 1 {
		for _, it := range items {
			if err := fillField(pattern, name, it, set, offset, true); err != nil {
				return err
			}
		}
		return nil
	}
	hasRange, hasStep := strings.Contains(conf, "-"), strings.Contains(conf, "/")
	if (hasRange || hasStep) && inList {
		return fail(pattern, "CronPattern: Range with stepping cannot coexist with ,")
	}
	switch {
	case hasRange && hasStep:
		lo, hi, step, ok := rangeStep(conf)
		if !ok {
			return fail(pattern, "CronPattern: Syntax error, illegal range with stepping: '%s'", conf)
		}
		lo, hi = lo+offset, hi+offset
		if step == 0 {
			return fail(pattern, "CronPattern: Syntax error, illegal stepping: 0")
		}
		if step > size {
			return fail(pattern, "CronPattern: Syntax error, steps cannot be greater than maximum value of part (%d)", size)
		}
		if lo < 0 || hi >= size {
			return fail(pattern, "CronPattern: Value out of range: '%s'", conf)
		}
		if lo > hi {
			return fail(pattern, "CronPattern: From value is larger than to value: '%s'", conf)
		}
		for i := lo; i <= hi; i += step {
			set[i] = true
		}
	case hasRange:
		a, b, _ := strings.Cut(conf, "-")
		if strings.Contains(b, "-") {
			return fail(pattern, "CronPattern: Syntax error, illegal range: '%s'", conf)
		}
		lo, okLo := jsInt(a)
		hi, okHi := jsInt(b)
		if !okLo {
			return fail(pattern, "CronPattern: Syntax error, illegal lower range (NaN)")
		}
		if !okHi {
			return fail(pattern, "CronPattern: Syntax error, illegal upper range (NaN)")
		}
		lo, hi = lo+offset, hi+offset
		if lo < 0 || hi >= size {
			return fail(pattern, "CronPattern: Value out of range: '%s'", conf)
		}
		if lo > hi {
			return fail(pattern, "CronPattern: From value is larger than to value: '%s'", conf)
		}
		for i := lo; i <= hi; i++ {
			set[i] = true
		}
	case hasStep:
		a, b, _ := strings.Cut(conf, "/")
		if strings.Contains(b, "/") {
			return fail(pattern, "CronPattern: Syntax error, illegal stepping: '%s'", conf)
		}
		start, okStart := 0, true
		if a != "*" {
			start, okStart = jsInt(a)
		}
		step, ok := jsInt(b)
		if !ok {
			return fail(pattern, "CronPattern: Syntax error, illegal stepping: (NaN)")
		}
		if step == 0 {
			return fail(pattern, "CronPattern: Syntax error, illegal stepping: 0")
		}
		if step > size {
			return fail(pattern, "CronPattern: Syntax error, steps cannot be greater than maximum value of part (%d)", size)
		}
		// croner starts a step at the number as written, without the
		// offset of days and months, and a start that is not a number
		// matches nothing.
		for i := start; okStart && i < size; i += step {
			set[i] = true
		}
	default:
		n, ok := jsInt(conf)
		if !ok {
			return nil // croner marks index NaN: nothing matches, no error
		}
		i := n + offset
		if i < 0 || i >= size {
			return fail(pattern, "CronPattern: %s value out of range: '%s'", name, conf)
		}
		set[i] = true
	}
	return nil
}

// rangeStep reads "a-b/n" with digits only, as croner's regular expression.
func rangeStep(conf string) (lo, hi, step int, ok bool) {
	r, n, _ := strings.Cut(conf, "/")
	a, b, found := strings.Cut(r, "-")
	for _, s := range []string{a, b, n} {
		if s == "" || strings.Trim(s, "0123456789") != "" {
			return 0, 0, 0, false
		}
	}
	lo, _ = jsInt(a)
	hi, _ = jsInt(b)
	step, _ = jsInt(n)
	return lo, hi, step, found
}

// parseISOLocal reads a date as croner does: six numbers separated by
// anything, local time unless a Z follows the first character, and each
// component must survive the round trip (no February 30th).
func parseISOLocal(s string, loc *time.Location) (time.Time, bool) {
	// croner splits on every non-digit, so empty pieces count; only the
	// first six must be numbers.
	pieces := splitNonDigits(s)
	if len(pieces) < 6 {
		return time.Time{}, false
	}
	v := make([]int, 6)
	for i := range v {
		n, ok := jsInt(pieces[i])
		if !ok {
			return time.Time{}, false
		}
		v[i] = n
	}
	if strings.Index(s, "Z") > 0 {
		loc = time.UTC
	}
	t := time.Date(v[0], time.Month(v[1]), v[2], v[3], v[4], v[5], 0, loc)
	if t.Year() != v[0] || int(t.Month()) != v[1] || t.Day() != v[2] || t.Hour() != v[3] || t.Minute() != v[4] || t.Second() != v[5] {
		return time.Time{}, false
	}
	return t, true
}

func splitNonDigits(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// lastYear is where croner gives up on a pattern that never matches.
const lastYear = 4000

// Next returns the first time strictly after t, in whole seconds, at which
// the schedule fires, in t's location; false if it never fires again.
func (s *Schedule) Next(t time.Time) (time.Time, bool) {
	if s == nil {
		return time.Time{}, false
	}
	if s.every > 0 {
		return t.Truncate(time.Second).Add(s.every), true
	}
	if !s.once.IsZero() {
		if s.once.After(t) {
			return s.once, true
		}
		return time.Time{}, false
	}
	if !s.fields {
		return time.Time{}, false
	}
	loc := t.Location()
	c := t.Truncate(time.Second).Add(time.Second)
	for c.Year() < lastYear {
		y, mo, d := c.Date()
		h, mi, sec := c.Clock()
		switch {
		case !s.month[mo-1]:
			c = time.Date(y, mo+1, 1, 0, 0, 0, 0, loc)
		case !s.dayMatches(y, mo, d, c.Weekday()):
			c = time.Date(y, mo, d+1, 0, 0, 0, 0, loc)
		case !s.hour[h]:
			c = time.Date(y, mo, d, h+1, 0, 0, 0, loc)
		case !s.min[mi]:
			c = time.Date(y, mo, d, h, mi+1, 0, 0, loc)
		case !s.sec[sec]:
			c = c.Add(time.Second)
		default:
			return c, true
		}
	}
	return time.Time{}, false
}

func (s *Schedule) dayMatches(y int, mo time.Month, d int, wd time.Weekday) bool {
	if !s.day[d-1] || !s.dow[wd] {
		return false
	}
	if s.lastDay {
		return time.Date(y, mo, d+1, 12, 0, 0, 0, time.UTC).Month() != mo
	}
	return true
}

// Off reports whether a cron_restart value turns the schedule off, as PM2
// reads it: empty, or "0".
func Off(spec string) bool {
	spec = strings.TrimSpace(spec)
	return spec == "" || spec == "0"
}

// ParseInterval reads a log rotation interval: any pattern Parse takes, and
// for rotation only (PM2 has no such option; pm2-logrotate takes a cron
// pattern) the nicknames @yearly, @annually, @monthly, @weekly, @daily,
// @midnight, @hourly and @every <duration>.
func ParseInterval(spec string, now time.Time) (*Schedule, error) {
	s := strings.TrimSpace(spec)
	if rest, ok := strings.CutPrefix(s, "@every "); ok {
		d, err := time.ParseDuration(strings.TrimSpace(rest))
		if err != nil || d < time.Second {
			return nil, fail(spec, "@every takes a duration of at least 1s, such as @every 6h: %q", rest)
		}
		return &Schedule{every: d}, nil
	}
	switch strings.ToLower(s) {
	case "@yearly", "@annually":
		s = "0 0 1 1 *"
	case "@monthly":
		s = "0 0 1 * *"
	case "@weekly":
		s = "0 0 * * 0"
	case "@daily", "@midnight":
		s = "0 0 * * *"
	case "@hourly":
		s = "0 * * * *"
	}
	return Parse(s, now)
}
