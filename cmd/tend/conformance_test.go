//go:build linux

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/rogpeppe/go-internal/txtar"

	"github.com/tend-dev/tend/internal/api"
	"github.com/tend-dev/tend/internal/client"
)

// conformanceDir holds the cases, PM2 7.0.4's recorded answers and the
// fixture they run in (see record.sh there).
const conformanceDir = "testdata/pm2/conformance"

// TestConformance runs every case of cases.txt and cases.gen.txt (generated
// from PM2's command definitions by gen-cases.js) with tend, in a fresh
// home, and compares with what PM2 7.0.4 gave (<case>.json): each
// invocation's exit code and machine-readable stdout, the resulting process
// list, and the files left behind (the dump's apps, module_conf.json, the
// log files, files written in the app's folder). Fields listed in
// differences.txt for a case are deliberate differences: logged, not
// compared.
func TestConformance(t *testing.T) {
	if _, err := os.Stat(conformanceDir); err != nil {
		t.Skip(err)
	}
	var cases []conformanceCase
	for _, f := range []string{"cases.txt", "cases.gen.txt"} {
		c, err := readCases(filepath.Join(conformanceDir, f))
		if err != nil {
			t.Fatal(err)
		}
		if raceDetector || testing.Short() {
			// Each case starts a daemon and its apps, and the race detector
			// finds nothing in a CLI's answers that the other tests of
			// this package do not exercise: under it (or -short) a sample
			// runs — every 4th written case, every 20th generated one — so
			// the package stays well within go test's time limit. CI runs
			// every case without the race detector (.ci/run).
			step := 4
			if f == "cases.gen.txt" {
				step = 20
			}
			var some []conformanceCase
			for i := 0; i < len(c); i += step {
				some = append(some, c[i])
			}
			t.Logf("race detector or -short: %d of the %d cases of %s run", len(some), len(c), f)
			c = some
		}
		cases = append(cases, c...)
	}
	var fixture []txtar.File
	root := filepath.Join(conformanceDir, "fixture")
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		fixture = append(fixture, txtar.File{Name: filepath.ToSlash(rel), Data: b})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, c := range cases {
		b, err := os.ReadFile(filepath.Join(conformanceDir, c.name+".json"))
		if err != nil {
			t.Errorf("case %s has no recorded answer (run record.sh): %v", c.name, err)
			continue
		}
		var g golden
		if err := json.Unmarshal(b, &g); err != nil {
			t.Fatalf("%s.json: %v", c.name, err)
		}
		if len(g.Exits) != len(c.lines) {
			t.Fatalf("%s.json: %d exit codes for %d invocations: record it again", c.name, len(g.Exits), len(c.lines))
		}
		var s strings.Builder
		s.WriteString("[!exec:node] skip 'node is not installed'\n")
		abs, _ := filepath.Abs(filepath.Join(conformanceDir, c.name+".json"))
		for i, l := range c.lines {
			// cases.txt quotes for a shell, testscript with single quotes
			fmt.Fprintf(&s, "pm2-exec %s %s %d %s\n", c.name, abs, i, strings.ReplaceAll(l, `"`, "'"))
		}
		fmt.Fprintf(&s, "pm2-conform %s %s\nexec tend kill\n", c.name, abs)
		a := &txtar.Archive{Comment: []byte(s.String()), Files: fixture}
		if err := os.WriteFile(filepath.Join(dir, c.name+".txtar"), txtar.Format(a), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p := scriptParams()
	p.Dir = dir
	testscript.Run(t, p)
}

type conformanceCase struct {
	name  string
	lines []string
}

type golden struct {
	Exits []int            `json:"exits"`
	Procs []map[string]any `json:"procs"`
	// Stdout is, per invocation, the normalized stdout of a verb that
	// prints for machines (see machineOutput), or null.
	Stdout []any `json:"stdout"`
	// Files: the apps of the dump (null: no dump), module_conf.json ({}
	// when absent), the files in the home's logs/ and those the case wrote
	// in the app's folder.
	Files map[string]any `json:"files"`
}

func readCases(path string) ([]conformanceCase, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []conformanceCase
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		switch {
		case l == "" || strings.HasPrefix(l, "#"):
		case strings.HasPrefix(l, "== "):
			out = append(out, conformanceCase{name: strings.TrimPrefix(l, "== ")})
		case len(out) > 0:
			out[len(out)-1].lines = append(out[len(out)-1].lines, l)
		}
	}
	return out, sc.Err()
}

// differences reads differences.txt: "<case> <field>: why" lines, the
// deliberate differences with PM2. <case> may be a pattern ("*" for every
// case); <field> is a field of the list, "exit" for the exit codes,
// "stdout", "files.dump", "files.module_conf", "files.logs", "files.app",
// or "list" for the whole list and the files.
func differences() map[string]string {
	out := map[string]string{}
	b, err := os.ReadFile(filepath.Join(conformanceDir, "differences.txt"))
	if err != nil {
		return out
	}
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		k, why, _ := strings.Cut(l, ":")
		out[strings.Join(strings.Fields(k), " ")] = strings.TrimSpace(why)
	}
	return out
}

