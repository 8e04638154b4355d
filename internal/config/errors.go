package config

import (
	"errors"
	"fmt"
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

// ErrScriptNotFound is matched (errors.Is) by every ScriptNotFoundError.
var ErrScriptNotFound = errors.New("script not found")

// ScriptNotFoundError: the script is neither a file (relative to the app's cwd) nor a
// command on PATH.
type ScriptNotFoundError struct {
	Path string // absolute path tried
	App  string
}

func (e *ScriptNotFoundError) Error() string {
	return fmt.Sprintf("Script not found: %s (app %q)", e.Path, e.App)
}

func (e *ScriptNotFoundError) Is(target error) bool { return target == ErrScriptNotFound }

// ErrEnvFileNotFound is matched (errors.Is) when an app's env_file cannot be read.
var ErrEnvFileNotFound = errors.New("env_file not found")

// EnvFileError: the env_file of an app cannot be read or parsed.
type EnvFileError struct {
	Path string
	App  string
	Err  error
}

func (e *EnvFileError) Error() string {
	return fmt.Sprintf("env_file %s (app %q): %v", e.Path, e.App, e.Err)
}

func (e *EnvFileError) Unwrap() error { return e.Err }

func (e *EnvFileError) Is(target error) bool { return target == ErrEnvFileNotFound }

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
