package pm2

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/tend-dev/tend/internal/config/js"
	"github.com/tend-dev/tend/internal/config/loaderr"
	"github.com/tend-dev/tend/internal/lazyre"
)

// normContext is what PM2's verifyConfs reads from its own process: environment
// variables (ASZ_MODE, PM2_DEEP_MONITORING, NODE_ENV, PATH) and the current user.
type normContext struct {
	getenv   func(string) string
	lookPath func(string) bool
	username string
	uid      int
}

func defaultNormContext() normContext {
	return normContext{
		getenv:   os.Getenv,
		lookPath: func(name string) bool { _, err := exec.LookPath(name); return err == nil },
		username: js.CurrentUsername(),
		uid:      os.Getuid(),
	}
}

func EnvContext(env map[string]string) normContext {
	c := defaultNormContext()
	c.getenv = func(k string) string { return env[k] }
	c.lookPath = func(name string) bool { return js.LookPathIn(name, env["PATH"]) != "" }
	return c
}

// Normalize is PM2's verifyConfs: it checks and normalizes app option maps keyed as in
// an ecosystem file (aliases, exec mode, instances, units, defaults, ...) and returns
// the maps PM2 would hand to the daemon. Unknown keys are dropped, as PM2 drops them,
// and reported as warnings. file is only used in warnings and errors.
//
// The input maps are not modified. Values may be any Go values (int, []string, ...);
// the result holds JavaScript-like values: float64, string, bool, nil, []any,
// map[string]any, and NonFinite for NaN/Infinity.
func Normalize(apps []map[string]any, file string) ([]map[string]any, []loaderr.Warning, error) {
	in := make([]any, len(apps))
	for i, a := range apps {
		in[i] = js.FromGo(a)
	}
	return NormalizeApps(in, file, defaultNormContext())
}

// NormalizeApps runs verifyConfs over app values (objects, frozen objects or, in broken
// files, anything else).
func NormalizeApps(apps []any, file string, nc normContext) ([]map[string]any, []loaderr.Warning, error) {
	out := make([]map[string]any, 0, len(apps))
	var warnings []loaderr.Warning
	for i, v := range apps {
		app, ws, err := verifyApp(v, i, file, nc)
		warnings = append(warnings, ws...)
		if err != nil {
			return nil, warnings, err
		}
		out = append(out, app)
	}
	return out, warnings, nil
}

var ExecModeShort = lazyre.New(`^(fork|cluster)$`)

func appLabel(app map[string]any, index int) string {
	if s, ok := app["name"].(string); ok && s != "" {
		return s
	}
	return fmt.Sprintf("#%d", index)
}

