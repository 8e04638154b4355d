package js

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tend-dev/tend/internal/lazyre"
)

// ES module support. goja runs scripts, not modules, so an ES module is rewritten
// into a function body before it is compiled:
//
//   - import declarations are removed (replaced by spaces, keeping every other
//     position intact) and re-declared, in order, at the start of the function as
//     `const x = __tend_import("mod").default;` and so on;
//   - `export default <expr>` becomes `__esm.default=<expr>` (same length);
//   - `export` before a declaration is blanked and the declared names are copied to
//     the namespace object after the body has run;
//   - `export { a, b as c }` lists are blanked and copied the same way;
//   - `import.meta` becomes `__tend_meta`.
//
// Dynamic import() and top-level await are not supported.

type esmExport struct {
	exported string // name in the namespace
	local    string // expression giving the value, evaluated after the body
}

type esmTransform struct {
	body        string      // the rewritten source (same lines as the original)
	imports     []string    // hoisted declarations
	exports     []esmExport // resolved after parsing (see declOffsets)
	declOffsets []int       // byte offsets (in body) of exported declarations
	starFrom    []string    // export * from "mod"
	found       bool        // the source has import/export declarations
}

var identRe = lazyre.New(`^[\p{L}\p{Nl}$_][\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}$_\x{200c}\x{200d}]*`)

// jsScanner walks JavaScript source skipping comments, strings, template literals
// and regular expressions, reporting top-level identifiers.
type jsScanner struct {
	src      string
	pos      int
	last     byte   // last significant character, 0 at start
	lastWord string // last identifier or keyword
}

func isIdentStart(r rune) bool {
	return r == '$' || r == '_' || unicode.IsLetter(r)
}

func isIdentPart(r rune) bool {
	return isIdentStart(r) || unicode.IsDigit(r) || r == '\u200c' || r == '\u200d' || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Mc, r) || unicode.Is(unicode.Pc, r)
}

// skipSpace skips whitespace and comments from s.pos; it reports whether a newline
// was crossed.
func (s *jsScanner) skipSpace() bool {
	nl := false
	for s.pos < len(s.src) {
		c := s.src[s.pos]
		switch {
		case c == '\n':
			nl = true
			s.pos++
		case c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f':
			s.pos++
		case c == '/' && s.pos+1 < len(s.src) && s.src[s.pos+1] == '/':
			for s.pos < len(s.src) && s.src[s.pos] != '\n' {
				s.pos++
			}
		case c == '/' && s.pos+1 < len(s.src) && s.src[s.pos+1] == '*':
			end := strings.Index(s.src[s.pos+2:], "*/")
			if end < 0 {
				s.pos = len(s.src)
			} else {
				if strings.Contains(s.src[s.pos:s.pos+2+end], "\n") {
					nl = true
				}
				s.pos += end + 4
			}
		case c >= 0x80:
			r, size := utf8.DecodeRuneInString(s.src[s.pos:])
			if !IsWhitespace(r) {
				return nl
			}
			if r == 0x2028 || r == 0x2029 {
				nl = true
			}
			s.pos += size
		default:
			return nl
		}
	}
	return nl
}

// skipString skips a '...' or "..." literal starting at s.pos.
func (s *jsScanner) skipString() {
	q := s.src[s.pos]
	s.pos++
	for s.pos < len(s.src) {
		c := s.src[s.pos]
		if c == '\\' {
			s.pos = min(s.pos+2, len(s.src))
			continue
		}
		s.pos++
		if c == q || c == '\n' {
			return
		}
	}
}

// skipTemplate skips a template literal, including nested ${...} expressions.
func (s *jsScanner) skipTemplate() {
	s.pos++ // `
	for s.pos < len(s.src) {
		c := s.src[s.pos]
		switch {
		case c == '\\':
			s.pos = min(s.pos+2, len(s.src))
		case c == '`':
			s.pos++
			return
		case c == '$' && s.pos+1 < len(s.src) && s.src[s.pos+1] == '{':
			s.pos += 2
			s.skipBalanced('}')
		default:
			s.pos++
		}
	}
}

