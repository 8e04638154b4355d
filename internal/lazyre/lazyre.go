// Package lazyre compiles regular expressions on first use. Every tend
// command, `tend --help` included, runs the init of every package linked into
// the binary, so a package-level regexp.MustCompile costs every command its
// compile time; a lazy one costs only the code that matches with it.
package lazyre

import (
	"regexp"
	"sync"
)

// New returns a function that compiles expr on its first call and returns the
// same *regexp.Regexp from then on (safe for concurrent use). Like
// regexp.MustCompile it panics when expr does not compile, on every call.
func New(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}
