package pm2

import (
	"regexp"
	"strings"
	"sync"

	"github.com/tend-dev/tend/internal/lazyre"
)

// option describes one key of PM2's option schema (lib/API/schema.json): the
// JavaScript types it accepts, its aliases, the checks PM2 applies and the default
// PM2 fills in.
type option struct {
	key   string
	types []string // "string", "number", "boolean", "array", "object"
	// aliases are the alternative names as written in the schema; the camelCase form
	// of key is added by aliasesOf.
	aliases []string
	regex   func() *regexp.Regexp // compiled on first use
	desc    string                // message used when regex does not match
	min     *float64
	unit    string // "bytes" or "time": strings such as "300M" or "10s" are converted
	def     any    // default set when absent (nil: none)
	// regexKey marks the pattern entry (env_*) matched against the remaining keys.
	regexKey bool
	pattern  func() *regexp.Regexp
}

func fp(f float64) *float64 { return &f }

// schema lists PM2 7's options in the order of schema.json (the order matters only for
// the order of validation messages).
var schema = []*option{
	{key: "script", types: []string{"string"}, aliases: []string{"exec"}},
	{key: "name", types: []string{"string"}},
	{key: "name_prefix", types: []string{"string"}},
	{key: "filter_env", types: []string{"boolean", "array", "string"}},
	{key: "namespace", types: []string{"string"}},
	{key: "install_url", types: []string{"string"}},
	{key: "cwd", types: []string{"string"}},
	{key: "args", types: []string{"array", "string"}},
	{key: "exec_interpreter", types: []string{"string"}, aliases: []string{"interpreter"}},
	{key: "node_args", types: []string{"array", "string"}, aliases: []string{"interpreterArgs", "interpreter_args"}},
	{key: "out_file", types: []string{"string"}, aliases: []string{"out", "output", "out_log"}},
	{key: "error_file", types: []string{"string"}, aliases: []string{"error", "err", "err_file", "err_log"}},
	{key: "log_file", types: []string{"boolean", "string"}, aliases: []string{"log"}},
	{key: "disable_logs", types: []string{"boolean"}},
	{key: "log_type", types: []string{"string"}},
	{key: "log_date_format", types: []string{"string"}},
	{key: "time", types: []string{"boolean"}},
	{key: "env", types: []string{"object", "string"}},
	{key: `^env_\S*$`, types: []string{"object", "string"}, regexKey: true, pattern: lazyre.New(`^env_\S*$`)},
	{key: "max_memory_restart", types: []string{"string", "number"}, regex: lazyre.New(`^\d+(G|M|K)?$`),
		desc: `it should be a NUMBER - byte, "[NUMBER]G"(Gigabyte), "[NUMBER]M"(Megabyte) or "[NUMBER]K"(Kilobyte)`, unit: "bytes"},
	{key: "pid_file", types: []string{"string"}, aliases: []string{"pid"}},
	{key: "restart_delay", types: []string{"number"}},
	{key: "exp_backoff_restart_delay", types: []string{"number"}},
	{key: "source_map_support", types: []string{"boolean"}},
	{key: "disable_source_map_support", types: []string{"boolean"}},
	{key: "wait_ready", types: []string{"boolean"}},
	{key: "instances", types: []string{"number"}},
	{key: "kill_timeout", types: []string{"number"}},
	{key: "shutdown_with_message", types: []string{"boolean"}},
	{key: "listen_timeout", types: []string{"number"}},
	{key: "cron_restart", types: []string{"string", "number"}, aliases: []string{"cron"}},
	{key: "merge_logs", types: []string{"boolean"}, aliases: []string{"combine_logs"}},
	{key: "vizion", types: []string{"boolean"}, def: true},
	{key: "autostart", types: []string{"boolean"}, def: true},
	{key: "autorestart", types: []string{"boolean"}, def: true},
	{key: "stop_exit_codes", types: []string{"array", "number"}},
	{key: "watch_delay", types: []string{"number"}},
	{key: "watch", types: []string{"boolean", "array", "string"}},
	{key: "ignore_watch", types: []string{"array", "string"}},
	{key: "watch_options", types: []string{"object"}},
	{key: "min_uptime", types: []string{"number", "string"}, regex: lazyre.New(`^\d+(h|m|s)?$`),
		desc: `it should be a NUMBER - milliseconds, "[NUMBER]h"(hours), "[NUMBER]m"(minutes) or "[NUMBER]s"(seconds)`,
		min:  fp(100), unit: "time"},
	{key: "max_restarts", types: []string{"number"}, min: fp(0)},
	{key: "execute_command", types: []string{"boolean"}},
	{key: "exec_mode", types: []string{"string"}, regex: lazyre.New(`^(cluster|fork)(_mode)?$`),
		desc: `it should be "cluster"("cluster_mode") or "fork"("fork_mode") only`},
	{key: "force", types: []string{"boolean"}},
	{key: "append_env_to_name", types: []string{"boolean"}},
	{key: "post_update", types: []string{"array"}},
	{key: "trace", types: []string{"boolean"}},
	{key: "disable_trace", types: []string{"boolean"}},
	{key: "v8", types: []string{"boolean"}},
	{key: "event_loop_inspector", types: []string{"boolean"}},
	{key: "deep_monitoring", types: []string{"boolean"}},
	{key: "increment_var", types: []string{"string"}},
	{key: "instance_var", types: []string{"string"}, def: "NODE_APP_INSTANCE"},
	{key: "pmx", types: []string{"boolean", "string"}, def: true},
	{key: "automation", types: []string{"boolean"}, def: true},
	{key: "treekill", types: []string{"boolean"}, def: true},
	{key: "port", types: []string{"number"}},
	{key: "username", types: []string{"string"}},
	{key: "uid", types: []string{"number", "string"}, aliases: []string{"user"}},
	{key: "gid", types: []string{"number", "string"}},
	{key: "windowsHide", types: []string{"boolean"}, def: true},
	{key: "kill_retry_time", types: []string{"number"}, def: 100.0},
	{key: "write", types: []string{"boolean"}},
	{key: "io", types: []string{"object"}},

	// tend's own options, beyond PM2's schema (docs/configuration.md). PM2 drops
	// unknown keys, so no PM2 file changes meaning by their presence.
	{key: "kill_signal", types: []string{"string"}, regex: lazyre.New(`^(SIG)?[A-Z0-9]+$|^[0-9]+$`),
		desc: `it should be a signal name such as "SIGINT", "SIGTERM" or "SIGQUIT"`},
	{key: "log_max_size", types: []string{"string", "number"}, regex: lazyre.New(`^\d+(G|M|K)?$`),
		desc: `it should be a NUMBER - byte, "[NUMBER]G"(Gigabyte), "[NUMBER]M"(Megabyte) or "[NUMBER]K"(Kilobyte)`, unit: "bytes"},
	{key: "log_retain", types: []string{"number"}, min: fp(0)},
	{key: "log_compress", types: []string{"boolean"}},
	{key: "log_rotate_interval", types: []string{"string"}},
}

