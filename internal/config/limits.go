package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tend-dev/tend/internal/config/js"
)

// Limits bound what one app may ask of the daemon. Every limit but the
// name's can be raised in $TEND_HOME/tend.json or the daemon's environment
// (see LimitSetting); zero fields mean the defaults.
type Limits struct {
	// MaxInstances is the most instances one app may have.
	MaxInstances int
	// MaxEnvSize is the most bytes an app's environment may take, counted
	// as exec passes it: "KEY=value\0" for each variable.
	MaxEnvSize int64
}

// Default limits. 256 instances is far above any CPU count an ecosystem file
// asks for with "max"; 1 MiB of environment is half of what Linux lets exec
// pass in all (arguments included), and no single variable may pass 128 KiB.
const (
	DefaultMaxInstances = 256
	DefaultMaxEnvSize   = 1 << 20
	// MaxNameLen is the longest app name, in bytes: the name is part of log
	// file names, which a file system caps at 255 bytes.
	MaxNameLen = 128
	// maxEnvVar is Linux's MAX_ARG_STRLEN: exec refuses a longer "KEY=value".
	maxEnvVar = 128 << 10
)

// WithDefaults fills the zero fields with the defaults.
func (l Limits) WithDefaults() Limits {
	if l.MaxInstances <= 0 {
		l.MaxInstances = DefaultMaxInstances
	}
	if l.MaxEnvSize <= 0 {
		l.MaxEnvSize = DefaultMaxEnvSize
	}
	return l
}

// LimitSetting tells where a limit is raised: the key in tend.json and the
// variable in the daemon's environment, keyed by the option it limits.
var LimitSetting = map[string][2]string{
	"instances": {"max_instances", "TEND_MAX_INSTANCES"},
	"env":       {"max_env_size", "TEND_MAX_ENV_SIZE"},
}

// ErrLimit is matched (errors.Is) by every LimitError.
var ErrLimit = errors.New("over a limit")

// ErrInvalidApp is matched (errors.Is) by every AppError: an app that cannot
// run as described (bad name, missing cwd, script or interpreter).
var ErrInvalidApp = errors.New("invalid app")

// LimitError: an app asks for more than a limit allows.
type LimitError struct {
	App    string
	Option string // instances, env
	Value  int64
	Limit  int64
	Detail string // what is over, when more than the option (a variable's name)
}

func (e *LimitError) Error() string {
	what := e.Option
	if e.Detail != "" {
		what += " (" + e.Detail + ")"
	}
	msg := fmt.Sprintf("app %q: %s is %s, more than the limit of %s", e.App, what, e.amount(e.Value), e.amount(e.Limit))
	if e.Option == "instances" {
		msg += " per app"
	}
	if s, ok := LimitSetting[e.Option]; ok {
		return msg + fmt.Sprintf(": lower %s, or raise %q in $TEND_HOME/tend.json (or %s in the daemon's environment) and restart the daemon with tend update",
			e.Option, s[0], s[1])
	}
	return msg + ": lower " + e.Option
}

func (e *LimitError) amount(n int64) string {
	if e.Option == "instances" {
		return strconv.FormatInt(n, 10)
	}
	return FormatBytes(n)
}

func (e *LimitError) Is(target error) bool { return target == ErrLimit }

// AppError: an app that cannot run as described. Option is the option to fix.
type AppError struct {
	App    string
	Option string // name, cwd, script, interpreter
	Msg    string // what is wrong and the next step
}

func (e *AppError) Error() string { return e.Msg }

func (e *AppError) Is(target error) bool { return target == ErrInvalidApp }

