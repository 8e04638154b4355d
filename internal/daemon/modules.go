package daemon

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/tend-dev/tend/internal/config"
	"github.com/tend-dev/tend/internal/logs"
)

// ModuleConfFile is PM2's module configuration store in $TEND_HOME (what
// `tend set`, `get`, `unset` and `conf` edit, as PM2's do in ~/.pm2).
const ModuleConfFile = "module_conf.json"

// ModuleDB is the key of module_conf.json under which PM2 lists the
// installed modules.
const ModuleDB = "module-db-v2"

// Logrotate is the one PM2 module tend stands in for: its rotation is built
// in, configured by the module's keys.
const Logrotate = "pm2-logrotate"

// LogrotateDefaults are the settings pm2-logrotate starts with.
var LogrotateDefaults = map[string]any{
	"max_size": "10M", "retain": "30", "compress": false, "dateFormat": "YYYY-MM-DD_HH-mm-ss",
	"workerInterval": "30", "rotateInterval": "0 0 * * *", "rotateModule": true,
}

// LoadModuleConf reads $home/module_conf.json ({} when there is none).
func LoadModuleConf(home string) (map[string]any, error) {
	conf := map[string]any{}
	b, err := readHomeFile(home, ModuleConfFile)
	if err != nil || len(b) == 0 {
		return conf, err
	}
	if err := json.Unmarshal(b, &conf); err != nil {
		return map[string]any{}, fmt.Errorf("%s: %v", ModuleConfFile, err)
	}
	return conf, nil
}

// LogrotateInstalled tells whether `tend install pm2-logrotate` was run.
func LogrotateInstalled(conf map[string]any) bool {
	db, _ := conf[ModuleDB].(map[string]any)
	_, ok := db[Logrotate]
	return ok
}

// LogrotateRotation is the rotation pm2-logrotate's keys in conf describe,
// over base for what they leave unset; notes say which keys tend reads
// differently.
func LogrotateRotation(conf map[string]any, base logs.Rotation) (logs.Rotation, []string, error) {
	m, _ := conf[Logrotate].(map[string]any)
	get := func(k string) (string, bool) {
		v, ok := m[k]
		if !ok {
			v, ok = LogrotateDefaults[k]
		}
		if !ok || v == nil {
			return "", false
		}
		return strings.TrimSpace(fmt.Sprint(v)), true
	}
	rot := base
	var notes []string
	if v, ok := get("max_size"); ok {
		n, err := config.ParseBytes(v)
		if err != nil {
			return base, nil, fmt.Errorf("%s:max_size %q: %v", Logrotate, v, err)
		}
		rot.MaxSize = n
	}
	if v, ok := get("retain"); ok {
		if v == "all" {
			rot.Retain = 0
		} else if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			rot.Retain = n
		} else {
			return base, nil, fmt.Errorf("%s:retain %q: give a number of files (or all)", Logrotate, v)
		}
	}
	if v, ok := get("compress"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return base, nil, fmt.Errorf("%s:compress %q: give true or false", Logrotate, v)
		}
		rot.Compress = b
	}
	if v, ok := get("rotateInterval"); ok {
		if f := strings.Fields(v); len(f) == 6 && f[0] == "0" {
			v = strings.Join(f[1:], " ") // node-schedule's seconds field, at 0
		}
		if _, err := logs.ParseInterval(v); err != nil {
			return base, nil, fmt.Errorf("%s:rotateInterval %q: %v", Logrotate, v, err)
		}
		rot.Interval = v
	}
	// Keys tend does not follow, when set to other than the module's default.
	for k, why := range map[string]string{
		"dateFormat":     "rotated files are named with YYYY-MM-DD_HH-mm-ss",
		"workerInterval": "tend checks the size at every write",
		"rotateModule":   "the daemon's own log (tend.log) is not rotated",
	} {
		if v, ok := m[k]; ok && fmt.Sprint(v) != fmt.Sprint(LogrotateDefaults[k]) {
			notes = append(notes, fmt.Sprintf("%s %v: ignored: %s", k, v, why))
		}
	}
	return rot, notes, nil
}
