package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/tend-dev/tend/internal/config/js"
	"github.com/tend-dev/tend/internal/config/pm2"
	yaml "go.yaml.in/yaml/v3"
)

// LoadOptions control how an ecosystem file is evaluated.
type LoadOptions struct {
	// Env is process.env during evaluation; nil means os.Environ().
	Env map[string]string
	// Cwd is process.cwd() during evaluation; "" means the current directory.
	Cwd string
	// NumCPU is the number of CPUs os.cpus() reports; 0 means runtime.NumCPU().
	NumCPU int
	// Argv is process.argv after "node" and the PM2 script (e.g. ["start", file]).
	Argv []string
	// Source, when not nil, is used as the file content instead of reading Path
	// (the file is evaluated as if it were at Path).
	Source []byte
	// Console receives console.log output of JavaScript files (nil: discarded).
	Console io.Writer
	// Timeout bounds the evaluation of JavaScript files; 0 means DefaultTimeout.
	Timeout time.Duration
}

// Ecosystem is a loaded ecosystem file.
type Ecosystem struct {
	// Path is the absolute path of the file.
	Path string
	// Apps are the PM2-normalized app option maps, exactly as PM2's verifyConfs
	// returns them (see Normalize for the value types).
	Apps []map[string]any
	// Warnings are non-fatal remarks (unknown options, ...).
	Warnings []Warning
	// Deploy is the file's deploy section, if any (not interpreted).
	Deploy any
	// Env is process.env after evaluation (dotenv files loaded by the file included).
	Env map[string]string
}

// Format is how PM2 reads a file, decided from its name.
type Format string

const (
	FormatJSON Format = "json"
	FormatYAML Format = "yaml"
	FormatJS   Format = "js"  // CommonJS (.config.js, .config.cjs)
	FormatMJS  Format = "mjs" // ES module (.config.mjs)
)

// configNameParts are the name fragments PM2 looks for, in its order.
var configNameParts = []struct {
	part   string
	format Format
}{
	{".json", FormatJSON},
	{".yml", FormatYAML},
	{".yaml", FormatYAML},
	{".config.js", FormatJS},
	{".config.cjs", FormatJS},
	{".config.mjs", FormatMJS},
}

// ConfigFormat tells whether PM2 treats a file name as an ecosystem file, and how it
// reads it ("" when PM2 would start the file as a script instead). The name only
// has to contain the fragment: process.json, pm2.yml, ecosystem.config.js, ...
func ConfigFormat(name string) Format {
	for _, c := range configNameParts {
		if strings.Contains(name, c.part) {
			return c.format
		}
	}
	return ""
}

// formatOf is ConfigFormat with a fallback on the extension, for files Load is
// explicitly asked to read.
func formatOf(name string) Format {
	name = filepath.Base(name)
	if f := ConfigFormat(name); f != "" {
		return f
	}
	switch filepath.Ext(name) {
	case ".js", ".cjs":
		return FormatJS
	case ".mjs":
		return FormatMJS
	}
	return ""
}

// Load reads an ecosystem file (JavaScript, JSON or YAML), evaluates it as PM2 would
// and returns its apps normalized as by PM2's verifyConfs.
func Load(path string, opts LoadOptions) (*Ecosystem, error) {
	cwd := opts.Cwd
	if cwd == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, err
		}
		cwd = wd
	}
	abs := path
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(cwd, path)
	}
	abs = filepath.Clean(abs)
	env := opts.Env
	if env == nil {
		env = map[string]string{}
		for _, kv := range os.Environ() {
			if k, v, ok := strings.Cut(kv, "="); ok {
				env[k] = v
			}
		}
	}
	numCPU := opts.NumCPU
	if numCPU <= 0 {
		numCPU = runtime.NumCPU()
	}
	src := opts.Source
	if src == nil {
		b, err := os.ReadFile(abs)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return nil, &LoadError{File: abs, Err: err}
		}
		src = b
	}
	format := formatOf(abs)
	if format == "" {
		return nil, &LoadError{File: abs, Err: errors.New("not an ecosystem file: the name must contain .json, .yml, .yaml, .config.js, .config.cjs or .config.mjs")}
	}

	eco := &Ecosystem{Path: abs}
	var root any
	finalEnv := env
	switch format {
	case FormatYAML:
		v, err := parseYAML(abs, src)
		if err != nil {
			return nil, err
		}
		root = v
	default:
		argv := append([]string{"/usr/bin/node", "/usr/lib/node_modules/pm2/bin/pm2"}, opts.Argv...)
		if format == FormatJSON {
			src = []byte(prepareJSON(src))
		}
		v, e, err := js.Run(abs, js.Options{Env: env, Cwd: cwd, NumCPU: numCPU, Console: opts.Console, Argv: argv,
			Timeout: opts.Timeout, Source: src, JSONExpr: format == FormatJSON})
		if err != nil {
			return nil, err
		}
		root, finalEnv = v, e
	}
	eco.Env = finalEnv

	apps, deploy, err := selectApps(root)
	if err != nil {
		return nil, &LoadError{File: abs, Err: err}
	}
	eco.Deploy = js.Finalize(deploy)
	list, warnings, err := pm2.NormalizeApps(apps, abs, pm2.EnvContext(finalEnv))
	if ns, ok := root.(js.FrozenMap); ok && len(apps) == 1 {
		if _, isNS := apps[0].(js.FrozenMap); isNS {
			if _, hasDefault := ns["default"]; hasDefault {
				warnings = append([]Warning{{File: abs, Key: "default", Message: "the ES module has a default export but no \"apps\" export: PM2 reads the module's named exports, " +
					"so the default export is ignored (as PM2 ignores it); use \"export const apps = [...]\""}}, warnings...)
			}
		}
	}
	eco.Warnings = warnings
	if err != nil {
		return nil, err
	}
	eco.Apps = list
	return eco, nil
}

