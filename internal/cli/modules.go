package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/tend-dev/tend/internal/client"
	"github.com/tend-dev/tend/internal/daemon"
	"github.com/tend-dev/tend/internal/homedir"
)

// PM2 modules. tend runs none: pm2-logrotate's rotation is built in (its
// keys in module_conf.json configure it); for the others, what tend has
// instead.
var moduleInstead = map[string]string{
	"pm2-prom-module":   "tend serves Prometheus metrics itself: tend daemon --metrics-addr 127.0.0.1:9209 (or metrics_addr in $TEND_HOME/tend.json)",
	"pm2-server-monit":  "tend monit shows every app's CPU and memory; Prometheus metrics: --metrics-addr",
	"pm2-auto-pull":     "tend has no git pull loop; use tend restart from your deploy hook, or watch",
	"pm2-slack":         "tend emits every status change on its event stream (tend logs --json); forward those",
	"@pm2/io":           "tend injects no agent; Prometheus metrics: --metrics-addr",
	"pm2-logrotate-ext": "log rotation is built in: tend install pm2-logrotate, or log_max_size and log_rotate_interval",
}

// moduleName is the module an install argument names (pm2-logrotate@2.7.0,
// git urls and tarballs keep their last path element).
func moduleName(arg string) string {
	n := arg
	if i := strings.LastIndex(n, "/"); i >= 0 && !strings.HasPrefix(n, "@") {
		n = n[i+1:]
	}
	n = strings.TrimSuffix(strings.TrimSuffix(n, ".git"), ".tgz")
	if i := strings.LastIndex(n, "@"); i > 0 {
		n = n[:i]
	}
	return n
}

func (a *app) installCmd() *cobra.Command {
	cmd := a.moduleCmd("install", "module:install",
		"PM2 modules: pm2-logrotate turns on tend's built-in rotation; others are refused, naming what tend has instead",
		"pm2-logrotate: nothing to download, log rotation is built into tend; it now follows pm2-logrotate's settings (tend set pm2-logrotate:<key> <value>)",
		func(conf map[string]any) {
			db, _ := conf[daemon.ModuleDB].(map[string]any)
			if db == nil {
				db = map[string]any{}
			}
			db[daemon.Logrotate] = map[string]any{}
			conf[daemon.ModuleDB] = db
			m, _ := conf[daemon.Logrotate].(map[string]any)
			if m == nil {
				m = map[string]any{}
			}
			for k, v := range daemon.LogrotateDefaults {
				if _, ok := m[k]; !ok {
					m[k] = v // as PM2 does: keys already set are kept
				}
			}
			conf[daemon.Logrotate] = m
		})
	fl := cmd.Flags()
	fl.Bool("tarball", false, "PM2: the module is a local tarball")
	fl.Bool("install", false, "PM2: run npm install first")
	fl.Bool("docker", false, "PM2: docker container module")
	fl.Bool("v1", false, "PM2: install in v1 manner")
	fl.String("safe", "", "PM2: keep a backup of the module")
	fl.Lookup("safe").NoOptDefVal = "true"
	return cmd
}

// moduleCmd is install or uninstall: only pm2-logrotate, whose settings edit
// changes in module_conf.json before the daemon applies them.
func (a *app) moduleCmd(use, alias, short, done string, edit func(map[string]any)) *cobra.Command {
	return &cobra.Command{
		Use:     use + " <module>",
		Aliases: []string{alias},
		Short:   short,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if name := moduleName(args[0]); name != daemon.Logrotate {
				return unsupportedModule(name)
			}
			if err := a.editModuleConf(edit); err != nil {
				return err
			}
			fmt.Fprintln(a.stderr, "[tend] "+done)
			return a.applySettings()
		},
	}
}

func unsupportedModule(name string) error {
	instead := moduleInstead[name]
	if instead == "" {
		instead = "log rotation (pm2-logrotate) is built in; other modules need PM2's module runtime, which tend does not have"
	}
	return exitError{code: 1, msg: fmt.Sprintf("[tend][ERROR] %s: tend runs no PM2 modules: %s", name, instead)}
}

func (a *app) uninstallCmd() *cobra.Command {
	return a.moduleCmd("uninstall", "module:uninstall", "Remove pm2-logrotate's settings (rotation goes back to tend.json's)",
		"pm2-logrotate removed: log rotation follows $TEND_HOME/tend.json again",
		func(conf map[string]any) {
			if db, ok := conf[daemon.ModuleDB].(map[string]any); ok {
				delete(db, daemon.Logrotate)
			}
			delete(conf, daemon.Logrotate)
		})
}

// splitConfKey splits a key of module_conf.json as PM2 does: at dots, else
// at colons ("pm2-logrotate:max_size"); quotes keep a part whole.
func splitConfKey(key string) ([]string, error) {
	sep := ""
	switch {
	case strings.Contains(key, "."):
		sep = `[^."]+|"[^"]*"`
	case strings.Contains(key, ":"):
		sep = `[^:"]+|"[^"]*"`
	default:
		return []string{key}, nil
	}
	var parts []string
	for _, m := range regexp.MustCompile(`(?:`+sep+`)+`).FindAllString(key, -1) {
		m = strings.ReplaceAll(m, `"`, "")
		if m == "__proto__" || m == "constructor" || m == "prototype" {
			return nil, fmt.Errorf("key %q: %s is not allowed", key, m)
		}
		parts = append(parts, m)
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("key %q is empty", key)
	}
	return parts, nil
}

