package display

import "testing"

func TestNeutralize(t *testing.T) {
	for _, c := range []struct {
		in, color, plain string
	}{
		{"plain text\tand a tab", "plain text\tand a tab", "plain text\tand a tab"},
		{"\x1b]0;title\x07x", `\x1b]0;title\x07x`, `\x1b]0;title\x07x`},
		{"\x1b[2J\x1b[H", `\x1b[2J\x1b[H`, `\x1b[2J\x1b[H`},
		{"a\rb", `a\rb`, `a\rb`},
		{"\x1b[31mred\x1b[0m", "\x1b[31mred\x1b[0m\x1b[0m", "red"},
		{"\x1b[1;38;5;196mx", "\x1b[1;38;5;196mx\x1b[0m", "x"},
		{"\x1b[31", `\x1b[31`, `\x1b[31`},
		{"c1 \u009b2J", `c1 \u009b2J`, `c1 \u009b2J`},
		{"bad \xff utf8, é ok", `bad \xff utf8, é ok`, `bad \xff utf8, é ok`},
		{"del\x7f nul\x00", `del\x7f nul\x00`, `del\x7f nul\x00`},
	} {
		if got := string(Neutralize(nil, c.in, true)); got != c.color {
			t.Errorf("Neutralize(%q, colour) = %q, want %q", c.in, got, c.color)
		}
		if got := string(Neutralize(nil, c.in, false)); got != c.plain {
			t.Errorf("Neutralize(%q) = %q, want %q", c.in, got, c.plain)
		}
		if NeedsNeutralizing(c.in) != (c.in != c.plain) && c.in != "bad \xff utf8, é ok" {
			t.Errorf("NeedsNeutralizing(%q) = %v", c.in, NeedsNeutralizing(c.in))
		}
	}
}
