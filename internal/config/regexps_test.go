package config

import (
	"regexp"
	"testing"
)

// The package's regexps compile on first use; this compiles every one, so a
// bad expression fails here rather than in the one code path that uses it.
func TestRegexpsCompile(t *testing.T) {
	for _, re := range []func() *regexp.Regexp{logNameRe, bytesRe, durationRe} {
		re()
	}
}