func (a *app) setCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "set <module:key> <value>",
		Short: "Set a value in $TEND_HOME/module_conf.json (pm2-logrotate:<key> configures log rotation)",
		Args:  cobra.ExactArgs(2),
		RunE:  func(cmd *cobra.Command, args []string) error { return a.setConf(args[0], args[1]) },
	}
}

func (a *app) setConf(key, value string) error {
	parts, err := splitConfKey(key)
	if err != nil {
		return err
	}
	err = a.editModuleConf(func(conf map[string]any) {
		m := conf
		for _, k := range parts[:len(parts)-1] {
			next, ok := m[k].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[k] = next
			}
			m = next
		}
		m[parts[len(parts)-1]] = value
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "[tend] %s = %s\n", key, value)
	if parts[0] == daemon.Logrotate {
		return a.applySettings()
	}
	return nil
}

func (a *app) multisetCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "multiset \"<key> <value> [<key> <value>]...\"",
		Short: "Set several values of module_conf.json at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			words := regexp.MustCompile(`(?:[^ "]+|"[^"]*")+`).FindAllString(args[0], -1)
			if len(words)%2 != 0 {
				return fmt.Errorf("multiset: give pairs of key and value, e.g. \"pm2-logrotate:max_size 10M pm2-logrotate:retain 7\"")
			}
			for i := 0; i < len(words); i += 2 {
				if err := a.setConf(words[i], strings.Trim(words[i+1], `"`)); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

func (a *app) unsetCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "unset <module:key>",
		Short: "Remove a value from module_conf.json (all: everything)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			parts, err := splitConfKey(args[0])
			if err != nil {
				return err
			}
			err = a.editModuleConf(func(conf map[string]any) {
				if args[0] == "all" {
					for k := range conf {
						delete(conf, k)
					}
					return
				}
				m := conf
				for _, k := range parts[:len(parts)-1] {
					next, _ := m[k].(map[string]any)
					if next == nil { // as PM2: the module's object is there, empty
						next = map[string]any{}
						m[k] = next
					}
					m = next
				}
				delete(m, parts[len(parts)-1])
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "[tend] %s removed\n", args[0])
			if parts[0] == daemon.Logrotate || args[0] == "all" {
				return a.applySettings()
			}
			return nil
		},
	}
}

func (a *app) getCmd(use string) *cobra.Command {
	return &cobra.Command{
		Use:   use + " [module[:key]]",
		Short: "Print module_conf.json, a module's settings or one value",
		Args:  cobra.MaximumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 2 { // conf <key> <value>
				return a.setConf(args[0], args[1])
			}
			conf, err := daemon.LoadModuleConf(a.home)
			if err != nil {
				return err
			}
			if len(conf) == 0 && (len(args) == 0 || args[0] == "all") {
				return nil // as PM2: nothing set, nothing printed
			}
			if len(args) == 0 || args[0] == "all" {
				return printJSON(a.stdout, conf)
			}
			parts, err := splitConfKey(args[0])
			if err != nil {
				return err
			}
			var v any = conf
			for _, k := range parts {
				m, _ := v.(map[string]any)
				var ok bool
				if v, ok = m[k]; !ok {
					return exitError{code: 1, msg: fmt.Sprintf("[tend][ERROR] %s is not set (tend set %s <value>)", args[0], args[0])}
				}
			}
			if m, ok := v.(map[string]any); ok { // a module: its keys, one "set" line each
				keys := make([]string, 0, len(m))
				for k := range m {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				for _, k := range keys {
					fmt.Fprintf(a.stdout, "$ tend set %s:%s %v\n", args[0], k, m[k])
				}
				return nil
			}
			fmt.Fprintln(a.stdout, v)
			return nil
		},
	}
}

func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "    ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// editModuleConf changes $TEND_HOME/module_conf.json with edit, through the
// checked home (package homedir).
func (a *app) editModuleConf(edit func(map[string]any)) error {
	if err := os.MkdirAll(a.home, 0o700); err != nil {
		return err
	}
	conf, err := daemon.LoadModuleConf(a.home)
	if err != nil {
		return err
	}
	edit(conf)
	b, err := json.MarshalIndent(conf, "", "    ")
	if err != nil {
		return err
	}
	return writeHomeFile(a.home, daemon.ModuleConfFile, b)
}

// applySettings makes a running daemon apply the rotation settings now; a
// daemon started later reads them at its start.
func (a *app) applySettings() error {
	ctx, cancel := a.ctx()
	defer cancel()
	rot, err := client.New(a.home).ReloadSettings(ctx)
	if errors.Is(err, client.ErrNoDaemon) {
		return nil
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "[tend] log rotation for every app: %s\n", rot)
	return nil
}

// writeHomeFile replaces the file name of TEND_HOME with b, through the
// checked home (package homedir): no link planted there is followed.
func writeHomeFile(home, name string, b []byte) error {
	h, err := homedir.Open(home)
	if err != nil {
		return err
	}
	defer h.Close()
	f, err := h.OpenFile(name+".tmp", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = h.Rename(name+".tmp", name)
	}
	return err
}

// readHomeFile reads the file name of TEND_HOME, only a file of the user's,
// in a home only it may write.
func readHomeFile(home, name string) ([]byte, error) {
	h, err := homedir.Open(home)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	f, err := h.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}