func verifyApp(v any, index int, file string, nc normContext) (map[string]any, []loaderr.Warning, error) {
	var app map[string]any
	frozen := false
	switch x := v.(type) {
	case map[string]any:
		app = make(map[string]any, len(x)+4)
		for k, e := range x {
			app[k] = e
		}
	case js.FrozenMap:
		app = make(map[string]any, len(x))
		for k, e := range x {
			app[k] = e
		}
		frozen = true
	case []any: // an array where an app object was expected: its indexes are keys
		app = make(map[string]any, len(x))
		for i, e := range x {
			app[strconv.Itoa(i)] = e
		}
	case nil:
		return nil, nil, &loaderr.LoadError{File: file, Err: fmt.Errorf("app #%d is null or undefined, expected an object", index)}
	default: // primitives: PM2 finds no script in them
		return nil, nil, &loaderr.LoadError{File: file, Err: fmt.Errorf("app #%d is %s, not an app: each app is an object such as { name: 'api', script: 'server.js' }", index, js.Describe(v))}
	}
	fail := func(format string, args ...any) error {
		return &loaderr.LoadError{File: file, App: appLabel(app, index), Err: fmt.Errorf(format, args...)}
	}
	for k, e := range app { // nested frozen objects behave as plain values from here
		app[k] = finalizeFrozen(e)
	}

	if em, ok := app["exec_mode"]; ok && js.Truthy(em) {
		s, isStr := em.(string)
		if !isStr {
			return nil, nil, fail("exec_mode must be a string, got %s", js.ToString(em))
		}
		if !frozen {
			app["exec_mode"] = ExecModeShort().ReplaceAllString(s, "${1}_mode")
		}
	}

	if !frozen {
		for _, k := range []string{"cmd", "command"} {
			if js.Truthy(app[k]) && !js.Truthy(app["script"]) {
				app["script"] = app[k]
				delete(app, k)
			}
		}
		if !js.Truthy(app["env"]) {
			app["env"] = map[string]any{}
		}
		// Name from the script file name, without its extension.
		if !js.Truthy(app["name"]) && js.Truthy(app["script"]) {
			s, ok := app["script"].(string)
			if !ok {
				return nil, nil, fail("script must be a string, got %s", js.TypeTag(app["script"]))
			}
			name := js.NodeBasename(s, "")
			if dot := strings.LastIndex(name, "."); dot > 0 {
				name = name[:dot]
			}
			app["name"] = name
		}
		if js.LooseEquals(app["execute_command"], true) {
			app["exec_mode"] = "fork"
			delete(app, "execute_command")
		}
		app["username"] = nc.username

		// A script with a space is a shell command line: bash -c "<script>".
		if s, ok := app["script"].(string); ok && strings.Contains(s, " ") {
			shell := ""
			if nc.lookPath("bash") {
				shell = "bash"
			} else if nc.lookPath("sh") {
				shell = "sh"
			}
			if shell != "" {
				app["script"] = shell
				app["args"] = []any{"-c", s}
				if !js.Truthy(app["name"]) {
					app["name"] = s
				}
			}
		}

		if js.Truthy(app["time"]) || nc.getenv("ASZ_MODE") != "" {
			app["log_date_format"] = "YYYY-MM-DDTHH:mm:ss"
		}

		if js.Truthy(app["uid"]) || js.Truthy(app["gid"]) || js.Truthy(app["user"]) {
			if err := resolveUser(app, nc); err != nil {
				return nil, nil, fail("%v", err)
			}
		}

		if nc.getenv("PM2_DEEP_MONITORING") != "" {
			app["deep_monitoring"] = true
		}
		if js.LooseEquals(app["automation"], false) {
			app["pmx"] = false
		}
		if js.Truthy(app["disable_trace"]) {
			app["trace"] = false
			delete(app, "disable_trace")
		}
	}
	var warnings []loaderr.Warning
	warn := func(key, msg string) {
		warnings = append(warnings, loaderr.Warning{File: file, App: appLabel(app, index), Key: key, Message: msg})
	}
	if !frozen {
		if app["trace"] == true || app["deep_monitoring"] == true {
			// PM2 would install OpenTelemetry here; tend has no tracing.
			app["trace"] = false
			delete(app, "deep_monitoring")
			warn("trace", "transaction tracing is not supported by tend; trace is set to false")
		}
		if js.LooseEquals(app["instances"], "max") {
			app["instances"] = 0.0
		}
		if s, ok := app["instances"].(string); ok {
			n := js.ParseInt(s)
			if !js.Truthy(n) {
				n = 0
			}
			app["instances"] = n
		}
		if _, set := app["merge_logs"]; !set && !js.LooseEquals(app["exec_mode"], "cluster_mode") && !js.Truthy(app["instances"]) {
			app["merge_logs"] = true
		}
	}

	if cr, ok := app["cron_restart"]; ok && js.Truthy(cr) {
		if !(js.LooseEquals(cr, 0.0) || js.LooseEquals(cr, "0")) {
			if err := checkCron(cr); err != nil {
				return nil, warnings, fail("Cron pattern error: %v", err)
			}
		}
	}

	res, errs, unknown := validateOptions(app)
	if len(errs) > 0 {
		return nil, warnings, &loaderr.LoadError{File: file, App: appLabel(app, index), Err: &ValidationError{Problems: errs}}
	}
	for _, k := range unknown {
		if target, ok := tables().target[k]; ok {
			_ = target // an alias already folded into its canonical key
			continue
		}
		switch k {
		case "cmd", "command", "user":
			continue
		case "default":
			if frozen { // an ES module's default export, reported by Load
				continue
			}
		}
		msg := fmt.Sprintf("unknown option %q is ignored (PM2 drops it too)", k)
		if s := suggestOption(k); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		warn(k, msg)
	}
	return js.Finalize(res).(map[string]any), warnings, nil
}

