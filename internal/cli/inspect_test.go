package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInspectLikeNode compares inspect with what Node's util.inspect printed
// for the same JSON (testdata/inspect/*.txt, made with
// `node -e "process.stdout.write(require('util').inspect(JSON.parse(fs.readFileSync(f)), false, null, false))"`),
// among them two jlists of PM2 7.0.4.
func TestInspectLikeNode(t *testing.T) {
	files, err := filepath.Glob("testdata/inspect/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, f := range files {
		in, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(strings.TrimSuffix(f, ".json") + ".txt")
		if err != nil {
			t.Fatal(err)
		}
		got, err := inspect(in)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if got != string(want) {
			gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
			for i := range min(len(gl), len(wl)) {
				if gl[i] != wl[i] {
					t.Errorf("%s: line %d:\n got %q\nwant %q", f, i+1, gl[i], wl[i])
					break
				}
			}
			if len(gl) != len(wl) {
				t.Errorf("%s: %d lines, want %d", f, len(gl), len(wl))
			}
		}
	}
}
