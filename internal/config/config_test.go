package config

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Tests beyond the golden corpus: the corpus is a sample of real files, these pin
// down the rules themselves.

var testEnv = map[string]string{"PATH": "/usr/bin:/bin", "HOME": "/home/test"}

// writeFiles creates files (name -> content) in a new temporary directory.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func load(t *testing.T, dir, name string) (*Ecosystem, error) {
	t.Helper()
	return Load(filepath.Join(dir, name), LoadOptions{Env: testEnv, Cwd: dir, NumCPU: 4})
}

func mustLoad(t *testing.T, dir, name string) *Ecosystem {
	t.Helper()
	eco, err := load(t, dir, name)
	if err != nil {
		t.Fatalf("Load(%s): %v", name, err)
	}
	return eco
}

// asJSON renders a value as tend config --json would.
func asJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return string(b)
}

func normalizeOne(t *testing.T, app map[string]any) (map[string]any, []Warning) {
	t.Helper()
	apps, warns, err := Normalize([]map[string]any{app}, "test")
	if err != nil {
		t.Fatalf("Normalize(%v): %v", app, err)
	}
	return apps[0], warns
}

func TestParseUnits(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{"300M": 300 << 20, "1G": 1 << 30, "1024K": 1 << 20, "100": 100, "0": 0} {
		got, err := ParseBytes(in)
		if err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"1.5G", "300MB", "300m", "", "-1", "G"} {
		if _, err := ParseBytes(in); err == nil {
			t.Errorf("ParseBytes(%q): no error", in)
		}
	}
	for in, want := range map[string]time.Duration{"10s": 10 * time.Second, "1m": time.Minute, "1h": time.Hour, "500": 500 * time.Millisecond} {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"10ms", "1.5s", "5x", ""} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q): no error", in)
		}
	}
}

func TestNormalizeUnitsAndDefaults(t *testing.T) {
	t.Parallel()
	got, _ := normalizeOne(t, map[string]any{
		"script": "app.js", "max_memory_restart": "300M", "min_uptime": "10s", "kill_timeout": "3000",
		"listen_timeout": 8000, "instances": "max", "exec_mode": "cluster",
	})
	want := map[string]any{
		"script": "app.js", "name": "app", "env": map[string]any{},
		"max_memory_restart": float64(300 << 20), "min_uptime": 10000.0, "kill_timeout": 3000.0,
		"listen_timeout": 8000.0, "instances": 0.0, "exec_mode": "cluster_mode",
		// defaults PM2's schema adds
		"automation": true, "autorestart": true, "autostart": true, "instance_var": "NODE_APP_INSTANCE",
		"kill_retry_time": 100.0, "pmx": true, "treekill": true, "vizion": true, "windowsHide": true,
	}
	delete(got, "username")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %s\nwant %s", asJSON(t, got), asJSON(t, want))
	}
}

func TestNormalizeAliases(t *testing.T) {
	t.Parallel()
	got, warns := normalizeOne(t, map[string]any{
		"exec": "worker.py", "interpreter": "python3", "interpreter_args": "-u -X dev",
		"out": "out.log", "err_log": "err.log", "log": true, "pid": "app.pid",
		"combine_logs": true, "cron": "0 3 * * *", "user": nil,
	})
	// PM2 derives the name before it folds exec into script: no name here (Resolve
	// derives it later).
	if _, ok := got["name"]; ok {
		t.Errorf("name = %v, want absent", got["name"])
	}
	checks := map[string]any{
		"script": "worker.py", "exec_interpreter": "python3",
		"node_args": []any{"-u", "-X", "dev"}, "out_file": "out.log", "error_file": "err.log",
		"log_file": true, "pid_file": "app.pid", "merge_logs": true, "cron_restart": "0 3 * * *",
	}
	for k, v := range checks {
		if !reflect.DeepEqual(got[k], v) {
			t.Errorf("%s = %#v, want %#v", k, got[k], v)
		}
	}
	for _, k := range []string{"exec", "interpreter", "interpreter_args", "out", "err_log", "log", "pid", "combine_logs", "cron"} {
		if _, ok := got[k]; ok {
			t.Errorf("alias %s kept in the normalized map", k)
		}
	}
	if len(warns) != 0 {
		t.Errorf("aliases produced warnings: %v", warns)
	}

	// cmd / command, and camelCase spellings
	got, _ = normalizeOne(t, map[string]any{
		"cmd": "srv.js", "execInterpreter": "bun", "maxMemoryRestart": "1G", "minUptime": "2s",
		"killTimeout": 3000, "logDateFormat": "HH:mm", "instanceVar": "INSTANCE_ID", "nodeArgs": []any{"--inspect"},
		"mergeLogs": false, "ignoreWatch": "node_modules logs",
	})
	checks = map[string]any{
		"script": "srv.js", "exec_interpreter": "bun", "max_memory_restart": float64(1 << 30), "min_uptime": 2000.0,
		"kill_timeout": 3000.0, "log_date_format": "HH:mm", "instance_var": "INSTANCE_ID",
		"node_args": []any{"--inspect"}, "ignore_watch": []any{"node_modules", "logs"},
	}
	for k, v := range checks {
		if !reflect.DeepEqual(got[k], v) {
			t.Errorf("%s = %#v, want %#v", k, got[k], v)
		}
	}
	if _, ok := got["cmd"]; ok {
		t.Error("cmd kept")
	}
	got, _ = normalizeOne(t, map[string]any{"command": "node srv.js", "name": "x"})
	if got["script"] != "bash" || !reflect.DeepEqual(got["args"], []any{"-c", "node srv.js"}) {
		t.Errorf("command with a space: script %v args %v", got["script"], got["args"])
	}
}