func finalizeFrozen(v any) any {
	switch x := v.(type) {
	case js.FrozenMap:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = finalizeFrozen(e)
		}
		return m
	case map[string]any:
		for k, e := range x {
			x[k] = finalizeFrozen(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = finalizeFrozen(e)
		}
		return x
	}
	return v
}

// ValidationError lists the schema violations of one app (PM2 refuses the file).
type ValidationError struct {
	Problems []string
}

func (e *ValidationError) Error() string { return strings.Join(e.Problems, ", ") }

// validateOptions is PM2's schema validation (Config.validateJSON): it keeps the schema
// keys (picked from their aliases), converts and checks them, fills the defaults and
// keeps env_* keys. It returns the new map, the violations and the keys it dropped.
func validateOptions(app map[string]any) (map[string]any, []string, []string) {
	res := map[string]any{}
	var errs []string
	consumed := map[string]bool{}
	tab := tables()
	for _, o := range schema {
		if o.regexKey {
			continue
		}
		val, present := app[o.key]
		consumed[o.key] = true
		// An alias is used only while the value so far is falsy; note that a falsy
		// value of the key itself (max_restarts: 0) is replaced by the alias value,
		// even when that is undefined.
		// tend's own options keep their falsy values (log_retain: 0 keeps
		// every rotated file, log_compress: false overrides tend.json).
		for _, a := range tab.aliases[o.key] {
			if !present || (!js.Truthy(val) && !tendOptions[o.key]) {
				val, present = app[a]
			}
		}
		if !present || val == nil {
			if o.def != nil {
				res[o.key] = o.def
			}
			continue
		}
		nv, ok := checkValue(o.key, val, o, &errs)
		if !ok {
			if o.def != nil {
				res[o.key] = o.def
			}
			continue
		}
		res[o.key] = nv
	}
	var unknown []string
	for _, k := range js.SortedKeys(app) {
		if consumed[k] {
			continue
		}
		if tab.envPattern.pattern().MatchString(k) {
			v := app[k]
			if nv, ok := checkValue(k, v, tab.envPattern, &errs); ok && js.Truthy(nv) {
				res[k] = v
			}
			continue
		}
		unknown = append(unknown, k)
	}
	return res, errs, unknown
}

// checkValue is PM2's per-value check (Config._valid): number parsing, type, regex,
// bounds, string-to-array splitting and unit conversion. ok is false when the value
// is rejected (the reason is appended to errs).
func checkValue(key string, value any, o *option, errs *[]string) (any, bool) {
	tags := make([]string, len(o.types))
	hasNumber := false
	for i, t := range o.types {
		tags[i] = "[object " + strings.ToUpper(t[:1]) + t[1:] + "]"
		if t == "number" {
			hasNumber = true
		}
	}
	tag := js.TypeTag(value)
	if tag != "[object Boolean]" && hasNumber && !isNaNValue(value) {
		value = js.ParseFloat(value)
		tag = "[object Number]"
	}
	found := false
	for _, t := range tags {
		if t == tag {
			found = true
		}
	}
	if !found {
		*errs = append(*errs, fmt.Sprintf("Expect %q to be a typeof %s, but now is %s", key, strings.Join(tags, " / "), tag))
		return nil, false
	}
	if s, ok := value.(string); ok && o.regex != nil && !o.regex().MatchString(s) {
		msg := o.desc
		if msg == "" {
			msg = "should match " + o.regex().String()
		}
		*errs = append(*errs, fmt.Sprintf("Verify %q with regex failed, %s", key, msg))
		return nil, false
	}
	if f, ok := value.(float64); ok && o.min != nil && f < *o.min {
		*errs = append(*errs, fmt.Sprintf("The minimum of %q is %s, but now is %s", key, js.NumberToString(*o.min), js.NumberToString(f)))
		return nil, false
	}
	if s, ok := value.(string); ok && len(tags) > 1 && tags[0] == "[object Array]" {
		value = SplitArgs(s)
	}
	if s, ok := value.(string); ok && o.unit != "" && len(s) >= 2 {
		value = UnitValue(s, o.unit)
	}
	return value, true
}