// readGolden reads a case's recorded answer.
func readGolden(ts *testscript.TestScript, path string) golden {
	var g golden
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(path)), &g))
	return g
}

// documented returns why a field of a case differs from PM2 on purpose
// (differences.txt), for that case or for the cases a pattern names
// ("*" for every case, "g_*_disable_logs").
func documented(skip map[string]string, name, field string) (string, bool) {
	if why, ok := skip[name+" "+field]; ok {
		return why, true
	}
	for k, why := range skip {
		pat, f, _ := strings.Cut(k, " ")
		if ok, _ := path.Match(pat, name); ok && f == field {
			return why, true
		}
	}
	return "", false
}

// pm2-exec <case> <golden.json> <i> <args...>: runs tend with the args
// (the case's invocation i) and compares its exit code, and the stdout of
// a verb that prints for machines, with PM2's.
func cmdPM2Exec(ts *testscript.TestScript, neg bool, args []string) {
	name, g := args[0], readGolden(ts, args[1])
	i, err := strconv.Atoi(args[2])
	ts.Check(err)
	inv := args[3:]
	code := 0
	if err := ts.Exec("tend", inv...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("tend %s: %v", strings.Join(inv, " "), err)
		}
		code = ee.ExitCode()
	}
	skip := differences()
	var bad []string
	if code != g.Exits[i] {
		if why, ok := documented(skip, name, "exit"); ok {
			ts.Logf("documented difference: exit: tend %d, PM2 %d (%s)", code, g.Exits[i], why)
		} else {
			bad = append(bad, fmt.Sprintf("exit code: tend %d, PM2 %d", code, g.Exits[i]))
		}
	}
	if i < len(g.Stdout) && g.Stdout[i] != nil && len(inv) > 0 {
		got := machineOutput(inv[0], ts.ReadFile("stdout"))
		if !sameJSON(got, g.Stdout[i]) {
			if why, ok := documented(skip, name, "stdout"); ok {
				ts.Logf("documented difference: stdout: tend %v, PM2 %v (%s)", got, g.Stdout[i], why)
			} else {
				bad = append(bad, fmt.Sprintf("stdout:\n    tend %v\n    PM2  %v", got, g.Stdout[i]))
			}
		}
	}
	if len(bad) > 0 {
		ts.Fatalf("tend %s differs from PM2 7.0.4:\n  %s", strings.Join(inv, " "), strings.Join(bad, "\n  "))
	}
}

// ansi matches a terminal colour sequence; pidLike a number of 3 digits or
// more (pids, in the normalized stdout).
var (
	ansi    = regexp.MustCompile(`\x1b\[[0-9;]*m`)
	pidLike = regexp.MustCompile(`[1-9][0-9]{2,}`)
)

