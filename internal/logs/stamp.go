package logs

import (
	"strconv"
	"strings"
	"time"
)

// Stamper renders timestamps in a moment.js/dayjs format string, the syntax of
// PM2's log_date_format ("YYYY-MM-DD HH:mm:ss Z"). Text in [brackets] is literal.
type Stamper struct {
	parts []stampPart
}

type stampPart struct {
	tok string // "" for literal
	lit string
}

var stampTokens = []string{
	"YYYY", "YY", "MMMM", "MMM", "MM", "M", "DDDD", "DD", "Do", "D", "dddd", "ddd", "d",
	"HH", "H", "hh", "h", "mm", "m", "ss", "s", "SSS", "SS", "S", "A", "a", "ZZ", "Z", "X", "x",
}

// NewStamper compiles format. An empty format yields nil.
func NewStamper(format string) *Stamper {
	if format == "" {
		return nil
	}
	st := &Stamper{}
	lit := strings.Builder{}
	flush := func() {
		if lit.Len() > 0 {
			st.parts = append(st.parts, stampPart{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(format); {
		if format[i] == '[' {
			if j := strings.IndexByte(format[i:], ']'); j > 0 {
				lit.WriteString(format[i+1 : i+j])
				i += j + 1
				continue
			}
		}
		matched := false
		for _, t := range stampTokens {
			if strings.HasPrefix(format[i:], t) {
				flush()
				st.parts = append(st.parts, stampPart{tok: t})
				i += len(t)
				matched = true
				break
			}
		}
		if !matched {
			lit.WriteByte(format[i])
			i++
		}
	}
	flush()
	return st
}

var (
	monthNames = []string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
	dayNames   = []string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
)

func pad(b []byte, v, width int) []byte {
	s := strconv.Itoa(v)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// Append appends t rendered in the format to b.
func (st *Stamper) Append(b []byte, t time.Time) []byte {
	for _, p := range st.parts {
		if p.tok == "" {
			b = append(b, p.lit...)
			continue
		}
		switch p.tok {
		case "YYYY":
			b = pad(b, t.Year(), 4)
		case "YY":
			b = pad(b, t.Year()%100, 2)
		case "MMMM":
			b = append(b, monthNames[t.Month()-1]...)
		case "MMM":
			b = append(b, monthNames[t.Month()-1][:3]...)
		case "MM":
			b = pad(b, int(t.Month()), 2)
		case "M":
			b = pad(b, int(t.Month()), 1)
		case "DDDD":
			b = pad(b, t.YearDay(), 3)
		case "DD":
			b = pad(b, t.Day(), 2)
		case "Do":
			b = pad(b, t.Day(), 1)
			b = append(b, ordinal(t.Day())...)
		case "D":
			b = pad(b, t.Day(), 1)
		case "dddd":
			b = append(b, dayNames[t.Weekday()]...)
		case "ddd":
			b = append(b, dayNames[t.Weekday()][:3]...)
		case "d":
			b = pad(b, int(t.Weekday()), 1)
		case "HH":
			b = pad(b, t.Hour(), 2)
		case "H":
			b = pad(b, t.Hour(), 1)
		case "hh", "h":
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			b = pad(b, h, len(p.tok))
		case "mm":
			b = pad(b, t.Minute(), 2)
		case "m":
			b = pad(b, t.Minute(), 1)
		case "ss":
			b = pad(b, t.Second(), 2)
		case "s":
			b = pad(b, t.Second(), 1)
		case "SSS":
			b = pad(b, t.Nanosecond()/1e6, 3)
		case "SS":
			b = pad(b, t.Nanosecond()/1e7, 2)
		case "S":
			b = pad(b, t.Nanosecond()/1e8, 1)
		case "A", "a":
			s := "AM"
			if t.Hour() >= 12 {
				s = "PM"
			}
			if p.tok == "a" {
				s = strings.ToLower(s)
			}
			b = append(b, s...)
		case "Z", "ZZ":
			_, off := t.Zone()
			sign := byte('+')
			if off < 0 {
				sign, off = '-', -off
			}
			b = append(b, sign)
			b = pad(b, off/3600, 2)
			if p.tok == "Z" {
				b = append(b, ':')
			}
			b = pad(b, off%3600/60, 2)
		case "X":
			b = strconv.AppendInt(b, t.Unix(), 10)
		case "x":
			b = strconv.AppendInt(b, t.UnixMilli(), 10)
		}
	}
	return b
}

func ordinal(d int) string {
	switch {
	case d%100 >= 11 && d%100 <= 13:
		return "th"
	case d%10 == 1:
		return "st"
	case d%10 == 2:
		return "nd"
	case d%10 == 3:
		return "rd"
	}
	return "th"
}