// health checks, dependencies and preflight (docs/configuration.md)
var tendHealthOptions = []*option{
	{key: "depends_on", types: []string{"array", "object", "string"}},
	{key: "readiness", types: []string{"object"}, aliases: []string{"readiness_probe", "readinessProbe"}},
	{key: "liveness", types: []string{"object"}, aliases: []string{"liveness_probe", "livenessProbe"}},
	{key: "required_env", types: []string{"array", "string"}},
	{key: "ports", types: []string{"array", "number"}},
	{key: "data", types: []string{"array", "string"}},
}

func init() {
	schema = append(schema, tendHealthOptions...)
	for _, o := range tendHealthOptions {
		tendOptions[o.key] = true
	}
}

// tendOptions are the keys of schema that PM2 does not know.
var tendOptions = map[string]bool{"kill_signal": true,
	"log_max_size": true, "log_retain": true, "log_compress": true, "log_rotate_interval": true}

// camelCase turns exec_interpreter into execInterpreter (PM2 accepts both spellings;
// one-letter words are left as they are).
func camelCase(key string) string {
	parts := strings.Split(key, "_")
	for i := 1; i < len(parts); i++ {
		if len(parts[i]) > 1 {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

// aliasesOf returns the names looked up, in PM2's order, when key itself is not set
// to a js.Truthy value: the schema aliases, last one first, then the camelCase form.
func (o *option) aliasList() []string {
	out := make([]string, 0, len(o.aliases)+1)
	for i := len(o.aliases) - 1; i >= 0; i-- {
		out = append(out, o.aliases[i])
	}
	return append(out, camelCase(o.key))
}

// schemaTables are the lookup tables over schema.
type schemaTables struct {
	aliases    map[string][]string // key -> alias lookup order
	target     map[string]string   // alias -> canonical key
	byKey      map[string]*option
	envPattern *option
}

// tables builds the lookup tables on first use, after every init has added
// its options to schema (and not at package init: every tend command links
// this package).
var tables = sync.OnceValue(func() *schemaTables {
	t := &schemaTables{aliases: map[string][]string{}, target: map[string]string{}, byKey: map[string]*option{}}
	for _, o := range schema {
		if o.regexKey {
			t.envPattern = o
			continue
		}
		t.byKey[o.key] = o
		al := o.aliasList()
		t.aliases[o.key] = al
		for _, a := range al {
			if a != o.key {
				t.target[a] = o.key
			}
		}
	}
	return t
})