// machineOutput normalizes the stdout of a verb as record.sh's normalize_out:
// jlist as its process list, prettylist as its sorted top-level name and
// pm_id lines, any other verb as its lines without messages, trailing
// blanks and pids.
func machineOutput(verb, out string) any {
	out = ansi.ReplaceAllString(out, "")
	switch verb {
	case "jlist":
		var list []map[string]any
		if err := json.Unmarshal([]byte(out), &list); err != nil {
			return "not JSON: " + out
		}
		sort.Slice(list, func(i, j int) bool { return fmt.Sprint(list[i]["pm_id"]) < fmt.Sprint(list[j]["pm_id"]) })
		procs := []any{}
		for _, p := range list {
			procs = append(procs, normalize(p))
		}
		return procs
	case "prettylist":
		lines := []string{}
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, "    name: ") || strings.HasPrefix(l, "    pm_id: ") {
				lines = append(lines, strings.TrimSuffix(l, ","))
			}
		}
		sort.Strings(lines)
		return lines
	}
	lines := []string{}
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimRight(l, " \t\r")
		if l == "" || strings.HasPrefix(l, "[PM2]") || strings.HasPrefix(l, "[tend]") {
			continue
		}
		lines = append(lines, pidLike.ReplaceAllString(l, "<pid>"))
	}
	return lines
}

// sameJSON compares two values as JSON (numbers as JSON numbers).
func sameJSON(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	if err1 != nil || err2 != nil {
		return false
	}
	var va, vb any
	_ = json.Unmarshal(ja, &va)
	_ = json.Unmarshal(jb, &vb)
	return reflect.DeepEqual(va, vb)
}

// pm2-conform <case> <golden.json>: once no process is launching, tend's
// process list, reduced as normalize.jq reduces PM2's, equals the recorded
// one, field by field, and the files the case left are PM2's (but the
// documented differences).
func cmdPM2Conform(ts *testscript.TestScript, neg bool, args []string) {
	g := readGolden(ts, args[1])
	home := ts.Getenv("TEND_HOME")
	c := client.New(home)
	waitFor(ts, "no process launching", 30*time.Second, func() (bool, string) {
		ps, err := c.List(context.Background())
		if err != nil {
			return true, err.Error() // no daemon: nothing to wait for
		}
		for _, p := range ps {
			if p.PM2Env.Status == api.StatusLaunching || p.PM2Env.Status == api.StatusWaiting {
				return false, p.Name + " " + p.PM2Env.Status
			}
		}
		return true, ""
	})
	raw, err := c.ListRaw(context.Background())
	if err != nil {
		raw = []byte("[]")
	}
	var list []map[string]any
	ts.Check(json.Unmarshal(raw, &list))
	sort.Slice(list, func(i, j int) bool { return list[i]["pm_id"].(float64) < list[j]["pm_id"].(float64) })
	skip := differences()
	var bad []string
	why, whole := documented(skip, args[0], "list")
	if whole {
		ts.Logf("documented difference: the process list and the files (%s)", why)
	} else {
		bad = compareList(ts, skip, args[0], list, g.Procs)
	}
	if g.Files != nil && !whole {
		got := conformFiles(ts, home)
		for _, k := range []string{"dump", "module_conf", "logs", "app"} {
			if sameJSON(got[k], g.Files[k]) {
				continue
			}
			if why, ok := documented(skip, args[0], "files."+k); ok {
				ts.Logf("documented difference: files.%s: tend %v, PM2 %v (%s)", k, got[k], g.Files[k], why)
				continue
			}
			bad = append(bad, fmt.Sprintf("files.%s:\n    tend %v\n    PM2  %v", k, got[k], g.Files[k]))
		}
	}
	if len(bad) > 0 {
		ts.Fatalf("differs from PM2 7.0.4:\n  %s", strings.Join(bad, "\n  "))
	}
}

