//go:build linux

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
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

// TestConformance runs every case of cases.txt with tend, in a fresh home,
// and compares each invocation's exit code and the resulting process list
// with what PM2 7.0.4 gave (<case>.json). Fields listed in differences.txt
// for a case are deliberate differences: logged, not compared.
func TestConformance(t *testing.T) {
	if _, err := os.Stat(conformanceDir); err != nil {
		t.Skip(err)
	}
	cases, err := readCases(filepath.Join(conformanceDir, "cases.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var fixture []txtar.File
	root := filepath.Join(conformanceDir, "fixture")
	err = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
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
	diffs := differences()
	for _, c := range cases {
		b, err := os.ReadFile(filepath.Join(conformanceDir, c.name+".json"))
		if err != nil {
			t.Fatalf("case %s has no recorded answer (run record.sh): %v", c.name, err)
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
		for i, l := range c.lines {
			// A documented "exit" difference: tend succeeds where PM2 fails.
			_, succeeds := diffs[c.name+" exit"]
			if g.Exits[i] != 0 && !succeeds {
				s.WriteString("! ")
			}
			// cases.txt quotes for a shell, testscript with single quotes
			s.WriteString("exec tend " + strings.ReplaceAll(l, `"`, "'") + "\n")
		}
		abs, _ := filepath.Abs(filepath.Join(conformanceDir, c.name+".json"))
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
// deliberate differences with PM2 ("*" for every case; "exit" for the exit
// codes, "list" for the whole list).
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

// pm2-conform <case> <golden.json>: once no process is launching, tend's
// process list, reduced as normalize.jq reduces PM2's, equals the recorded
// one, field by field (but the documented differences).
func cmdPM2Conform(ts *testscript.TestScript, neg bool, args []string) {
	var g golden
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[1])), &g))
	c := client.New(ts.Getenv("TEND_HOME"))
	var raw []byte
	waitFor(ts, "no process launching", 10*time.Second, func() (bool, string) {
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
	if why, ok := skip[args[0]+" list"]; ok {
		ts.Logf("documented difference: the process list (%s)", why)
		return
	}
	var bad []string
	if len(list) != len(g.Procs) {
		bad = append(bad, fmt.Sprintf("%d processes, PM2 has %d", len(list), len(g.Procs)))
	}
	for i := 0; i < min(len(list), len(g.Procs)); i++ {
		got := normalize(list[i])
		for k, want := range g.Procs[i] {
			why, ok := skip[args[0]+" "+k]
			if !ok {
				why, ok = skip["* "+k] // a difference of every case
			}
			if ok {
				if !reflect.DeepEqual(got[k], want) {
					ts.Logf("documented difference: %s: tend %v, PM2 %v (%s)", k, got[k], want, why)
				}
				continue
			}
			if !reflect.DeepEqual(got[k], want) {
				bad = append(bad, fmt.Sprintf("process %d %s: tend %v, PM2 %v", i, k, got[k], want))
			}
		}
	}
	if len(bad) > 0 {
		ts.Fatalf("differs from PM2 7.0.4:\n  %s", strings.Join(bad, "\n  "))
	}
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
