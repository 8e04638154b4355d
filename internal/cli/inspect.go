package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strings"
	"unicode/utf16"
)

// inspect renders JSON the way Node's util.inspect renders the parsed value
// with its defaults (breakLength 80, compact 3, no depth limit), which is
// what PM2 prints for prettylist and `pm2 id`: keys unquoted when they are
// identifiers, strings in single quotes, short objects and arrays on one
// line, long arrays of short items in columns. Key order is kept.
func inspect(data []byte) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeOrdered(dec)
	if err != nil {
		return "", err
	}
	ctx := &inspectCtx{breakLength: 80, compact: 3}
	return ctx.format(v, 0), nil
}

// jsValue is a JSON value that keeps the order of object keys.
type jsValue struct {
	kind byte // 'o' object, 'a' array, 's' string, 'n' number, 'b' bool, 'z' null
	keys []string
	vals []jsValue
	str  string
	b    bool
}

func decodeOrdered(dec *json.Decoder) (jsValue, error) {
	t, err := dec.Token()
	if err != nil {
		return jsValue{}, err
	}
	switch x := t.(type) {
	case json.Delim:
		v := jsValue{kind: 'a'}
		if x == '{' {
			v.kind = 'o'
		}
		for dec.More() {
			if v.kind == 'o' {
				k, err := dec.Token()
				if err != nil {
					return jsValue{}, err
				}
				v.keys = append(v.keys, k.(string))
			}
			e, err := decodeOrdered(dec)
			if err != nil {
				return jsValue{}, err
			}
			v.vals = append(v.vals, e)
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return jsValue{}, err
		}
		return v, nil
	case string:
		return jsValue{kind: 's', str: x}, nil
	case json.Number:
		return jsValue{kind: 'n', str: x.String()}, nil
	case bool:
		return jsValue{kind: 'b', b: x}, nil
	default:
		return jsValue{kind: 'z'}, nil
	}
}

type inspectCtx struct {
	breakLength, compact int
	indentation          int
	currentDepth         int
}

var identifier = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z_0-9]*$`)

// jsLen is a string's length as JavaScript counts it (UTF-16 code units).
func jsLen(s string) int { return len(utf16.Encode([]rune(s))) }

func (c *inspectCtx) format(v jsValue, depth int) string {
	switch v.kind {
	case 's':
		return quoteJS(v.str)
	case 'n':
		return v.str
	case 'b':
		if v.b {
			return "true"
		}
		return "false"
	case 'z':
		return "null"
	}
	if len(v.vals) == 0 {
		if v.kind == 'o' {
			return "{}"
		}
		return "[]"
	}
	depth++
	c.currentDepth = depth
	output := make([]string, 0, len(v.vals))
	for i, e := range v.vals {
		c.indentation += 2
		s := c.format(e, depth)
		c.indentation -= 2
		if v.kind == 'o' {
			k := v.keys[i]
			if !identifier.MatchString(k) {
				k = quoteJS(k)
			}
			s = k + ": " + s
		}
		output = append(output, s)
	}
	open, close := "{", "}"
	if v.kind == 'a' {
		open, close = "[", "]"
	}
	entries := len(output)
	if v.kind == 'a' && entries > 6 {
		output = c.group(output, v)
	}
	if c.currentDepth-depth < c.compact && entries == len(output) {
		start := len(output) + c.indentation + len(open) + 10
		if c.belowBreakLength(output, start) {
			joined := strings.Join(output, ", ")
			if !strings.Contains(joined, "\n") {
				return open + " " + joined + " " + close
			}
		}
	}
	ind := "\n" + strings.Repeat(" ", c.indentation)
	return open + ind + "  " + strings.Join(output, ","+ind+"  ") + ind + close
}

func (c *inspectCtx) belowBreakLength(output []string, start int) bool {
	total := len(output) + start
	if total+len(output) > c.breakLength {
		return false
	}
	for _, s := range output {
		total += jsLen(s)
		if total > c.breakLength {
			return false
		}
	}
	return true
}

// group puts the items of a long array of short values in columns.
func (c *inspectCtx) group(output []string, v jsValue) []string {
	const sep = 2
	total, maxLen := 0, 0
	lens := make([]int, len(output))
	for i, s := range output {
		lens[i] = jsLen(s)
		total += lens[i] + sep
		maxLen = max(maxLen, lens[i])
	}
	actualMax := maxLen + sep
	if !(actualMax*3+c.indentation < c.breakLength && (float64(total)/float64(actualMax) > 5 || maxLen <= 6)) {
		return output
	}
	averageBias := math.Sqrt(float64(actualMax) - float64(total)/float64(len(output)))
	biasedMax := math.Max(float64(actualMax)-3-averageBias, 1)
	columns := min(
		int(math.Round(math.Sqrt(2.5*biasedMax*float64(len(output)))/biasedMax)),
		(c.breakLength-c.indentation)/actualMax,
		c.compact*4,
		15,
	)
	if columns <= 1 {
		return output
	}
	var lineMax []int
	for i := 0; i < columns; i++ {
		l := 0
		for j := i; j < len(output); j += columns {
			l = max(l, lens[j])
		}
		lineMax = append(lineMax, l+sep)
	}
	padStart := true // numbers are aligned right
	for _, e := range v.vals {
		if e.kind != 'n' {
			padStart = false
			break
		}
	}
	var out []string
	for i := 0; i < len(output); i += columns {
		end := min(i+columns, len(output))
		var b strings.Builder
		j := i
		for ; j < end-1; j++ {
			cell := output[j] + ", "
			pad := strings.Repeat(" ", max(0, lineMax[j-i]-jsLen(cell)))
			if padStart {
				b.WriteString(pad + cell)
			} else {
				b.WriteString(cell + pad)
			}
		}
		if padStart {
			b.WriteString(strings.Repeat(" ", max(0, lineMax[j-i]-sep-lens[j])) + output[j])
		} else {
			b.WriteString(output[j])
		}
		out = append(out, b.String())
	}
	return out
}

// quoteJS quotes a string as util.inspect does: single quotes, or double
// quotes (then backticks) when the string holds single quotes.
func quoteJS(s string) string {
	q := byte('\'')
	if strings.Contains(s, "'") {
		if !strings.Contains(s, `"`) {
			q = '"'
		} else if !strings.Contains(s, "`") && !strings.Contains(s, "${") {
			q = '`'
		}
	}
	var b strings.Builder
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == rune(q) || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\f':
			b.WriteString(`\f`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(q)
	return b.String()
}
