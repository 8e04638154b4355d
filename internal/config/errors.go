package config

import (
	"errors"
	"fmt"

	"github.com/tend-dev/tend/internal/config/loaderr"
)

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

// The errors of reading a file live in package loaderr.
type (
	LoadError = loaderr.LoadError
	Warning   = loaderr.Warning
)

// ErrUnsupportedModule is loaderr.ErrUnsupportedModule.
var ErrUnsupportedModule = loaderr.ErrUnsupportedModule
