//go:build linux

package main

import (
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestSmoke runs every scenario on tend alone at tiny sizes: it checks that the
// harness still works, not how fast tend is (go run ./bench measures that).
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("the benchmark harness smoke run builds tend and starts a daemon")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	cfg := config{
		smoke: true, reps: 1, n100: 10, n1000: 20, listCalls: 3, crashGaps: 3, curveMax: 10000,
		lines: 20000, idle: 600 * time.Millisecond, memTimeout: 5 * time.Second,
		only: map[string]bool{}, out: filepath.Join(t.TempDir(), "results"),
	}
	r := &runner{cfg: cfg, res: map[string]map[string]*cell{}, meta: map[string]string{}}
	code := r.runAll()
	for _, row := range rows {
		c := r.res[row.ID]["tend"]
		switch {
		case c == nil:
			t.Errorf("%s: no result for tend", row.ID)
		case c.Err != "":
			t.Errorf("%s: %s", row.ID, c.Err)
		case len(c.Samples) == 0 && c.Over == 0:
			t.Errorf("%s: no sample for tend (notes %v)", row.ID, c.Notes)
		}
	}
	if code == 2 {
		t.Fatalf("the harness could not set up")
	}
}