// FormatBytes writes n as "1 MiB", "512 KiB" or "100 bytes".
func FormatBytes(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// CheckName refuses an app name tend cannot use: empty, longer than
// MaxNameLen bytes, not UTF-8, or with a control character (NUL, newline,
// tab, escape…) or a slash. Spaces, dots, dashes and any other printable
// character are fine, as in PM2 ("API Server", "Server - Node.js").
func CheckName(name string) error {
	bad := func(why string) error {
		return &AppError{App: name, Option: "name", Msg: fmt.Sprintf("app name %q %s: change name in the ecosystem file (or --name)", name, why)}
	}
	switch {
	case name == "":
		return &AppError{Option: "name", Msg: "an app has no name and no script to take one from: set name"}
	case len(name) > MaxNameLen:
		return bad(fmt.Sprintf("is %d bytes long, more than the limit of %d", len(name), MaxNameLen))
	case !utf8.ValidString(name):
		return bad("is not valid UTF-8")
	}
	for _, r := range name {
		switch {
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			return bad(fmt.Sprintf("contains the control character %U, which would break logs, files and the terminal", r))
		case r == '/':
			return bad("contains a slash, which tend refuses in names (it would be taken for a path)")
		}
	}
	return nil
}

// Check refuses an app that breaks a limit or whose name tend cannot use.
// It looks at the options only, not at the file system (see CheckRunnable).
func (l Limits) Check(a *App) error {
	l = l.WithDefaults()
	if err := CheckName(a.Name); err != nil {
		return err
	}
	if a.Instances > l.MaxInstances {
		return &LimitError{App: a.Name, Option: "instances", Value: int64(a.Instances), Limit: int64(l.MaxInstances)}
	}
	return l.CheckEnv(a.Name, a.Env)
}

// CheckEnv refuses an environment larger than the limit, a variable exec
// would refuse (longer than 128 KiB), or one with a NUL byte or an "=" in
// its name.
func (l Limits) CheckEnv(app string, env map[string]string) error {
	l = l.WithDefaults()
	var total int64
	for k, v := range env {
		n := int64(len(k) + len(v) + 2)
		total += n
		if n > maxEnvVar {
			return &LimitError{App: app, Option: "env", Detail: "variable " + shortName(k), Value: n, Limit: maxEnvVar}
		}
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.IndexByte(v, 0) >= 0 {
			return &AppError{App: app, Option: "env", Msg: fmt.Sprintf("app %q: environment variable %q has an empty name, an \"=\" in its name or a NUL byte: exec cannot pass it; fix env", app, shortName(k))}
		}
	}
	if total > l.MaxEnvSize {
		return &LimitError{App: app, Option: "env", Value: total, Limit: l.MaxEnvSize}
	}
	return nil
}

func shortName(k string) string {
	if len(k) > 40 {
		return k[:40] + "…"
	}
	return k
}

// CheckRunnable checks on the file system what an app needs to start: its
// cwd is a directory, its script exists (or is a command on its PATH) and
// its interpreter can be found. Every problem comes as an *AppError naming
// the option and the fix; the error joins them.
func CheckRunnable(a *App) error {
	var errs []error
	add := func(opt, format string, args ...any) {
		errs = append(errs, &AppError{App: a.Name, Option: opt, Msg: fmt.Sprintf(format, args...)})
	}
	if a.Cwd == "" || !filepath.IsAbs(a.Cwd) {
		add("cwd", "working directory %q of app %s is not an absolute path: set cwd to one", a.Cwd, a.Name)
	} else if fi, err := os.Stat(a.Cwd); err != nil {
		add("cwd", "working directory %s does not exist (app %s): create it or fix cwd", a.Cwd, a.Name)
	} else if !fi.IsDir() {
		add("cwd", "working directory %s is not a directory (app %s): fix cwd", a.Cwd, a.Name)
	}
	path := a.Env["PATH"]
	if path == "" {
		path = os.Getenv("PATH")
	}
	switch {
	case a.ScriptPath == "":
		add("script", "app %s has no script: set script", a.Name)
	case strings.IndexByte(a.ScriptPath, 0) >= 0:
		add("script", "the script of app %s contains a NUL byte: fix script", a.Name)
	case filepath.IsAbs(a.ScriptPath):
		if fi, err := os.Stat(a.ScriptPath); err != nil {
			add("script", "Script not found: %s (app %s) — fix script in the ecosystem file or create it", a.ScriptPath, a.Name)
		} else if fi.IsDir() {
			add("script", "script %s of app %s is a directory: name a file in it", a.ScriptPath, a.Name)
		}
	case a.Interpreter == "" || a.Interpreter == "none":
		if js.LookPathIn(a.ScriptPath, path) == "" {
			add("script", "command %s not found in PATH (app %s): install it, or give its full path", a.ScriptPath, a.Name)
		}
	}
	if in := a.Interpreter; in != "" && in != "none" {
		found := false
		if strings.Contains(in, "/") {
			_, err := os.Stat(in)
			found = err == nil
		} else {
			found = js.LookPathIn(in, path) != ""
		}
		if !found {
			add("interpreter", "interpreter %s not found in PATH (app %s): install it, or set interpreter to its full path", in, a.Name)
		}
	}
	return errors.Join(errs...)
}
