//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

const (
	docsBegin = "<!-- bench:results:begin (written by go run ./bench -docs) -->"
	docsEnd   = "<!-- bench:results:end -->"
)

// report prints the table, writes the results folder and, with -docs, the
// docs; it returns the exit code (1 if a scenario failed for tend).
func (r *runner) report() int {
	table := r.table()
	fmt.Println(table)
	out := r.cfg.out
	if out == "" {
		out = filepath.Join(r.root, "bench", "results", time.Now().Format("20060102-150405"))
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		r.logf("%v", err)
		return 1
	}
	type rowInfo struct{ Title, Unit, Target string }
	info := map[string]rowInfo{}
	for _, row := range rows {
		info[row.ID] = rowInfo{row.Title, row.Unit, row.Target}
	}
	var tools []map[string]string
	for _, t := range r.tools {
		tools = append(tools, map[string]string{"name": t.Name(), "version": t.Version()})
	}
	raw := map[string]any{"meta": r.meta, "tools": tools, "rows": info, "results": r.res}
	if b, err := json.MarshalIndent(raw, "", "  "); err != nil {
		r.logf("results.json: %v", err)
	} else {
		os.WriteFile(filepath.Join(out, "results.json"), b, 0o644)
	}
	os.WriteFile(filepath.Join(out, "results.md"), []byte(table+"\n"), 0o644)
	png := r.chart()
	if png != nil {
		os.WriteFile(filepath.Join(out, "chart.png"), png, 0o644)
	}
	r.logf("results in %s", out)
	if r.cfg.docs {
		if png != nil {
			os.WriteFile(filepath.Join(r.root, "bench", "chart.png"), png, 0o644)
		}
		if err := r.writeDocs(table); err != nil {
			r.logf("docs: %v", err)
			return 1
		}
		r.logf("wrote docs/benchmarks.md and bench/chart.png")
	}
	for _, byTool := range r.res {
		if c := byTool["tend"]; c != nil && c.Err != "" {
			return 1
		}
	}
	return 0
}

func (r *runner) toolNames() []string {
	var n []string
	for _, t := range r.tools {
		n = append(n, t.Name())
	}
	return n
}

func (r *runner) table() string {
	var b strings.Builder
	names := r.toolNames()
	hasPM2 := false
	for _, n := range names {
		hasPM2 = hasPM2 || n == "PM2"
	}
	fmt.Fprintf(&b, "Run of %s on %s; %s; %s; took %s; machine %s.\n\n", r.meta["date"], r.meta["machine"], r.meta["go"], r.meta["config"], r.meta["duration"], r.meta["load"])
	for _, t := range r.tools {
		fmt.Fprintf(&b, "- %s %s\n", t.Name(), t.Version())
	}
	b.WriteString("\nEach cell: median (min–max) over the samples; the ratio is tend's median over PM2's.\n\n")
	b.WriteString("| scenario |")
	for _, n := range names {
		b.WriteString(" " + n + " |")
	}
	if hasPM2 {
		b.WriteString(" tend/PM2 |")
	}
	b.WriteString(" target | met |\n|---|")
	for range names {
		b.WriteString("---|")
	}
	if hasPM2 {
		b.WriteString("---|")
	}
	b.WriteString("---|---|\n")
	var notes []string
	for _, row := range rows {
		byTool := r.res[row.ID]
		if !hasFigures(byTool) { // not run (the curve's 10,000 without -curve-max)
			continue
		}
		fmt.Fprintf(&b, "| %s |", row.Title)
		for _, n := range names {
			c := byTool[n]
			b.WriteString(" " + fmtCell(row, c) + " |")
			if c != nil {
				for _, s := range c.Notes {
					notes = append(notes, fmt.Sprintf("%s, %s: %s", row.Title, n, s))
				}
				if c.Err != "" {
					notes = append(notes, fmt.Sprintf("%s, %s: error: %s", row.Title, n, c.Err))
				}
			}
		}
		if hasPM2 {
			b.WriteString(" " + fmtRatio(byTool["tend"], byTool["PM2"]) + " |")
		}
		fmt.Fprintf(&b, " %s | %s |\n", row.Target, met(row, byTool["tend"]))
	}
	if len(notes) > 0 {
		b.WriteString("\nNotes:\n")
		for _, n := range notes {
			b.WriteString("- " + n + "\n")
		}
	}
	return b.String()
}

func fmtNum(v float64, dec int) string {
	if dec == 0 || math.Abs(v) >= 1000 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', dec, 64)
}

func fmtCell(row rowDef, c *cell) string {
	if c == nil {
		return "–"
	}
	if c.Over > 0 && len(c.Samples) == 0 {
		return fmt.Sprintf("> %s %s (never)", fmtNum(c.Over, 0), row.Unit)
	}
	if len(c.Samples) == 0 {
		if c.Err != "" {
			return "error"
		}
		if len(c.Notes) > 0 && strings.HasPrefix(c.Notes[0], "n/a") {
			return "n/a"
		}
		return "–"
	}
	s := summarize(c.Samples)
	out := fmtNum(s.Median, row.Dec) + " " + row.Unit
	if s.N > 1 && s.Min != s.Max {
		out += fmt.Sprintf(" (%s–%s)", fmtNum(s.Min, row.Dec), fmtNum(s.Max, row.Dec))
	}
	return out
}

// value is a cell's median, or its timeout bound, or NaN.
func value(c *cell) (v float64, lowerBound bool) {
	if c == nil {
		return nan, false
	}
	if len(c.Samples) > 0 {
		return summarize(c.Samples).Median, false
	}
	if c.Over > 0 {
		return c.Over, true
	}
	return nan, false
}

func fmtRatio(tend, pm2 *cell) string {
	a, aOver := value(tend)
	b, bOver := value(pm2)
	switch {
	case math.IsNaN(a) || math.IsNaN(b) || aOver && bOver:
		return "–"
	case b == 0 && a == 0:
		return "–"
	case b == 0:
		return "∞"
	case a == 0:
		return "0"
	}
	r := a / b
	s := strconv.FormatFloat(r, 'g', 2, 64)
	if r < 1 {
		s += fmt.Sprintf(" (1/%s)", strconv.FormatFloat(b/a, 'f', 0, 64))
	}
	if aOver {
		s = "> " + s
	} else if bOver {
		s = "< " + s
	}
	return s
}

func met(row rowDef, c *cell) string {
	if math.IsNaN(row.Max) {
		return ""
	}
	v, over := value(c)
	switch {
	case math.IsNaN(v):
		return "?"
	case !over && v <= row.Max:
		return "yes"
	default:
		return "**no**"
	}
}

func (r *runner) writeDocs(table string) error {
	path := filepath.Join(r.root, "docs", "benchmarks.md")
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := string(b)
	i, j := strings.Index(s, docsBegin), strings.Index(s, docsEnd)
	if i < 0 || j < i {
		return fmt.Errorf("%s has no %q … %q markers", path, docsBegin, docsEnd)
	}
	s = s[:i+len(docsBegin)] + "\n\n" + table + "\n![tend against PM2, times better](../bench/chart.png)\n\n" + s[j:]
	return os.WriteFile(path, []byte(s), 0o644)
}

func hasFigures(byTool map[string]*cell) bool {
	for _, c := range byTool {
		if c != nil && (len(c.Samples) > 0 || c.Over > 0 || c.Err != "") {
			return true
		}
	}
	return false
}