// skipBalanced skips code until the closing character matching an already consumed
// opening one.
func (s *jsScanner) skipBalanced(closing byte) {
	depth := 0
	for {
		s.skipSpace()
		if s.pos >= len(s.src) {
			return
		}
		c := s.src[s.pos]
		switch c {
		case '{', '(', '[':
			depth++
			s.pos++
			s.last = c
		case '}', ')', ']':
			s.pos++
			s.last = c
			if depth == 0 && c == closing {
				return
			}
			depth--
		default:
			s.token()
		}
	}
}

var regexAfterWord = map[string]bool{"return": true, "typeof": true, "case": true, "do": true, "else": true,
	"in": true, "instanceof": true, "new": true, "delete": true, "void": true, "throw": true, "yield": true, "await": true, "of": true}

// token consumes one token that is not a bracket and not whitespace; it returns the
// identifier when the token is one.
func (s *jsScanner) token() string {
	c := s.src[s.pos]
	switch {
	case c == '"' || c == '\'':
		s.skipString()
		s.last, s.lastWord = '"', ""
	case c == '`':
		s.skipTemplate()
		s.last, s.lastWord = '`', ""
	case c == '/':
		regex := true
		if s.lastWord != "" {
			regex = regexAfterWord[s.lastWord]
		} else if s.last != 0 && strings.IndexByte(")]}\"`0123456789", s.last) >= 0 {
			regex = false
		}
		if regex {
			s.pos++
			inClass := false
			for s.pos < len(s.src) {
				c := s.src[s.pos]
				s.pos++
				if c == '\\' {
					s.pos++
				} else if c == '[' {
					inClass = true
				} else if c == ']' {
					inClass = false
				} else if c == '/' && !inClass {
					break
				} else if c == '\n' {
					break
				}
			}
			for s.pos < len(s.src) && isIdentPart(rune(s.src[s.pos])) {
				s.pos++
			}
			s.last, s.lastWord = '"', ""
		} else {
			s.pos++
			s.last, s.lastWord = '/', ""
		}
	default:
		r, size := utf8.DecodeRuneInString(s.src[s.pos:])
		if isIdentStart(r) || r == '\\' {
			start := s.pos
			for s.pos < len(s.src) {
				r, size := utf8.DecodeRuneInString(s.src[s.pos:])
				if !isIdentPart(r) && r != '\\' {
					break
				}
				s.pos += size
			}
			w := s.src[start:s.pos]
			s.last, s.lastWord = 'a', w
			return w
		}
		if c >= '0' && c <= '9' || c == '.' && s.pos+1 < len(s.src) && s.src[s.pos+1] >= '0' && s.src[s.pos+1] <= '9' {
			for s.pos < len(s.src) && (isIdentPart(rune(s.src[s.pos])) || s.src[s.pos] == '.') {
				s.pos++
			}
			s.last, s.lastWord = '0', ""
			return ""
		}
		s.pos += size
		s.last, s.lastWord = c, ""
	}
	return ""
}

// readString reads a string literal at s.pos (after skipping space) and returns its
// value.
func (s *jsScanner) readString() (string, bool) {
	s.skipSpace()
	if s.pos >= len(s.src) || (s.src[s.pos] != '"' && s.src[s.pos] != '\'') {
		return "", false
	}
	start := s.pos
	s.skipString()
	lit := s.src[start:s.pos]
	if len(lit) < 2 || lit[len(lit)-1] != lit[0] {
		return "", false // unterminated: the caller reports what it expected
	}
	if lit[0] == '\'' {
		lit = `"` + strings.ReplaceAll(strings.ReplaceAll(lit[1:len(lit)-1], `\'`, `'`), `"`, `\"`) + `"`
	}
	v, err := strconv.Unquote(lit)
	if err != nil {
		return lit[1 : len(lit)-1], true
	}
	return v, true
}

// peekWord returns the identifier at s.pos (after space) without consuming it.
func (s *jsScanner) peekWord() string {
	save := s.pos
	s.skipSpace()
	m := identRe().FindString(s.src[s.pos:])
	s.pos = save
	return m
}

func (s *jsScanner) expectWord(w string) bool {
	save := s.pos
	s.skipSpace()
	if strings.HasPrefix(s.src[s.pos:], w) {
		s.pos += len(w)
		return true
	}
	s.pos = save
	return false
}