func TestNormalizeQuirks(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   map[string]any
		key  string
		want any // nil: absent
	}{
		{map[string]any{"script": "a.js", "exec_mode": "fork"}, "exec_mode", "fork_mode"},
		{map[string]any{"script": "a.js", "execute_command": true}, "exec_mode", "fork"},
		{map[string]any{"script": "a.js", "instances": "4"}, "instances", 4.0},
		{map[string]any{"script": "a.js", "instances": "abc"}, "instances", 0.0},
		{map[string]any{"script": "a.js", "instances": []any{2}}, "instances", 2.0},
		// merge_logs defaults to true outside cluster mode when instances is unset/0
		{map[string]any{"script": "a.js"}, "merge_logs", true},
		{map[string]any{"script": "a.js", "instances": 2}, "merge_logs", nil},
		{map[string]any{"script": "a.js", "exec_mode": "cluster"}, "merge_logs", nil},
		// PM2 turns a one-element stop_exit_codes array into a number
		{map[string]any{"script": "a.js", "stop_exit_codes": []any{0}}, "stop_exit_codes", 0.0},
		{map[string]any{"script": "a.js", "stop_exit_codes": []any{0, 2}}, "stop_exit_codes", []any{0.0, 2.0}},
		// a falsy value of a key with an alias is replaced by the (absent) alias
		{map[string]any{"script": "a.js", "max_restarts": 0}, "max_restarts", nil},
		// ... but tend's own options keep theirs
		{map[string]any{"script": "a.js", "log_retain": 0}, "log_retain", 0.0},
		{map[string]any{"script": "a.js", "log_compress": false}, "log_compress", false},
		{map[string]any{"script": "a.js", "autorestart": false}, "autorestart", false},
		{map[string]any{"script": "a.js", "time": true}, "log_date_format", "YYYY-MM-DDTHH:mm:ss"},
		{map[string]any{"script": "a.js", "automation": false}, "pmx", false},
		{map[string]any{"script": "a.js", "args": "--port 80 --name 'a b'"}, "args", []any{"--port", "80", "--name", "a b"}},
		{map[string]any{"script": "a.js", "watch": "src"}, "watch", "src"},
		{map[string]any{"script": "a.js", "env_production": map[string]any{"A": "1"}}, "env_production", map[string]any{"A": "1"}},
		{map[string]any{"script": "a.js", "env_file": ".env"}, "env_file", ".env"},
		{map[string]any{"script": "./bin/my.server.js"}, "name", "my.server"},
		{map[string]any{"script": "a.js", "max_restarts": math.Inf(1)}, "max_restarts", NonFinite(math.Inf(1))},
	}
	for _, c := range cases {
		got, _ := normalizeOne(t, c.in)
		v, ok := got[c.key]
		if c.want == nil {
			if ok {
				t.Errorf("%v: %s = %#v, want absent", c.in, c.key, v)
			}
			continue
		}
		if !reflect.DeepEqual(v, c.want) {
			t.Errorf("%v: %s = %#v, want %#v", c.in, c.key, v, c.want)
		}
	}
	// NaN/Infinity print as null, as JSON.stringify does.
	got, _ := normalizeOne(t, map[string]any{"script": "a.js", "max_restarts": math.Inf(1), "port": ""})
	if s := asJSON(t, got); !strings.Contains(s, `"max_restarts":null`) || !strings.Contains(s, `"port":null`) {
		t.Errorf("non-finite numbers: %s", s)
	}
}

func TestNormalizeScriptWithSpaces(t *testing.T) {
	t.Parallel()
	got, _ := normalizeOne(t, map[string]any{"script": "python app.py --port 80"})
	if got["script"] != "bash" || !reflect.DeepEqual(got["args"], []any{"-c", "python app.py --port 80"}) {
		t.Errorf("script %v args %v", got["script"], got["args"])
	}
	// PM2 derives the name before rewriting the script: basename up to the last dot.
	if got["name"] != "python app" {
		t.Errorf("name = %v", got["name"])
	}
	got, _ = normalizeOne(t, map[string]any{"script": "npm run start", "name": "web", "args": []any{"ignored"}})
	if got["name"] != "web" || !reflect.DeepEqual(got["args"], []any{"-c", "npm run start"}) {
		t.Errorf("name %v args %v", got["name"], got["args"])
	}
}

