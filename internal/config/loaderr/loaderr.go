// Package loaderr holds the errors and warnings of reading an ecosystem
// file, shared by the JS runtime (package js), PM2's normalization
// (package pm2) and the loader (package config).
package loaderr

import (
	"errors"
	"strconv"
)

// LoadError is an error about an ecosystem file. When the position is known (syntax
// and evaluation errors) its text starts with "file:line:col: ", as compilers print
// it; otherwise it names the file and, when known, the app.
type LoadError struct {
	File string // path of the file (the required file for errors inside it)
	Line int    // 1-based; 0 when unknown
	Col  int    // 1-based; 0 when unknown
	App  string // app name (or "#index") when the error is about one app
	Err  error
}

func (e *LoadError) Error() string {
	prefix := e.File
	if e.Line > 0 {
		prefix += ":" + strconv.Itoa(e.Line)
		if e.Col > 0 {
			prefix += ":" + strconv.Itoa(e.Col)
		}
	}
	if e.App != "" {
		if prefix != "" {
			prefix += ": "
		}
		prefix += "app " + strconv.Quote(e.App)
	}
	if prefix == "" {
		return e.Err.Error()
	}
	return prefix + ": " + e.Err.Error()
}

func (e *LoadError) Unwrap() error { return e.Err }

// ErrUnsupportedModule is matched (errors.Is) when an ecosystem file requires a module
// tend cannot provide without Node.js.
var ErrUnsupportedModule = errors.New("unsupported module")

// Warning is a non-fatal remark about an ecosystem file, such as an unknown option.
type Warning struct {
	File    string `json:"file"`
	App     string `json:"app,omitempty"`
	Key     string `json:"key,omitempty"`
	Message string `json:"message"`
}

func (w Warning) String() string {
	s := w.File
	if w.App != "" {
		s += ": app " + strconv.Quote(w.App)
	}
	if s != "" {
		s += ": "
	}
	return s + w.Message
}