// endStatement consumes an optional import attributes clause and semicolon.
func (s *jsScanner) endStatement() {
	save := s.pos
	s.skipSpace()
	if w := s.peekWord(); w == "with" || w == "assert" {
		s.expectWord(w)
		s.skipSpace()
		if s.pos < len(s.src) && s.src[s.pos] == '{' {
			s.pos++
			s.skipBalanced('}')
		}
		save = s.pos
		s.skipSpace()
	}
	if s.pos < len(s.src) && s.src[s.pos] == ';' {
		s.pos++
		return
	}
	s.pos = save
}

// parseESM rewrites an ES module (see the comment at the top of this file).
func parseESM(src string) (*esmTransform, error) {
	t := &esmTransform{}
	out := []byte(src)
	blank := func(from, to int) {
		for i := from; i < to; i++ {
			if out[i] != '\n' && out[i] != '\r' {
				out[i] = ' '
			}
		}
	}
	s := &jsScanner{src: src}
	depth := 0
	modN := 0
	for {
		s.skipSpace()
		if s.pos >= len(s.src) {
			break
		}
		c := s.src[s.pos]
		if strings.IndexByte("{([", c) >= 0 {
			depth++
			s.pos++
			s.last, s.lastWord = c, ""
			continue
		}
		if strings.IndexByte("})]", c) >= 0 {
			depth--
			s.pos++
			s.last, s.lastWord = c, ""
			continue
		}
		start := s.pos
		prev := s.last
		w := s.token()
		if w == "import" && prev != '.' {
			save := s.pos
			s.skipSpace()
			if s.pos < len(s.src) && s.src[s.pos] == '.' { // import.meta
				s.pos++
				if s.peekWord() == "meta" {
					s.expectWord("meta")
					// same length: "import.meta" -> "__tend_meta"
					if s.pos-start == len("import.meta") {
						copy(out[start:], "__tend_meta")
					} else {
						blank(start, s.pos)
						copy(out[start:], "__tend_meta")
					}
				}
				s.last, s.lastWord = 'a', "meta"
				continue
			}
			if s.pos < len(s.src) && s.src[s.pos] == '(' {
				s.pos = save
				continue // dynamic import(): left as is (unsupported)
			}
			if depth != 0 {
				s.pos = save
				continue
			}
			t.found = true
			if err := t.parseImport(s, &modN); err != nil {
				return nil, fmt.Errorf("%s (import at offset %d)", err, start)
			}
			blank(start, s.pos)
			s.last, s.lastWord = ';', ""
			continue
		}
		if w == "export" && prev != '.' && depth == 0 {
			t.found = true
			kwEnd := s.pos
			next := s.peekWord()
			if next == "" {
				s.skipSpace()
			}
			switch {
			case next == "default":
				s.expectWord("default")
				after := s.peekWord()
				declared := ""
				if after == "function" || after == "class" || after == "async" {
					save := s.pos
					s.expectWord(after)
					if after == "async" {
						s.expectWord("function")
					}
					s.skipSpace()
					if s.pos < len(s.src) && s.src[s.pos] == '*' {
						s.pos++
					}
					declared = s.peekWord()
					s.pos = save
				}
				if declared != "" {
					blank(start, s.pos)
					t.exports = append(t.exports, esmExport{"default", declared})
				} else {
					// "export default" and "__esm.default=" have the same length.
					repl := "__esm.default="
					if s.pos-start == len(repl) {
						copy(out[start:], repl)
					} else {
						blank(start, s.pos)
						copy(out[start:], repl)
					}
				}
				s.last, s.lastWord = '=', ""
			case next == "" && s.pos < len(s.src) && s.src[s.pos] == '{':
				s.pos++
				list := s.src[s.pos:]
				end := strings.IndexByte(list, '}')
				if end < 0 {
					return nil, fmt.Errorf("unterminated export list")
				}
				names := list[:end]
				s.pos += end + 1
				from := ""
				if s.peekWord() == "from" {
					s.expectWord("from")
					var ok bool
					if from, ok = s.readString(); !ok {
						return nil, fmt.Errorf("expected a module name after from")
					}
				}
				s.endStatement()
				mod := ""
				if from != "" {
					mod = fmt.Sprintf("__tend_m%d", modN)
					modN++
					t.imports = append(t.imports, fmt.Sprintf("const %s = __tend_import(%s);", mod, strconv.Quote(from)))
				}
				for _, item := range strings.Split(names, ",") {
					f := strings.Fields(stripComments(item))
					if len(f) == 0 {
						continue
					}
					local, exported := f[0], f[0]
					if len(f) == 3 && f[1] == "as" {
						exported = strings.Trim(f[2], `"'`)
					}
					if mod != "" {
						local = mod + "[" + strconv.Quote(strings.Trim(local, `"'`)) + "]"
					}
					t.exports = append(t.exports, esmExport{exported, local})
				}
				blank(start, s.pos)
				s.last, s.lastWord = ';', ""
			case next == "" && s.pos < len(s.src) && s.src[s.pos] == '*':
				s.pos++
				ns := ""
				if s.peekWord() == "as" {
					s.expectWord("as")
					ns = s.peekWord()
					s.expectWord(ns)
				}
				if !s.expectWord("from") {
					return nil, fmt.Errorf("expected from after export *")
				}
				from, ok := s.readString()
				if !ok {
					return nil, fmt.Errorf("expected a module name after from")
				}
				s.endStatement()
				mod := fmt.Sprintf("__tend_m%d", modN)
				modN++
				t.imports = append(t.imports, fmt.Sprintf("const %s = __tend_import(%s);", mod, strconv.Quote(from)))
				if ns != "" {
					t.exports = append(t.exports, esmExport{ns, mod})
				} else {
					t.starFrom = append(t.starFrom, mod)
				}
				blank(start, s.pos)
				s.last, s.lastWord = ';', ""
			default:
				// export const/let/var/function/class/async function
				blank(start, kwEnd)
				s.skipSpace()
				t.declOffsets = append(t.declOffsets, s.pos)
				s.last, s.lastWord = ';', ""
			}
			continue
		}
	}
	t.body = string(out)
	return t, nil
}

