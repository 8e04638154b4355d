package js

// JavaScript value semantics on plain Go values.
//
// Ecosystem files are JavaScript (or JSON/YAML read as JavaScript values) and PM2
// normalizes them with JavaScript operators: truthiness, loose equality, isNaN,
// parseFloat, parseInt and Object.prototype.toString type tags. The option maps of
// this package hold JavaScript values with this Go representation:
//
//	null      -> nil
//	undefined -> key absent (in maps), nil (in slices, as JSON.stringify does)
//	string    -> string
//	number    -> float64 (NaN and ±Infinity become NonFinite once normalized)
//	boolean   -> bool
//	array     -> []any
//	object    -> map[string]any
//
// Values coming from Go callers (ints, []string, map[string]string, ...) are first
// converted to this representation by FromGo.

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tend-dev/tend/internal/lazyre"
)

// NonFinite is a JavaScript number that JSON cannot represent (NaN, Infinity,
// -Infinity). It marshals to JSON null, as JSON.stringify does, while keeping the
// value for Resolve (max_restarts: Infinity means "never give up").
type NonFinite float64

// MarshalJSON implements json.Marshaler: JSON.stringify writes null.
func (NonFinite) MarshalJSON() ([]byte, error) { return []byte("null"), nil }

// FrozenMap is an object whose properties cannot be changed: an ES module namespace
// object (what require() returns for an .mjs file) or an Object.freeze'd object.
// PM2's in-place edits of such an app are silently lost (sloppy mode), only its
// schema validation applies.
type FrozenMap map[string]any

// FromGo converts arbitrary Go values (as a CLI may build them) into the JavaScript
// value representation described above.
func FromGo(v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		return x
	case bool:
		return x
	case float64:
		return x
	case NonFinite:
		return float64(x)
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case int32:
		return float64(x)
	case uint:
		return float64(x)
	case uint64:
		return float64(x)
	case uint32:
		return float64(x)
	case float32:
		return float64(x)
	case time.Duration:
		return float64(x.Milliseconds())
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return x.String()
		}
		return f
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = FromGo(e)
		}
		return out
	case []string:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = e
		}
		return out
	case FrozenMap:
		out := make(FrozenMap, len(x))
		for k, e := range x {
			out[k] = FromGo(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = FromGo(e)
		}
		return out
	case map[string]string:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = e
		}
		return out
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = FromGo(rv.Index(i).Interface())
		}
		return out
	case reflect.Map:
		out := make(map[string]any, rv.Len())
		it := rv.MapRange()
		for it.Next() {
			out[fmt.Sprint(it.Key().Interface())] = FromGo(it.Value().Interface())
		}
		return out
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(rv.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return float64(rv.Uint())
	case reflect.Float32, reflect.Float64:
		return rv.Float()
	case reflect.Bool:
		return rv.Bool()
	case reflect.String:
		return rv.String()
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return nil
		}
		return FromGo(rv.Elem().Interface())
	}
	return fmt.Sprint(v)
}

// Finalize replaces NaN/±Infinity by NonFinite and -0 by 0 so that the value can be
// marshalled to JSON exactly as JSON.stringify would print it; frozen maps become
// plain maps.
func Finalize(v any) any {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return NonFinite(x)
		}
		if x == 0 {
			return float64(0)
		}
		return x
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = Finalize(e)
		}
		return out
	case FrozenMap:
		return Finalize(map[string]any(x))
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = Finalize(e)
		}
		return out
	}
	return v
}

// jsNumber returns the float64 of a number value (including NonFinite).
func NumberValue(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case NonFinite:
		return float64(x), true
	}
	return 0, false
}

// Truthy is JavaScript's ToBoolean.
func Truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case float64:
		return x != 0 && !math.IsNaN(x)
	case NonFinite:
		return !math.IsNaN(float64(x))
	}
	return true // objects and arrays, even empty ones
}

// TypeTag is Object.prototype.toString.call(v) for values that are present.
func TypeTag(v any) string {
	switch v.(type) {
	case nil:
		return "[object Null]"
	case string:
		return "[object String]"
	case float64, NonFinite:
		return "[object Number]"
	case bool:
		return "[object Boolean]"
	case []any:
		return "[object Array]"
	}
	return "[object Object]"
}

// IsWhitespace reports whether r is a JavaScript WhiteSpace or LineTerminator.
func IsWhitespace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff:
		return true
	}
	return r >= 0x2000 && r <= 0x200a
}

func Trim(s string) string       { return strings.TrimFunc(s, IsWhitespace) }
func jsTrimLeft(s string) string { return strings.TrimLeftFunc(s, IsWhitespace) }

var (
	decimalLiteral = lazyre.New(`^[+-]?(?:Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)`)
	radixLiteral   = lazyre.New(`^0(?:[xX][0-9a-fA-F]+|[oO][0-7]+|[bB][01]+)$`)
)

// StringToNumber is ToNumber applied to a string.
func StringToNumber(s string) float64 {
	s = Trim(s)
	if s == "" {
		return 0
	}
	if radixLiteral().MatchString(s) {
		base := map[byte]int{'x': 16, 'X': 16, 'o': 8, 'O': 8, 'b': 2, 'B': 2}[s[1]]
		n, err := strconv.ParseUint(s[2:], base, 64)
		if err != nil { // overflow: compute in floating point
			f := 0.0
			for _, c := range s[2:] {
				d, _ := strconv.ParseInt(string(c), base, 8)
				f = f*float64(base) + float64(d)
			}
			return f
		}
		return float64(n)
	}
	if m := decimalLiteral().FindString(s); m == s {
		return parseDecimal(m)
	}
	return math.NaN()
}

