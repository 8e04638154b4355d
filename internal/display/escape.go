package display

import (
	"fmt"
	"unicode/utf8"
)

// Neutralize appends line to dst so that a terminal shows it and does
// nothing else: an app's output must not set the window title (OSC), clear
// the screen, move the cursor, rewrite the line with \r, ring the bell or
// answer back. ESC and the other C0 controls but tab, DEL, the C1 controls
// (U+0080–U+009F, which some terminals obey as ESC sequences) and bytes
// that are not UTF-8 are written visibly, Go style: \x1b, \r, \u009b.
//
// With keepColor, plain colour sequences (SGR: ESC [ digits and ; then m)
// are kept as they are — apps colour their logs and PM2 shows the colours —
// and a line that has one ends with a reset, so a colour never leaks into
// the next line. Without it they are dropped, the way NO_COLOR asks.
func Neutralize(dst []byte, line string, keepColor bool) []byte {
	coloured := false
	for i := 0; i < len(line); {
		c := line[i]
		if c == 0x1b {
			if n := sgrLen(line[i:]); n > 0 {
				if keepColor {
					dst = append(dst, line[i:i+n]...)
					coloured = true
				}
				i += n
				continue
			}
		}
		if c < 0x80 {
			switch {
			case c == '\t' || (c >= 0x20 && c != 0x7f):
				dst = append(dst, c)
			case c == '\r':
				dst = append(dst, `\r`...)
			default:
				dst = fmt.Appendf(dst, `\x%02x`, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(line[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = fmt.Appendf(dst, `\x%02x`, c)
		case r >= 0x80 && r < 0xa0:
			dst = fmt.Appendf(dst, `\u%04x`, r)
		default:
			dst = append(dst, line[i:i+size]...)
		}
		i += size
	}
	if coloured {
		dst = append(dst, "\x1b[0m"...)
	}
	return dst
}

// sgrLen is the length of the SGR sequence s starts with (ESC [ params m,
// params only digits, ; and :), or 0.
func sgrLen(s string) int {
	if len(s) < 3 || s[1] != '[' {
		return 0
	}
	for i := 2; i < len(s) && i < 64; i++ {
		switch c := s[i]; {
		case c == 'm':
			return i + 1
		case c >= '0' && c <= '9', c == ';', c == ':':
		default:
			return 0
		}
	}
	return 0
}

// NeedsNeutralizing reports whether Neutralize would change line (without
// colours kept): the common line of plain text is written as is.
func NeedsNeutralizing(line string) bool {
	for i := 0; i < len(line); i++ {
		if c := line[i]; (c < 0x20 && c != '\t') || c >= 0x7f {
			return true
		}
	}
	return false
}
