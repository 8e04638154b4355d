package js

import (
	"fmt"
	"io"
	"time"

	"github.com/dop251/goja"
	"github.com/tend-dev/tend/internal/config/loaderr"
)

// Options are what a file is run with: the environment and folder of the
// process Node would be, and the file's source when the caller has read it.
type Options struct {
	Env     map[string]string
	Cwd     string
	NumCPU  int
	Console io.Writer // console.log and friends
	Argv    []string  // process.argv
	Timeout time.Duration
	// Source is the file's text (nil: read from disk).
	Source []byte
	// JSONExpr evaluates Source as one JavaScript expression, as PM2 reads
	// a .json ecosystem file.
	JSONExpr bool
}

// Run evaluates file as Node would (CommonJS, ES module, or a JSON
// expression) and returns what it exports as Go values (see FromGo's
// types) and process.env as the file left it. Errors are
// *loaderr.LoadError with the position when known.
func Run(file string, o Options) (exported any, env map[string]string, err error) {
	j := NewEnv(o.Env, o.Cwd, o.NumCPU, o.Console, o.Argv)
	if o.Source != nil {
		j.source[file] = o.Source
	}
	if o.Timeout > 0 {
		j.timeout = o.Timeout
	}
	err = j.WithTimeout(func() (err error) {
		var val goja.Value
		if o.JSONExpr {
			val, err = j.EvalJSONExpr(file, string(o.Source))
		} else {
			val, _, err = j.LoadFile(file)
		}
		if err != nil {
			return err
		}
		defer func() {
			if r := recover(); r != nil {
				err = &loaderr.LoadError{File: file, Err: fmt.Errorf("reading the exported value: %v", r)}
			}
		}()
		exported = j.Export(val, map[*goja.Object]bool{})
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return exported, j.env.Snapshot(), nil
}