func prepareJSON(b []byte) string {
	return strings.TrimPrefix(string(b), "\ufeff")
}

// selectApps picks the app list out of the file's value as PM2 does: the apps key,
// else the pm2 key, else the value itself; a single object is a list of one.
func selectApps(root any) ([]any, any, error) {
	var obj map[string]any
	switch x := root.(type) {
	case js.Undefined:
		return nil, nil, errors.New("TypeError: Cannot read properties of undefined (reading 'apps'): the file exports nothing")
	case nil:
		return nil, nil, errors.New("TypeError: Cannot read properties of null (reading 'apps')")
	case map[string]any:
		obj = x
	case js.FrozenMap:
		obj = x
	}
	var deploy any
	appsV := root
	if obj != nil {
		deploy = obj["deploy"]
		if js.Truthy(obj["apps"]) {
			appsV = obj["apps"]
		} else if js.Truthy(obj["pm2"]) {
			appsV = obj["pm2"]
		}
	}
	if arr, ok := appsV.([]any); ok {
		return arr, deploy, nil
	}
	if obj == nil {
		return nil, nil, fmt.Errorf("the file's value is %s, not an app or a list of apps: it must be an object such as { apps: [{ name: 'api', script: 'server.js' }] } (module.exports = … in a .config.js)", js.Describe(root))
	}
	if _, ok := appsV.(map[string]any); !ok {
		if _, ok := appsV.(js.FrozenMap); !ok {
			return nil, nil, fmt.Errorf("apps is %s, not an app or a list of apps: write apps: [{ name: 'api', script: 'server.js' }]", js.Describe(appsV))
		}
	}
	return []any{appsV}, deploy, nil
}

// ---- YAML ---------------------------------------------------------------------

// parseYAML reads a YAML file as js-yaml's load does (a single document).
func parseYAML(file string, src []byte) (any, error) {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	err := dec.Decode(&doc)
	if err == io.EOF {
		return js.Undefined{}, nil
	}
	if err != nil {
		return nil, yamlError(file, src, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &LoadError{File: file, Line: extra.Line, Col: 1, Err: errors.New("expected a single document in the stream, but found more")}
	} else if err != io.EOF {
		return nil, yamlError(file, src, err)
	}
	var v any
	if err := doc.Decode(&v); err != nil {
		return nil, yamlError(file, src, err)
	}
	return fromYAML(v), nil
}

// yamlError turns a YAML library error ("yaml: line 3: message") into a LoadError;
// the column is that of the first character of the line (the library reports no
// column).
func yamlError(file string, src []byte, err error) error {
	line, msg := splitYAMLError(err)
	// The library reports the line where the enclosing block starts; the first line
	// at which a prefix of the file stops parsing is where the problem is.
	lines := strings.SplitAfter(string(src), "\n")
	for k := 1; k <= len(lines) && k <= 2000; k++ {
		var n yaml.Node
		perr := yaml.Unmarshal([]byte(strings.Join(lines[:k], "")), &n)
		if perr != nil {
			if l, m := splitYAMLError(perr); l <= k {
				line, msg = k, m
			}
			break
		}
	}
	col := 0
	if line > 0 {
		lines := strings.Split(string(src), "\n")
		if line <= len(lines) {
			l := lines[line-1]
			col = len(l) - len(strings.TrimLeft(l, " \t")) + 1
		}
	}
	return &LoadError{File: file, Line: line, Col: col, Err: errors.New(msg)}
}

func splitYAMLError(err error) (int, string) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if n, _ := fmt.Sscanf(msg, "line %d:", &line); n == 1 {
		msg = strings.TrimSpace(msg[strings.Index(msg, ":")+1:])
	}
	return line, msg
}

func fromYAML(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = fromYAML(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[fmt.Sprint(k)] = fromYAML(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = fromYAML(e)
		}
		return out
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case uint64:
		return float64(x)
	case float64:
		return x
	case time.Time:
		return x.UTC().Format("2006-01-02T15:04:05.000Z")
	case nil, string, bool:
		return x
	}
	if f, ok := v.(float32); ok {
		return float64(f)
	}
	return fmt.Sprint(v)
}

// NonFinite is NaN or ±Infinity in a normalized option map (js.NonFinite):
// JSON has no such numbers.
type NonFinite = js.NonFinite

// Normalize is PM2's verifyConfs (pm2.Normalize): it checks and normalizes
// app option maps keyed as in an ecosystem file.
func Normalize(apps []map[string]any, file string) ([]map[string]any, []Warning, error) {
	return pm2.Normalize(apps, file)
}

// ValidationError lists the problems PM2's schema finds in an app
// (pm2.ValidationError).
type ValidationError = pm2.ValidationError
