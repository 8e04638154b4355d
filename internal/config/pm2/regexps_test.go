package pm2

import (
	"regexp"
	"testing"
)

// The package's regexps compile on first use; this compiles every one, so a
// bad expression fails here rather than in the one code path that uses it.
func TestRegexpsCompile(t *testing.T) {
	for _, re := range []func() *regexp.Regexp{ExecModeShort, argToken} {
		re()
	}
	for _, o := range schema {
		if o.regex != nil {
			o.regex()
		}
		if o.pattern != nil {
			o.pattern()
		}
	}
}
