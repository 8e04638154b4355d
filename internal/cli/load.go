package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/tend-dev/tend/internal/config"
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

// loadFile reads an ecosystem file into resolved apps, with warnings.
func loadFile(path string, o loadOptions) ([]config.App, []string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, nil, err
	}
	eco, err := config.Load(abs, config.LoadOptions{})
	if err != nil {
		return nil, nil, err
	}
	var warns []string
	for _, w := range eco.Warnings {
		warns = append(warns, w.String())
	}
	// PM2 resolves relative scripts, cwd and log paths against the directory
	// the command runs in, not the file's: `pm2 start pm2/ecosystem.config.js`
	// from the repository root finds packages/x/dist/server.js at the root.
	wd, err := os.Getwd()
	if err != nil {
		return nil, nil, err
	}
	apps, err := resolveAll(eco.Apps, wd, abs, o)
	return apps, warns, err
}

// resolveAll resolves normalized PM2 apps, keeping those --only names.
func resolveAll(norm []map[string]any, baseDir, file string, o loadOptions) ([]config.App, error) {
	cliEnv := environ()
	var apps []config.App
	for _, m := range norm {
		name, _ := m["name"].(string)
		if len(o.only) > 0 && !contains(o.only, name) {
			continue
		}
		app, err := config.Resolve(m, config.ResolveOptions{
			Home: o.home, BaseDir: baseDir, CLIEnv: cliEnv, EnvName: o.envName, NumCPU: runtime.NumCPU(),
		})
		if err != nil {
			return nil, err
		}
		app.ConfigFile = file
		apps = append(apps, *app)
	}
	if len(o.only) > 0 && len(apps) == 0 {
		return nil, fmt.Errorf("--only %s matches no app in %s", strings.Join(o.only, ","), file)
	}
	return apps, nil
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
