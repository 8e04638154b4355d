package supervisor

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tend-dev/tend/internal/config"
)

// Restore takes, for each pm_id, the newest record that decodes: a write
// cut short damages only the slot it was writing.
func TestRestoreNewestWholeRecord(t *testing.T) {
	home := t.TempDir()
	dir := filepath.Join(home, StateDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	rec := func(seq uint64, boot string, id, restarts int) []byte {
		app, _ := json.Marshal(config.App{Name: "web", Script: "web.sh"})
		b, err := json.Marshal(savedProc{Seq: seq, BootID: boot, ID: id, App: app, Status: Stopped, Restarts: restarts})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	newer := rec(8, bootIDOnce(), 0, 9)
	write("0.a", newer[:len(newer)/2])                             // torn by a SIGKILL
	write("0.b", append(rec(7, bootIDOnce(), 0, 3), "garbage"...)) // longer than the next record was
	write("1.a", rec(1, "another-boot", 1, 0))
	write("2.a", []byte("{"))

	s := New(Options{Home: home})
	res, err := s.Restore()
	if err == nil || !strings.Contains(err.Error(), "pm_id 2") || strings.Contains(err.Error(), "pm_id 0") {
		t.Fatalf("error %v: want one naming pm_id 2 only", err)
	}
	if res.Kept != 1 || !strings.Contains(res.Note, "1 records from before the machine last booted") {
		t.Fatalf("restored %+v", res)
	}
	ps := s.List()
	if len(ps) != 1 || ps[0].PMID != 0 || ps[0].PM2Env.RestartTime != 3 || ps[0].PM2Env.Status != string(Stopped) {
		t.Fatalf("list %+v", ps)
	}
	// The next record of pm_id 0 goes over the torn one, newer than the
	// whole one.
	s.sorted()[0].save()
	sp, err := readRecord(filepath.Join(dir, "0.a"))
	if err != nil || sp.Seq != 8 || sp.Restarts != 3 {
		t.Fatalf("next record: seq %d restarts %d, %v", sp.Seq, sp.Restarts, err)
	}
	s.Shutdown(t.Context())
	if _, err := os.Stat(filepath.Join(dir, "0.a")); !os.IsNotExist(err) {
		t.Fatalf("records left after every process was deleted: %v", err)
	}
}