func stripComments(s string) string {
	s = regexp.MustCompile(`/\*.*?\*/`).ReplaceAllString(s, " ")
	return regexp.MustCompile(`//[^\n]*`).ReplaceAllString(s, " ")
}

// parseImport parses an import declaration after the "import" keyword.
func (t *esmTransform) parseImport(s *jsScanner, modN *int) error {
	s.skipSpace()
	mod := fmt.Sprintf("__tend_m%d", *modN)
	*modN++
	if spec, ok := s.readString(); ok { // import "mod"
		s.endStatement()
		t.imports = append(t.imports, fmt.Sprintf("__tend_import(%s);", strconv.Quote(spec)))
		return nil
	}
	var decls []string
	for {
		s.skipSpace()
		if s.pos >= len(s.src) {
			return fmt.Errorf("unterminated import")
		}
		switch c := s.src[s.pos]; {
		case c == '*':
			s.pos++
			if !s.expectWord("as") {
				return fmt.Errorf("expected as after import *")
			}
			name := s.peekWord()
			s.expectWord(name)
			decls = append(decls, fmt.Sprintf("const %s = %s;", name, mod))
		case c == '{':
			s.pos++
			end := strings.IndexByte(s.src[s.pos:], '}')
			if end < 0 {
				return fmt.Errorf("unterminated import list")
			}
			for _, item := range strings.Split(stripComments(s.src[s.pos:s.pos+end]), ",") {
				f := strings.Fields(item)
				if len(f) == 0 {
					continue
				}
				imported, local := strings.Trim(f[0], `"'`), f[0]
				if len(f) == 3 && f[1] == "as" {
					local = f[2]
				}
				decls = append(decls, fmt.Sprintf("const %s = %s[%s];", local, mod, strconv.Quote(imported)))
			}
			s.pos += end + 1
		case c == ',':
			s.pos++
			continue
		default:
			w := s.peekWord()
			if w == "" {
				return fmt.Errorf("unexpected character %q in import", c)
			}
			s.expectWord(w)
			if w == "from" {
				spec, ok := s.readString()
				if !ok {
					return fmt.Errorf("expected a module name after from")
				}
				s.endStatement()
				t.imports = append(t.imports, fmt.Sprintf("const %s = __tend_import(%s);", mod, strconv.Quote(spec)))
				t.imports = append(t.imports, decls...)
				return nil
			}
			decls = append(decls, fmt.Sprintf("const %s = %s.default;", w, mod))
		}
	}
}
