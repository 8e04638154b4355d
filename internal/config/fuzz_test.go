package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fuzzNames are the file names a fuzz input is read as: the format comes
// from the name, as PM2 decides it.
var fuzzNames = []string{"ecosystem.json", "ecosystem.yaml", "ecosystem.config.js", "ecosystem.config.mjs"}

// FuzzLoad feeds ecosystem files to the loader, the normalizer, Resolve and
// the limits: none may panic or hang, a refusal is a LoadError (or one of
// the typed resolve errors) that names the file, and what passes the limits
// has a name tend can use. Seeds: a few files in testdata/fuzz/FuzzLoad, and
// every file of the PM2 corpus when ../shared/corpus is there (as in CI).
//
//	go test -run '^$' -fuzz FuzzLoad -fuzztime 20s ./internal/config
func FuzzLoad(f *testing.F) {
	f.Add([]byte(`{"apps":[{"name":"api","script":"server.js","instances":"max"}]}`), uint8(0))
	f.Add([]byte("apps:\n  - name: w\n    script: worker.py\n    env: {A: 1}\n"), uint8(1))
	f.Add([]byte(`module.exports = { apps: [{ name: 'a', script: 'sleep', args: '1', instances: 1e9 }] }`), uint8(2))
	f.Add([]byte(`export const apps = [{ name: "m", script: "x.mjs" }]`), uint8(3))
	f.Add([]byte(`module.exports = 5`), uint8(2))
	f.Add([]byte("{\"apps\": [\n  {\"name\": \"a\""), uint8(0))
	if dir, err := filepath.Abs(filepath.Join(corpusDir, "files")); err == nil {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil || len(b) > 16<<10 {
				continue
			}
			for i, n := range fuzzNames {
				if formatOf(e.Name()) == formatOf(n) {
					f.Add(b, uint8(i))
				}
			}
		}
	}
	cwd := f.TempDir()
	f.Fuzz(func(t *testing.T, src []byte, which uint8) {
		name := fuzzNames[int(which)%len(fuzzNames)]
		path := filepath.Join(cwd, name)
		eco, err := Load(path, LoadOptions{Source: src, Env: map[string]string{"PATH": "/usr/bin:/bin", "HOME": cwd},
			Cwd: cwd, NumCPU: 4, Timeout: 250 * time.Millisecond})
		if err != nil {
			var le *LoadError
			if !errors.As(err, &le) && !errors.Is(err, ErrUnsupportedModule) {
				t.Fatalf("Load: an error that is not a LoadError: %T %v", err, err)
			}
			if !strings.Contains(err.Error(), name) {
				t.Fatalf("Load: the error does not name the file: %v", err)
			}
			return
		}
		for _, m := range eco.Apps {
			app, err := Resolve(m, ResolveOptions{Home: cwd, BaseDir: cwd, ConfigFile: path, CLIEnv: map[string]string{"PATH": "/usr/bin:/bin"}, NumCPU: 4})
			if err != nil {
				if err.Error() == "" {
					t.Fatalf("Resolve: an empty error")
				}
				continue
			}
			if app.Instances < 1 {
				t.Fatalf("Resolve: %d instances", app.Instances)
			}
			if err := (Limits{}).Check(app); err == nil {
				if CheckName(app.Name) != nil || app.Instances > DefaultMaxInstances {
					t.Fatalf("Limits passed app %q with %d instances", app.Name, app.Instances)
				}
			} else if !errors.Is(err, ErrLimit) && !errors.Is(err, ErrInvalidApp) {
				t.Fatalf("Limits: an untyped error: %v", err)
			}
		}
	})
}