func TestNormalizeUnknownKeysAndErrors(t *testing.T) {
	t.Parallel()
	got, warns := normalizeOne(t, map[string]any{"script": "a.js", "name": "api", "foo": 1, "env_staging": map[string]any{}})
	if _, ok := got["foo"]; ok {
		t.Error("unknown key kept (PM2 drops it)")
	}
	if len(warns) != 1 || warns[0].Key != "foo" || warns[0].App != "api" || !strings.Contains(warns[0].Message, "foo") {
		t.Errorf("warnings = %+v", warns)
	}
	_, warns = normalizeOne(t, map[string]any{"script": "a.js", "instance": 2})
	if len(warns) != 1 || !strings.Contains(warns[0].Message, `did you mean "instances"?`) {
		t.Errorf("suggestion: %+v", warns)
	}
	bad := []map[string]any{
		{"script": "a.js", "max_memory_restart": "1.5G"},
		{"script": "a.js", "min_uptime": 50},
		{"script": "a.js", "instances": true},
		{"script": "a.js", "exec_mode": "cluster_fork"},
		{"script": "a.js", "env_production": 5},
		{"script": "a.js", "cron_restart": "* * *"},
		{"script": "a.js", "cron_restart": "61 * * * *"},
		{"script": "a.js", "cron_restart": "@daily"},
		{"script": "a.js", "cron_restart": "0 0 * * MON#1"},
		{"script": "a.js", "cron_restart": "1-5,10 * * * *"},
	}
	for _, app := range bad {
		_, _, err := Normalize([]map[string]any{app}, "eco.json")
		var le *LoadError
		if !errors.As(err, &le) {
			t.Errorf("%v: error %v, want a LoadError", app, err)
			continue
		}
		if le.App != "a" || !strings.HasPrefix(err.Error(), `eco.json: app "a": `) {
			t.Errorf("%v: %v", app, err)
		}
	}
	// PM2's cron library reads no nicknames: the error says what to write
	_, _, err := Normalize([]map[string]any{{"name": "a", "script": "a.js", "cron_restart": "@daily"}}, "eco.json")
	if err == nil || !strings.Contains(err.Error(), "Cron pattern error") || !strings.Contains(err.Error(), "write '0 0 * * *'") {
		t.Errorf("@daily: %v", err)
	}
	// valid cron patterns
	for _, c := range []any{"0 0 * * *", "*/5 * * * * *", "0 0 1-15/2 jan-mar mon-fri", "0 0 L * *", "2027-01-01T00:00:00", 0} {
		if _, _, err := Normalize([]map[string]any{{"script": "a.js", "cron_restart": c}}, "x"); err != nil {
			t.Errorf("cron %v: %v", c, err)
		}
	}
}

func TestLoadFormats(t *testing.T) {
	t.Parallel()
	dir := writeFiles(t, map[string]string{
		"process.json": `{
  // comments, unquoted keys and trailing commas: PM2 reads JSON as JavaScript
  apps: [{ name: "j", script: "a.js", env: { HOME_DIR: process.env.HOME, }, },],
}`,
		"pm2.yml": `
defaults: &d
  instances: 2
  exec_mode: cluster
apps:
  - <<: *d
    name: y
    script: a.js
    max_memory_restart: 300M
    watch: [src, lib]
    env:
      PORT: 3000
      DEBUG: yes
`,
		"one.config.js":  `module.exports = { name: "single", script: "a.js" }`,
		"arr.config.cjs": `module.exports = [{ script: "a.js" }, { script: "b.js" }]`,
		"pm2key.json":    `{"pm2": [{"name": "p", "script": "a.js"}]}`,
		"exp.config.js":  `exports.apps = [{ script: "x.js" }]; exports.deploy = { production: { host: "h" } };`,
	})
	eco := mustLoad(t, dir, "process.json")
	if eco.Apps[0]["name"] != "j" || !reflect.DeepEqual(eco.Apps[0]["env"], map[string]any{"HOME_DIR": "/home/test"}) {
		t.Errorf("json: %s", asJSON(t, eco.Apps))
	}
	if eco.Path != filepath.Join(dir, "process.json") {
		t.Errorf("Path = %s", eco.Path)
	}
	eco = mustLoad(t, dir, "pm2.yml")
	a := eco.Apps[0]
	if a["instances"] != 2.0 || a["exec_mode"] != "cluster_mode" || a["max_memory_restart"] != float64(300<<20) ||
		!reflect.DeepEqual(a["watch"], []any{"src", "lib"}) ||
		!reflect.DeepEqual(a["env"], map[string]any{"PORT": 3000.0, "DEBUG": "yes"}) {
		t.Errorf("yaml: %s", asJSON(t, a))
	}
	if eco := mustLoad(t, dir, "one.config.js"); len(eco.Apps) != 1 || eco.Apps[0]["name"] != "single" {
		t.Errorf("single object: %s", asJSON(t, eco.Apps))
	}
	if eco := mustLoad(t, dir, "arr.config.cjs"); len(eco.Apps) != 2 || eco.Apps[1]["name"] != "b" {
		t.Errorf("array: %s", asJSON(t, eco.Apps))
	}
	if eco := mustLoad(t, dir, "pm2key.json"); len(eco.Apps) != 1 || eco.Apps[0]["name"] != "p" {
		t.Errorf("pm2 key: %s", asJSON(t, eco.Apps))
	}
	eco = mustLoad(t, dir, "exp.config.js")
	if len(eco.Apps) != 1 || eco.Apps[0]["name"] != "x" || eco.Deploy == nil {
		t.Errorf("exports.apps: %s deploy %v", asJSON(t, eco.Apps), eco.Deploy)
	}
	if ConfigFormat("ecosystem.config.js") != FormatJS || ConfigFormat("app.js") != "" || ConfigFormat("pm2.json") != FormatJSON ||
		ConfigFormat("x.config.mjs") != FormatMJS || ConfigFormat("e.yaml") != FormatYAML {
		t.Error("ConfigFormat")
	}
}

