package js

import (
	"os"
	"strings"

	"github.com/dop251/goja"

	"github.com/tend-dev/tend/internal/lazyre"
)

// dotenvLine matches one assignment of a .env file as the npm dotenv package reads
// it: optional "export", a key of word characters, dots and dashes, "=" (or ": "),
// then a single-, double- or back-quoted value (which may span lines) or an unquoted
// value up to a "#" comment.
var dotenvLine = lazyre.New(`(?m)^\s*(?:export\s+)?([\w.-]+)(?:\s*=\s*?|:\s+?)(\s*'(?:\\'|[^'])*'|\s*"(?:\\"|[^"])*"|\s*` + "`(?:\\\\`|[^`])*`" + `|[^#\r\n]+)?\s*(?:#.*)?$`)

// ParseDotenv parses the content of a .env file (npm dotenv rules: no variable
// expansion; \n and \r are expanded inside double quotes only). Later assignments of
// a key win.
func ParseDotenv(src string) map[string]string {
	src = strings.ReplaceAll(src, "\r\n", "\n")
	src = strings.ReplaceAll(src, "\r", "\n")
	out := map[string]string{}
	for _, m := range dotenvLine().FindAllStringSubmatch(src, -1) {
		key := m[1]
		val := strings.TrimSpace(m[2])
		if len(val) >= 2 {
			q := val[0]
			if (q == '\'' || q == '"' || q == '`') && val[len(val)-1] == q {
				val = val[1 : len(val)-1]
				if q == '"' {
					val = strings.ReplaceAll(val, `\n`, "\n")
					val = strings.ReplaceAll(val, `\r`, "\r")
				}
			}
		}
		out[key] = val
	}
	return out
}

// dotenvConfig loads .env files into target (process.env by default) the way
// dotenv.config does; it returns the parsed values and the last read error.
func (j *Env) dotenvConfig(paths []string, override bool, target *goja.Object) (map[string]string, error) {
	if len(paths) == 0 {
		paths = []string{NodeResolve(j.cwd, ".env")}
	}
	parsedAll := map[string]string{}
	var lastErr error
	for _, p := range paths {
		if strings.HasPrefix(p, "~") {
			p = NodeJoin(j.homeDir(), p[1:])
		}
		b, err := j.readFile(j.Abs(p))
		if err != nil {
			lastErr = err
			continue
		}
		for k, v := range ParseDotenv(string(b)) {
			if _, exists := parsedAll[k]; !exists || override {
				parsedAll[k] = v
			}
		}
	}
	for _, k := range SortedKeys(parsedAll) {
		v := parsedAll[k]
		if target == nil {
			if _, exists := j.env.m[k]; !exists || override {
				j.env.Set(k, j.rt.ToValue(v))
			}
			continue
		}
		if own := target.GetOwnPropertyNames(); !contains(own, k) || override {
			_ = target.Set(k, v)
		}
	}
	return parsedAll, lastErr
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func (j *Env) dotenvModule() goja.Value {
	rt := j.rt
	m := rt.NewObject()
	config := func(call goja.FunctionCall) goja.Value {
		var paths []string
		override := false
		var target *goja.Object
		if o, ok := call.Argument(0).(*goja.Object); ok {
			if p := o.Get("path"); p != nil && !goja.IsUndefined(p) && !goja.IsNull(p) {
				if po, ok := p.(*goja.Object); ok && po.ClassName() == "Array" {
					for _, k := range po.Keys() {
						paths = append(paths, po.Get(k).String())
					}
				} else if ok {
					paths = append(paths, fileURLPath(p.String()))
				} else {
					paths = append(paths, p.String())
				}
			}
			if v := o.Get("override"); v != nil {
				override = v.ToBoolean()
			}
			if v := o.Get("processEnv"); v != nil && !goja.IsUndefined(v) && !goja.IsNull(v) {
				target, _ = v.(*goja.Object)
			}
		}
		parsed, err := j.dotenvConfig(paths, override, target)
		res := rt.NewObject()
		po := rt.NewObject()
		for _, k := range SortedKeys(parsed) {
			_ = po.Set(k, parsed[k])
		}
		_ = res.Set("parsed", po)
		if err != nil {
			e := rt.NewGoError(err)
			if os.IsNotExist(err) {
				_ = e.Set("code", "ENOENT")
			}
			_ = res.Set("error", e)
		}
		return res
	}
	_ = m.Set("config", config)
	_ = m.Set("configDotenv", config)
	_ = m.Set("parse", func(call goja.FunctionCall) goja.Value {
		o := rt.NewObject()
		parsed := ParseDotenv(call.Argument(0).String())
		for _, k := range SortedKeys(parsed) {
			_ = o.Set(k, parsed[k])
		}
		return o
	})
	_ = m.Set("populate", func(call goja.FunctionCall) goja.Value {
		target, _ := call.Argument(0).(*goja.Object)
		src, _ := call.Argument(1).(*goja.Object)
		override := false
		if o, ok := call.Argument(2).(*goja.Object); ok {
			if v := o.Get("override"); v != nil {
				override = v.ToBoolean()
			}
		}
		if target == nil || src == nil {
			return goja.Undefined()
		}
		for _, k := range src.Keys() {
			if !contains(target.Keys(), k) || override {
				_ = target.Set(k, src.Get(k))
			}
		}
		return goja.Undefined()
	})
	return m
}

// dotenvConfigFromEnv is require('dotenv/config'): options come from DOTENV_CONFIG_*
// variables.
func (j *Env) dotenvConfigFromEnv() {
	var paths []string
	if p := j.env.m["DOTENV_CONFIG_PATH"]; p != "" {
		paths = []string{p}
	}
	_, _ = j.dotenvConfig(paths, j.env.m["DOTENV_CONFIG_OVERRIDE"] == "true", nil)
}