func isNaNValue(v any) bool {
	f := js.ToNumber(v)
	return f != f
}

// SplitArgs splits a command-line string as PM2 does: on whitespace, keeping
// quoted parts (and key="quoted value" parts) together and dropping the outer quotes.
func SplitArgs(s string) []any {
	out := []any{}
	for _, m := range argToken().FindAllString(s, -1) {
		if len(m) >= 2 && ((m[0] == '"' && m[len(m)-1] == '"') || (m[0] == '\'' && m[len(m)-1] == '\'')) {
			m = m[1 : len(m)-1]
		}
		if strings.TrimFunc(m, js.IsWhitespace) != "" {
			out = append(out, m)
		}
	}
	return out
}

var argToken = lazyre.New(`[^\s"'=]+="[^"]*"|[^\s"'=]+='[^']*'|"([^"]*)"|'([^']*)'|\S+`)

// UnitValue converts "300M" or "10s" with PM2's multipliers; any other last letter
// gives NaN, as in PM2.
func UnitValue(s, unit string) float64 {
	var mult float64
	last := s[len(s)-1]
	switch unit {
	case "bytes":
		mult = map[byte]float64{'G': 1 << 30, 'M': 1 << 20, 'K': 1 << 10}[last]
	case "time":
		mult = map[byte]float64{'h': 3600e3, 'm': 60e3, 's': 1e3}[last]
	}
	if mult == 0 {
		return js.ParseFloat("") // NaN
	}
	return js.ParseFloat(s[:len(s)-1]) * mult
}

// resolveUser implements PM2's uid/gid/user handling: only root may use them, the
// user (and group) must exist in /etc/passwd (/etc/group); the app's HOME becomes the
// user's home and uid/gid become numbers.
func resolveUser(app map[string]any, nc normContext) error {
	if nc.getenv("NODE_ENV") != "test" && nc.uid != 0 {
		return errors.New("To use UID and GID please run PM2 as root")
	}
	users, err := js.ReadColonFile("/etc/passwd")
	if err != nil {
		return err
	}
	who := app["uid"]
	if !js.Truthy(who) {
		who = app["user"]
	}
	u, ok := users[js.ToString(who)]
	if !ok || len(u) < 7 {
		return fmt.Errorf("User %s cannot be found", js.ToString(who))
	}
	if env, ok := app["env"].(map[string]any); ok {
		env["HOME"] = u[5]
	}
	app["uid"] = js.ParseInt(u[2])
	if js.Truthy(app["gid"]) {
		groups, err := js.ReadColonFile("/etc/group")
		if err != nil {
			return err
		}
		g, ok := groups[js.ToString(app["gid"])]
		if !ok || len(g) < 3 {
			return fmt.Errorf("Group %s cannot be found", js.ToString(app["gid"]))
		}
		app["gid"] = js.ParseInt(g[2])
	} else {
		app["gid"] = js.ParseInt(u[3])
	}
	return nil
}

// suggestOption returns the known option name closest to an unknown key (at most one
// edit away for short keys, two otherwise), or "".
func suggestOption(key string) string {
	maxD := 2
	if len(key) <= 5 {
		maxD = 1
	}
	best, bestD := "", maxD+1
	try := func(name string) {
		if d := editDistance(strings.ToLower(key), strings.ToLower(name)); d < bestD {
			best, bestD = name, d
		}
	}
	for _, o := range schema {
		if !o.regexKey {
			try(o.key)
		}
	}
	for _, a := range js.SortedKeys(tables().target) {
		try(a)
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