// compareList compares tend's process list with PM2's, field by field.
func compareList(ts *testscript.TestScript, skip map[string]string, name string, list, want []map[string]any) []string {
	var bad []string
	if len(list) != len(want) {
		bad = append(bad, fmt.Sprintf("%d processes, PM2 has %d", len(list), len(want)))
	}
	for i := 0; i < min(len(list), len(want)); i++ {
		got := normalize(list[i])
		for k, w := range want[i] {
			if reflect.DeepEqual(got[k], w) {
				continue
			}
			if why, ok := documented(skip, name, k); ok {
				ts.Logf("documented difference: %s: tend %v, PM2 %v (%s)", k, got[k], w, why)
				continue
			}
			bad = append(bad, fmt.Sprintf("process %d %s: tend %v, PM2 %v", i, k, got[k], w))
		}
	}
	return bad
}

// conformFiles is what record.sh records of PM2's home for a case, from
// tend's: the dump's apps reduced as normalize-dump.jq (nil without a dump),
// module_conf.json ({} when absent), the names in logs/, and the files
// written in the case's folder (beside the fixture and the home).
func conformFiles(ts *testscript.TestScript, home string) map[string]any {
	out := map[string]any{"dump": nil, "module_conf": map[string]any{}, "logs": []string{}, "app": []string{}}
	if b, err := os.ReadFile(filepath.Join(home, "dump.json")); err == nil {
		var apps []map[string]any
		if json.Unmarshal(b, &apps) == nil {
			out["dump"] = dumpApps(apps)
		}
	}
	if b, err := os.ReadFile(filepath.Join(home, "module_conf.json")); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		var conf map[string]any
		if json.Unmarshal(b, &conf) == nil {
			delete(conf, "module-db-v2")
			out["module_conf"] = conf
		}
	}
	if es, err := os.ReadDir(filepath.Join(home, "logs")); err == nil {
		var names []string
		for _, e := range es {
			names = append(names, e.Name())
		}
		out["logs"] = names
	}
	fixture := filepath.Join(conformanceDir, "fixture")
	work := ts.Getenv("WORK")
	var app []string
	_ = filepath.WalkDir(work, func(p string, d os.DirEntry, err error) error {
		if err != nil || p == work {
			return nil
		}
		rel, _ := filepath.Rel(work, p)
		if p == home || rel == ".tmp" {
			return filepath.SkipDir
		}
		if _, err := os.Stat(filepath.Join(fixture, rel)); err != nil {
			app = append(app, filepath.ToSlash(rel))
		}
		return nil
	})
	if app != nil {
		sort.Strings(app)
		out["app"] = app
	}
	return out
}

// dumpApps reduces tend's dump.json as normalize-dump.jq reduces PM2's
// dump.pm2: one entry per app, with the number of processes the dump
// brings back (PM2 has an entry per process, tend one per app with its
// instances), sorted by name.
func dumpApps(apps []map[string]any) []any {
	out := []any{}
	sort.SliceStable(apps, func(i, j int) bool { return fmt.Sprint(apps[i]["name"]) < fmt.Sprint(apps[j]["name"]) })
	for _, a := range apps {
		ns, _ := a["namespace"].(string)
		if ns == "" {
			ns = "default"
		}
		n := a["instances"]
		if n == nil {
			n = float64(1)
		}
		var nodeEnv any
		if env, ok := a["env"].(map[string]any); ok {
			nodeEnv = env["NODE_ENV"]
		}
		out = append(out, map[string]any{"name": a["name"], "namespace": ns, "exec_mode": a["exec_mode"],
			"autorestart": a["autorestart"], "NODE_ENV": nodeEnv, "processes": n})
	}
	return out
}

// normalize is normalize.jq for one process of tend's jlist.
func normalize(p map[string]any) map[string]any {
	e, _ := p["pm2_env"].(map[string]any)
	field := func(k string) any {
		if v, ok := e[k]; ok {
			return v
		}
		return "<absent>"
	}
	return map[string]any{
		"name": p["name"], "pm_id": p["pm_id"], "status": e["status"], "namespace": e["namespace"],
		"exec_mode": e["exec_mode"], "instances": e["instances"], "autorestart": e["autorestart"],
		"restart_time": e["restart_time"], "watch": field("watch"), "args": field("args"),
		"version": field("version"), "NODE_ENV": field("NODE_ENV"), "instance_var": e["instance_var"],
		"INSTANCE_ID": field("INSTANCE_ID"),
	}
}