func parseDecimal(m string) float64 {
	switch strings.TrimLeft(m, "+") {
	case "Infinity":
		return math.Inf(1)
	case "-Infinity":
		return math.Inf(-1)
	}
	f, err := strconv.ParseFloat(m, 64)
	if err != nil {
		// ParseFloat reports range errors but still returns ±Inf or 0, as JS does.
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return f
		}
		return math.NaN()
	}
	return f
}

// ToNumber is JavaScript's ToNumber.
func ToNumber(v any) float64 {
	switch x := v.(type) {
	case nil:
		return 0
	case bool:
		if x {
			return 1
		}
		return 0
	case float64:
		return x
	case NonFinite:
		return float64(x)
	case string:
		return StringToNumber(x)
	case []any:
		return StringToNumber(ToString(x))
	}
	return math.NaN()
}

// ParseFloat is the global parseFloat.
func ParseFloat(v any) float64 {
	s := jsTrimLeft(ToString(v))
	m := decimalLiteral().FindString(s)
	if m == "" || m == "+" || m == "-" {
		return math.NaN()
	}
	return parseDecimal(m)
}

// ParseInt is the global parseInt with no radix.
func ParseInt(v any) float64 {
	s := jsTrimLeft(ToString(v))
	sign := 1.0
	if s != "" && (s[0] == '+' || s[0] == '-') {
		if s[0] == '-' {
			sign = -1
		}
		s = s[1:]
	}
	base := 10
	if len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		base = 16
		s = s[2:]
	}
	n := 0.0
	digits := 0
	for _, c := range s {
		var d int
		switch {
		case c >= '0' && c <= '9':
			d = int(c - '0')
		case c >= 'a' && c <= 'z':
			d = int(c-'a') + 10
		case c >= 'A' && c <= 'Z':
			d = int(c-'A') + 10
		default:
			d = 99
		}
		if d >= base {
			break
		}
		n = n*float64(base) + float64(d)
		digits++
	}
	if digits == 0 {
		return math.NaN()
	}
	return sign * n
}

// NumberToString is Number.prototype.toString() (radix 10).
func NumberToString(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		return "0"
	}
	neg := f < 0
	if neg {
		f = -f
	}
	// Shortest round-trip digits and decimal exponent.
	e := strconv.FormatFloat(f, 'e', -1, 64) // d.ddddde±XX
	mant, expStr, _ := strings.Cut(e, "e")
	digits := strings.Replace(mant, ".", "", 1)
	exp, _ := strconv.Atoi(expStr)
	k := len(digits)
	n := exp + 1 // position of the decimal point relative to the digits
	var s string
	switch {
	case k <= n && n <= 21:
		s = digits + strings.Repeat("0", n-k)
	case 0 < n && n <= 21:
		s = digits[:n] + "." + digits[n:]
	case -6 < n && n <= 0:
		s = "0." + strings.Repeat("0", -n) + digits
	default:
		sign := "+"
		if n-1 < 0 {
			sign = "-"
		}
		ex := n - 1
		if ex < 0 {
			ex = -ex
		}
		if k == 1 {
			s = digits + "e" + sign + strconv.Itoa(ex)
		} else {
			s = digits[:1] + "." + digits[1:] + "e" + sign + strconv.Itoa(ex)
		}
	}
	if neg {
		return "-" + s
	}
	return s
}

// ToString is JavaScript's String(v) (ToString for primitives, Array.prototype.join
// for arrays and "[object Object]" for other objects).
func ToString(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return x
	case bool:
		if x {
			return "true"
		}
		return "false"
	case float64:
		return NumberToString(x)
	case NonFinite:
		return NumberToString(float64(x))
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			if e != nil {
				parts[i] = ToString(e)
			}
		}
		return strings.Join(parts, ",")
	}
	return "[object Object]"
}

// LooseEquals is JavaScript's a == b where b is a primitive (string, number or bool).
func LooseEquals(a, b any) bool {
	if bb, ok := b.(bool); ok {
		if bb {
			b = 1.0
		} else {
			b = 0.0
		}
	}
	switch x := a.(type) {
	case nil:
		return false
	case []any, map[string]any, FrozenMap:
		return LooseEquals(ToString(x), b)
	case bool:
		n := 0.0
		if x {
			n = 1
		}
		return LooseEquals(n, b)
	case string:
		if bs, ok := b.(string); ok {
			return x == bs
		}
		return StringToNumber(x) == ToNumber(b)
	case float64, NonFinite:
		return ToNumber(x) == ToNumber(b)
	}
	return false
}

// JSONStringify is JSON.stringify for our value representation (keys sorted, which
// only differs from JavaScript in key order).
func JSONStringify(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(Finalize(v)); err != nil {
		return ToString(v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// SortedKeys returns the keys of m in sorted order (for deterministic iteration).
func SortedKeys[M ~map[string]V, V any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Describe names a JavaScript value and its type for an error: 5 (a
// number), "x" (a string).
func Describe(v any) string {
	switch x := v.(type) {
	case string:
		if len(x) > 40 {
			x = x[:40] + "…"
		}
		return fmt.Sprintf("%q (a string)", x)
	case float64:
		return ToString(x) + " (a number)"
	case bool:
		return fmt.Sprintf("%v (a boolean)", x)
	case nil:
		return "null"
	case Undefined:
		return "undefined"
	}
	return fmt.Sprintf("%T", v)
}
