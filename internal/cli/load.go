package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/tend-dev/tend/internal/config"
	"github.com/tend-dev/tend/internal/daemon"
)

// isConfigFile tells an ecosystem file from a script by its name, as PM2 does.
func isConfigFile(arg string) bool {
	base := filepath.Base(arg)
	for _, suf := range []string{".json", ".yml", ".yaml", ".config.js", ".config.cjs", ".config.mjs"} {
		if strings.HasSuffix(base, suf) {
			return true
		}
	}
	return false
}

// defaultConfig finds the ecosystem file `tend start` uses without arguments.
func defaultConfig() (string, error) {
	for _, n := range []string{"ecosystem.config.js", "ecosystem.config.cjs", "ecosystem.config.mjs", "ecosystem.json", "ecosystem.yaml", "ecosystem.yml"} {
		if _, err := os.Stat(n); err == nil {
			return n, nil
		}
	}
	wd, _ := os.Getwd()
	return "", fmt.Errorf("no ecosystem file in %s (looked for ecosystem.config.js, .cjs, .mjs, ecosystem.json, .yaml); name a file or a script: tend start app.js", wd)
}

// environ returns the CLI's environment as a map.
func environ() map[string]string {
	m := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// loadOptions are the parts of a start that shape how apps resolve.
type loadOptions struct {
	home    string
	envName string
	only    []string
}

// loaded is an ecosystem file (or command line) resolved into apps.
type loaded struct {
	apps []config.App
	// problems are per-app errors met while resolving (a missing script, a
	// missing env_file): the preflight reports them all at once.
	problems []error
	warns    []string
}

// loadFile reads an ecosystem file into resolved apps.
func loadFile(path string, o loadOptions) (*loaded, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	eco, err := config.Load(abs, config.LoadOptions{})
	if err != nil {
		return nil, err
	}
	// PM2 resolves relative scripts, cwd and log paths against the directory
	// the command runs in, not the file's: `pm2 start pm2/ecosystem.config.js`
	// from the repository root finds packages/x/dist/server.js at the root.
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	l, err := resolveAll(eco.Apps, wd, abs, o)
	if err != nil {
		return nil, err
	}
	for _, w := range eco.Warnings {
		l.warns = append(l.warns, w.String())
	}
	return l, nil
}

// resolveAll resolves normalized PM2 apps. With --only it keeps the named
// apps and, transitively, what they depend on.
func resolveAll(norm []map[string]any, baseDir, file string, o loadOptions) (*loaded, error) {
	cliEnv := environ()
	l := &loaded{}
	type failed struct {
		name string
		err  error
	}
	var fails []failed
	// The daemon's limits, as tend.json and the environment set them: an
	// app over one fails here, before anything is sent.
	lim, err := daemon.LoadLimits(o.home)
	if err != nil {
		l.warns = append(l.warns, fmt.Sprintf("%v: the default limits apply", err))
	}
	for _, m := range norm {
		name, _ := m["name"].(string)
		app, err := config.Resolve(m, config.ResolveOptions{
			Home: o.home, BaseDir: baseDir, CLIEnv: cliEnv, EnvName: o.envName, NumCPU: runtime.NumCPU(),
		})
		if err == nil {
			err = lim.App.Check(app)
		}
		if err != nil {
			fails = append(fails, failed{name, err})
			continue
		}
		app.ConfigFile = file
		l.apps = append(l.apps, *app)
	}
	if len(o.only) > 0 {
		keep := config.DependencyClosure(l.apps, o.only)
		var apps []config.App
		for _, a := range l.apps {
			if keep[a.Name] {
				apps = append(apps, a)
			}
		}
		l.apps = apps
		var kept []failed
		for _, f := range fails {
			if keep[f.name] {
				kept = append(kept, f)
			}
		}
		fails = kept
		if len(l.apps) == 0 && len(fails) == 0 {
			return nil, fmt.Errorf("--only %s matches no app in %s", strings.Join(o.only, ","), file)
		}
	}
	for _, f := range fails {
		l.problems = append(l.problems, f.err)
	}
	return l, nil
}

// loadEcosystem loads the ecosystem file named by args, or the default one
// of the current folder, and prints its warnings.
func (a *app) loadEcosystem(args []string) (string, *config.Ecosystem, error) {
	path := ""
	if len(args) > 0 {
		path = args[0]
	} else {
		p, err := defaultConfig()
		if err != nil {
			return "", nil, err
		}
		path = p
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", nil, err
	}
	eco, err := config.Load(abs, config.LoadOptions{})
	if err != nil {
		return "", nil, err
	}
	for _, w := range eco.Warnings {
		fmt.Fprintf(a.stderr, "[tend][WARN] %s\n", w.String())
	}
	return abs, eco, nil
}

// appNames lists the app names of an ecosystem file (for targets such as
// `tend stop ecosystem.config.js`).
func appNames(path string, only []string) ([]string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	eco, err := config.Load(abs, config.LoadOptions{})
	if err != nil {
		return nil, err
	}
	var names []string
	for _, m := range eco.Apps {
		n, _ := m["name"].(string)
		if n == "" {
			continue
		}
		if len(only) > 0 && !contains(only, n) {
			continue
		}
		names = append(names, n)
	}
	return names, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