func TestLoadJavaScript(t *testing.T) {
	t.Parallel()
	dir := writeFiles(t, map[string]string{
		"ecosystem.config.js": `#!/usr/bin/env node
const path = require('path');
const os = require('node:os');
const fs = require('fs');
require('dotenv').config();
const shared = require('./shared');          // shared.js
const ports = require('./conf/ports.json');
const hasLogs = fs.existsSync(path.join(__dirname, 'logs'));
module.exports = {
  apps: [{
    name: process.env.APP_NAME || 'fallback',
    script: path.join(__dirname, 'srv.js'),
    cwd: process.cwd(),
    instances: os.cpus().length,
    env: { PORT: ports.api, SHARED: shared.value, HAS_LOGS: hasLogs, PLATFORM: process.platform,
           FROM_FILE: fs.readFileSync(__dirname + '/conf/value.txt', 'utf8').trim(), MISSING: process.env.NOPE },
  }],
};`,
		".env":            "APP_NAME=from-dotenv\n",
		"shared.js":       "exports.value = 'shared-' + require('path').basename(__filename);",
		"conf/ports.json": `{"api": 8080}`,
		"conf/value.txt":  "  hello \n",
		"esm.config.mjs": `import 'dotenv/config';
import path from 'path';
import { fileURLToPath } from 'url';
const __dirname = path.dirname(fileURLToPath(import.meta.url));
export const apps = [{ name: process.env.APP_NAME, script: path.join(__dirname, 'm.js') }];
`,
		"default.config.mjs": `export default { apps: [{ name: "lost", script: "a.js" }] }`,
		"esmjs.config.js":    `import os from 'os'; export const apps = [{ script: 'e.js', instances: os.cpus().length }];`,
		"await.config.mjs":   "const n = await Promise.resolve(3);\nexport const apps = [{ script: 'w.js', instances: n }];\n",
		"reject.config.mjs":  "\nawait Promise.reject(new Error('nope'));\nexport const apps = [];\n",
		"loop.config.js":     "while (true) {}",
		"tricky.config.mjs": "// export default nothing\n/* import x from 'y' */\n" +
			"const re = /[\"'`]/g, s = `a ${ {a: \"}\"}.a } b`, d = 4 / 2 / 1;\n" +
			"const obj = { import: 1, export: 2 }; obj.import; obj.export;\n" +
			"function f() { return { export: 1 } }\n" +
			"export const apps = [{ script: 'a.js', env: { RE: re.source, S: s, D: d, O: obj.import + obj.export + f().export } }];\n",
		"mod.mjs": "export const a = 1;\nlet b = 2;\nexport function f() { return 1 }\nexport { b as bee };\nexport default 5;\nconst hidden = 3;\nexport let [c, { d }] = [3, { d: 4 }];\n",
		"ns.config.js": "const ns = require('./mod.mjs');\nmodule.exports = { apps: [{ script: 'a.js', env: { KEYS: Object.keys(ns).sort().join(','), " +
			"A: ns.a, BEE: ns.bee, D: ns.default, C: ns.c + ns.d, F: typeof ns.f } }] };",
	})
	eco := mustLoad(t, dir, "ecosystem.config.js")
	a := eco.Apps[0]
	want := map[string]any{"PORT": 8080.0, "SHARED": "shared-shared.js", "HAS_LOGS": false, "PLATFORM": "linux", "FROM_FILE": "hello"}
	if a["name"] != "from-dotenv" || a["script"] != filepath.Join(dir, "srv.js") || a["cwd"] != dir || a["instances"] != 4.0 ||
		!reflect.DeepEqual(a["env"], want) {
		t.Errorf("js: %s", asJSON(t, a))
	}
	if eco.Env["APP_NAME"] != "from-dotenv" {
		t.Errorf("process.env after evaluation: %v", eco.Env)
	}

	eco = mustLoad(t, dir, "esm.config.mjs")
	if len(eco.Apps) != 1 || eco.Apps[0]["name"] != "from-dotenv" || eco.Apps[0]["script"] != filepath.Join(dir, "m.js") {
		t.Errorf("mjs: %s", asJSON(t, eco.Apps))
	}
	// PM2 reads the namespace of an ES module: a default export is not looked into
	// (the app gets only PM2's defaults), and tend warns about it.
	eco = mustLoad(t, dir, "default.config.mjs")
	if len(eco.Apps) != 1 || eco.Apps[0]["script"] != nil || eco.Apps[0]["autorestart"] != true {
		t.Errorf("export default: %s", asJSON(t, eco.Apps))
	}
	if len(eco.Warnings) == 0 || eco.Warnings[0].Key != "default" {
		t.Errorf("export default warnings: %+v", eco.Warnings)
	}
	// A .js file with ES module syntax is loaded as an ES module (as Node.js 22 does).
	eco = mustLoad(t, dir, "esmjs.config.js")
	if len(eco.Apps) != 1 || eco.Apps[0]["instances"] != 4.0 {
		t.Errorf("esm in .js: %s", asJSON(t, eco.Apps))
	}
	// the namespace of an ES module holds exactly its exports
	eco = mustLoad(t, dir, "ns.config.js")
	if want := map[string]any{"KEYS": "a,bee,c,d,default,f", "A": 1.0, "BEE": 2.0, "D": 5.0, "C": 7.0, "F": "function"}; !reflect.DeepEqual(eco.Apps[0]["env"], want) {
		t.Errorf("namespace: %s", asJSON(t, eco.Apps[0]["env"]))
	}
	eco = mustLoad(t, dir, "tricky.config.mjs")
	if want := map[string]any{"RE": "[\"'`]", "S": "a } b", "D": 2.0, "O": 4.0}; !reflect.DeepEqual(eco.Apps[0]["env"], want) {
		t.Errorf("tricky module: %s", asJSON(t, eco.Apps[0]["env"]))
	}
	// top-level await
	eco = mustLoad(t, dir, "await.config.mjs")
	if len(eco.Apps) != 1 || eco.Apps[0]["instances"] != 3.0 {
		t.Errorf("top-level await: %s", asJSON(t, eco.Apps))
	}
	if _, err := load(t, dir, "reject.config.mjs"); err == nil || !strings.HasPrefix(err.Error(), filepath.Join(dir, "reject.config.mjs")+":2:") || !strings.Contains(err.Error(), "nope") {
		t.Errorf("rejected top-level await: %v", err)
	}
	// endless loops are interrupted
	_, err := Load(filepath.Join(dir, "loop.config.js"), LoadOptions{Env: testEnv, Cwd: dir, Timeout: 50 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "did not finish") {
		t.Errorf("endless loop: %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	dir := writeFiles(t, map[string]string{
		"syntax.config.js":  "module.exports = {\n  apps: [{\n    name: 'a'\n    script: 'b.js' }]\n}\n",
		"runtime.config.js": "const x = 1;\nmodule.exports = { apps: [{ script: undefinedThing }] };\n",
		"syntax.json":       "{\n  \"apps\": [\n    {\"name\": \"a\",, }\n  ]\n}\n",
		"bad.yaml":          "apps:\n  - script: a.js\n     name: x\n",
		"twodocs.yml":       "apps: []\n---\napps: []\n",
		"child.config.js":   "\nconst { execSync } = require('child_process');\nmodule.exports = {};\n",
		"missing.config.js": "module.exports = require('./nope.json');\n",
		"inner.config.js":   "module.exports = require('./broken.js');\n",
		"broken.js":         "\n\nthrow new Error('boom');\n",
		"nothing.json":      "null",
		"invalid.config.js": "module.exports = { apps: [{ name: 'api', script: 'a.js', max_memory_restart: '1.5G' }] };",
	})
	check := func(name, prefix, contains string) error {
		t.Helper()
		_, err := load(t, dir, name)
		if err == nil {
			t.Errorf("%s: no error", name)
			return nil
		}
		var le *LoadError
		if !errors.As(err, &le) {
			t.Errorf("%s: %T is not a *LoadError: %v", name, err, err)
		}
		if !strings.HasPrefix(err.Error(), filepath.Join(dir, prefix)) || !strings.Contains(err.Error(), contains) {
			t.Errorf("%s: error %q, want prefix %q containing %q", name, err, prefix, contains)
		}
		return err
	}
	check("syntax.config.js", "syntax.config.js:4:5: ", "SyntaxError")
	check("runtime.config.js", "runtime.config.js:2:37: ", "ReferenceError: undefinedThing is not defined")
	check("syntax.json", "syntax.json:3:", "SyntaxError: Unexpected token")
	check("bad.yaml", "bad.yaml:3:", "")
	check("twodocs.yml", "twodocs.yml:", "single document")
	err := check("child.config.js", "child.config.js:2:29: ", `cannot load module "child_process"`)
	if !errors.Is(err, ErrUnsupportedModule) {
		t.Errorf("unsupported module error does not match ErrUnsupportedModule: %v", err)
	}
	check("missing.config.js", "missing.config.js:1:", "Cannot find module './nope.json'")
	check("inner.config.js", "broken.js:3:7: ", "Error: boom")
	check("nothing.json", "nothing.json: ", "null")
	err = check("invalid.config.js", `invalid.config.js: app "api": `, "max_memory_restart")
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 1 {
		t.Errorf("validation error: %#v", err)
	}
}

func TestResolveEnvPrecedence(t *testing.T) {
	t.Parallel()
	dir := writeFiles(t, map[string]string{
		"srv.js":   "",
		"app/.env": "FROM_FILE=file\nLAYER=file\nQUOTED=\"a b\"\n",
	})
	apps, _, err := Normalize([]map[string]any{{
		"script": "../srv.js", "name": "api", "cwd": "app", "env_file": ".env", "port": 4000,
		"env":            map[string]any{"LAYER": "env", "NUM": 3000, "BOOL": true, "OBJ": map[string]any{"a": 1}, "PORT": 1},
		"env_production": map[string]any{"LAYER": "production", "PORT": 5000},
	}}, "eco.config.js")
	if err != nil {
		t.Fatal(err)
	}
	a, err := Resolve(apps[0], ResolveOptions{Home: "/h", BaseDir: dir, EnvName: "production", NumCPU: 4,
		Deploy: map[string]any{"production": map[string]any{"env": map[string]any{"DEPLOY": "1", "LAYER": "deploy", "CLI_ONLY": "deploy"}}},
		CLIEnv: map[string]string{"PATH": "/usr/bin:/bin", "LAYER": "cli", "CLI_ONLY": "1", "FROM_FILE": "cli"}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"DEPLOY": "1", "LAYER": "production", "CLI_ONLY": "1", "FROM_FILE": "file", "QUOTED": "a b", "NUM": "3000",
		"BOOL": "true", "OBJ": `{"a":1}`, "PORT": "5000"}
	for k, v := range want {
		if a.Env[k] != v {
			t.Errorf("env %s = %q, want %q", k, a.Env[k], v)
		}
	}
	if a.EnvFile != filepath.Join(dir, "app", ".env") || a.Cwd != filepath.Join(dir, "app") || a.ScriptPath != filepath.Join(dir, "srv.js") {
		t.Errorf("env_file %s cwd %s script %s", a.EnvFile, a.Cwd, a.ScriptPath)
	}
	// without --env, env_production is not applied; port beats env.PORT
	a, err = Resolve(apps[0], ResolveOptions{Home: "/h", BaseDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if a.Env["LAYER"] != "env" || a.Env["PORT"] != "4000" || a.Env["CLI_ONLY"] != "" {
		t.Errorf("env without --env: %v", a.Env)
	}
	// a missing env_file is an error naming the file and the app
	_, err = Resolve(map[string]any{"script": "srv.js", "name": "api", "env_file": "nope.env"}, ResolveOptions{BaseDir: dir})
	var efe *EnvFileError
	if !errors.As(err, &efe) || !errors.Is(err, ErrEnvFileNotFound) || !strings.Contains(err.Error(), filepath.Join(dir, "nope.env")) || !strings.Contains(err.Error(), `"api"`) {
		t.Errorf("missing env_file: %v", err)
	}
}

func TestResolveDefaultsAndPaths(t *testing.T) {
	t.Parallel()
	dir := writeFiles(t, map[string]string{"api.js": "", "tool.py": "", "run.sh": "", "bin/www": "#!/usr/bin/env node\n", "bin/start": "#!/bin/sh\n"})
	a, err := Resolve(map[string]any{"script": "api.js"}, ResolveOptions{Home: "/h", BaseDir: dir, NumCPU: 8})
	if err != nil {
		t.Fatal(err)
	}
	want := App{Name: "api", Namespace: "default", Script: "api.js", ScriptPath: filepath.Join(dir, "api.js"), Interpreter: "node",
		Cwd: dir, Instances: 1, ExecMode: "fork_mode", Env: map[string]string{}, InstanceVar: "NODE_APP_INSTANCE",
		Autorestart: true, Autostart: true, MaxRestarts: 16, MinUptime: time.Second, KillTimeout: 1600 * time.Millisecond,
		KillSignal: "SIGINT", Treekill: true, OutFile: "/h/logs/api-out.log", ErrorFile: "/h/logs/api-error.log",
		PidFile: "/h/pids/api.pid", PM2: map[string]any{"script": "api.js"}}
	if !reflect.DeepEqual(*a, want) {
		t.Errorf("got  %+v\nwant %+v", *a, want)
	}

	for _, c := range []struct {
		inst       any
		n          int
		mode       string
		execMode   any
		name, want string
	}{
		{0.0, 8, "cluster_mode", nil, "", ""},
		{-1.0, 7, "cluster_mode", nil, "", ""},
		{-10.0, 1, "fork_mode", nil, "", ""},
		{2.0, 2, "fork_mode", "fork", "", ""},
		{1.0, 1, "cluster_mode", nil, "", ""}, // PM2: node app with instances set runs in cluster mode
	} {
		m := map[string]any{"script": "api.js", "instances": c.inst}
		if c.execMode != nil {
			m["exec_mode"] = c.execMode
		}
		a, err := Resolve(m, ResolveOptions{BaseDir: dir, NumCPU: 8})
		if err != nil || a.Instances != c.n || a.ExecMode != c.mode {
			t.Errorf("instances %v: got %d %s (%v), want %d %s", c.inst, a.Instances, a.ExecMode, err, c.n, c.mode)
		}
	}

	// interpreters from the extension / content
	for script, want := range map[string]string{"tool.py": "python", "run.sh": "bash", "bin/www": "node", "bin/start": "none"} {
		a, err := Resolve(map[string]any{"script": script}, ResolveOptions{BaseDir: dir, CLIEnv: map[string]string{"PATH": "/usr/bin:/bin"}})
		if err != nil {
			t.Fatal(err)
		}
		if want == "python" && a.Interpreter == "python3" {
			continue // no python on PATH: python3, as PM2 does
		}
		if a.Interpreter != want {
			t.Errorf("%s: interpreter %q, want %q", script, a.Interpreter, want)
		}
	}
	if a, _ := Resolve(map[string]any{"script": "tool.py"}, ResolveOptions{BaseDir: dir}); a.Env["PYTHONUNBUFFERED"] != "1" {
		t.Errorf("python apps get PYTHONUNBUFFERED=1: %v", a.Env)
	}

	// log paths
	a, err = Resolve(map[string]any{"script": "api.js", "name": "my_app v2", "out_file": "logs/out.log", "error_file": "NULL",
		"log_file": true, "pid_file": "~/p.pid", "cwd": "sub"}, ResolveOptions{Home: "/h", BaseDir: dir, CLIEnv: map[string]string{"HOME": "/home/u"}})
	if err == nil {
		t.Fatalf("script relative to a missing cwd should not be found: %+v", a)
	}
	a, err = Resolve(map[string]any{"script": "../api.js", "name": "my_app v2", "out_file": "logs/out.log", "error_file": "NULL",
		"log_file": true, "pid_file": "~/p.pid", "cwd": "bin"}, ResolveOptions{Home: "/h", BaseDir: dir, CLIEnv: map[string]string{"HOME": "/home/u"}})
	if err != nil {
		t.Fatal(err)
	}
	if a.OutFile != filepath.Join(dir, "bin", "logs/out.log") || a.ErrorFile != "/dev/null" || a.LogFile != "/h/logs/my-app-v2.log" || a.PidFile != "/home/u/p.pid" {
		t.Errorf("logs: out %s err %s log %s pid %s", a.OutFile, a.ErrorFile, a.LogFile, a.PidFile)
	}
	a, _ = Resolve(map[string]any{"script": "api.js", "log_file": "all.log", "out_file": "/dev/null"}, ResolveOptions{Home: "/h", BaseDir: dir})
	if a.LogFile != filepath.Join(dir, "all.log") || a.OutFile != "/dev/null" || a.ErrorFile != "/h/logs/api-error.log" {
		t.Errorf("logs: %s %s %s", a.LogFile, a.OutFile, a.ErrorFile)
	}
}

func TestResolveScriptLookupAndOptions(t *testing.T) {
	t.Parallel()
	dir := writeFiles(t, map[string]string{"a.js": ""})
	// a command on PATH keeps its bare name when it is executed directly
	a, err := Resolve(map[string]any{"script": "sh", "args": []any{"-c", "sleep 1"}}, ResolveOptions{BaseDir: dir, CLIEnv: map[string]string{"PATH": "/usr/bin:/bin"}})
	if err != nil {
		t.Fatal(err)
	}
	if a.ScriptPath != "sh" || a.Interpreter != "none" || !reflect.DeepEqual(a.Args, []string{"-c", "sleep 1"}) {
		t.Errorf("sh: %s %s %v", a.ScriptPath, a.Interpreter, a.Args)
	}
	_, err = Resolve(map[string]any{"script": "nope.js", "name": "api"}, ResolveOptions{BaseDir: dir, CLIEnv: map[string]string{"PATH": "/usr/bin:/bin"}})
	var snf *ScriptNotFoundError
	if !errors.As(err, &snf) || !errors.Is(err, ErrScriptNotFound) || err.Error() != `Script not found: `+filepath.Join(dir, "nope.js")+` (app "api")` {
		t.Errorf("missing script: %v", err)
	}

	apps, _, err := Normalize([]map[string]any{{
		"script": "a.js", "watch": true, "ignore_watch": "node_modules", "watch_delay": 500, "cron_restart": "0 * * * *",
		"listen_timeout": 3000, "wait_ready": true, "stop_exit_codes": []any{0}, "max_memory_restart": "1G", "min_uptime": "5s",
		"max_restarts": math.Inf(1), "restart_delay": 250, "exp_backoff_restart_delay": 100, "kill_timeout": 5000, "namespace": "ns",
		"increment_var": "PORT", "instance_var": "ID", "treekill": false, "autorestart": false, "interpreter_args": "--max-old-space-size=512",
		"time": true, "exec_mode": "cluster", "instances": 2,
	}}, "f")
	if err != nil {
		t.Fatal(err)
	}
	a, err = Resolve(apps[0], ResolveOptions{BaseDir: dir, ConfigFile: "/x/f", EnvName: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	if !a.WatchEnabled || !reflect.DeepEqual(a.Watch, []string{"."}) || !reflect.DeepEqual(a.IgnoreWatch, []string{"node_modules"}) ||
		a.WatchDelay != 500*time.Millisecond || a.CronRestart != "0 * * * *" || a.ListenTimeout != 3*time.Second || !a.WaitReady ||
		!reflect.DeepEqual(a.StopExitCodes, []int{0}) || a.MaxMemoryRestart != 1<<30 || a.MinUptime != 5*time.Second ||
		a.MaxRestarts < 1<<30 || a.RestartDelay != 250*time.Millisecond || a.ExpBackoffRestartDelay != 100*time.Millisecond ||
		a.KillTimeout != 5*time.Second || a.Namespace != "ns" || a.IncrementVar != "PORT" || a.InstanceVar != "ID" || a.Treekill ||
		a.Autorestart || !reflect.DeepEqual(a.InterpreterArgs, []string{"--max-old-space-size=512"}) ||
		a.LogDateFormat != "YYYY-MM-DDTHH:mm:ss" || a.ExecMode != "cluster_mode" || a.Instances != 2 || a.ConfigFile != "/x/f" ||
		a.EnvName != "prod" || a.PM2["max_restarts"] == nil {
		t.Errorf("options: %+v", a)
	}
	if _, err := json.Marshal(a); err != nil {
		t.Errorf("App does not marshal: %v", err)
	}
	a, _ = Resolve(map[string]any{"script": "a.js", "watch": []any{"src", "lib"}, "stop_exit_codes": 3.0}, ResolveOptions{BaseDir: dir})
	if !reflect.DeepEqual(a.Watch, []string{"src", "lib"}) || !reflect.DeepEqual(a.StopExitCodes, []int{3}) {
		t.Errorf("watch %v stop %v", a.Watch, a.StopExitCodes)
	}
}

// TestCronMatchesCroner: the loader accepts exactly the cron_restart
// patterns that PM2's cron library (croner 4.1.97, recorded in
// internal/cron/testdata) accepts, and refuses the others with its reason.
func TestCronMatchesCroner(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../cron/testdata/croner.json")
	if err != nil {
		t.Fatal(err)
	}
	var rows []struct{ Pattern, Error string }
	if err := json.Unmarshal(b, &rows); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		_, _, err := Normalize([]map[string]any{{"name": "a", "script": "a.js", "cron_restart": r.Pattern}}, "eco.json")
		switch {
		case r.Error == "" && err != nil:
			t.Errorf("%q: %v; PM2 accepts it", r.Pattern, err)
		case r.Error != "" && err == nil:
			t.Errorf("%q accepted; PM2 refuses it: %s", r.Pattern, r.Error)
		case r.Error != "" && !strings.Contains(err.Error(), "Cron pattern error: "+strings.Replace(r.Error, "exacly", "exactly", 1)):
			t.Errorf("%q: %v; PM2 says %s", r.Pattern, err, r.Error)
		}
	}
}
