package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// The golden corpus (/work/shared/corpus, see its README.md): real ecosystem files
// and what PM2 7.0.4's parseConfig + apps/pm2 aliasing + verifyConfs made of them.

// corpusDir is the corpus folder, relative to this package directory.
const corpusDir = "../../../shared/corpus"

// The corpus was produced with each file at /tmp/pm2-corpus/files/<name>, that folder
// as working directory, this environment, on a machine with 2 CPUs (os.cpus().length
// is 2 in 035__...: instances 2).
const corpusFileDir = "/tmp/pm2-corpus/files"

var corpusEnv = map[string]string{"PATH": "/usr/bin:/bin", "HOME": "/tmp/pm2-corpus-home"}

// ignoredKeys are removed from both sides before comparing whole app maps.
var ignoredKeys = map[string]string{
	// The corpus generator removed it (it depends on the machine's user).
	"username": "machine-dependent, removed from the expected files",
}

func TestCorpus(t *testing.T) {
	dir, err := filepath.Abs(corpusDir)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Join(dir, "files"))
	if err != nil {
		if os.IsNotExist(err) {
			t.Skipf("golden corpus not found at %s: skipping", dir)
		}
		t.Fatal(err)
	}
	if len(entries) == 0 {
		t.Fatalf("no files in %s/files", dir)
	}
	for _, e := range entries {
		name := e.Name()
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			src, err := os.ReadFile(filepath.Join(dir, "files", name))
			if err != nil {
				t.Fatal(err)
			}
			wantRaw, err := os.ReadFile(filepath.Join(dir, "expected", name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			var want any
			if err := json.Unmarshal(wantRaw, &want); err != nil {
				t.Fatal(err)
			}
			// Evaluated from source bytes under the path PM2 saw: nothing is written
			// to /tmp, so the test is parallel-safe.
			eco, err := Load(filepath.Join(corpusFileDir, name), LoadOptions{
				Env:    corpusEnv,
				Cwd:    corpusFileDir,
				NumCPU: 2,
				Source: src,
			})
			if obj, ok := want.(map[string]any); ok && obj["error"] != nil {
				if err == nil {
					t.Fatalf("PM2 refuses this file (%q) but tend accepted it", obj["error"])
				}
				t.Logf("refused as PM2 does: %v (PM2: %q)", err, obj["error"])
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			b, err := json.Marshal(eco.Apps)
			if err != nil {
				t.Fatalf("apps do not marshal to JSON: %v", err)
			}
			var got any
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			strip(got)
			strip(want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("normalized apps differ from PM2's\n%s", diffApps(got, want))
			}
		})
	}
}

func strip(v any) {
	list, _ := v.([]any)
	for _, a := range list {
		if m, ok := a.(map[string]any); ok {
			for k := range ignoredKeys {
				delete(m, k)
			}
		}
	}
}

// diffApps describes the differences key by key.
func diffApps(got, want any) string {
	g, _ := got.([]any)
	w, _ := want.([]any)
	var sb strings.Builder
	if len(g) != len(w) {
		gj, _ := json.MarshalIndent(got, "", " ")
		wj, _ := json.MarshalIndent(want, "", " ")
		return "number of apps: got " + itoa(len(g)) + ", want " + itoa(len(w)) + "\ngot: " + string(gj) + "\nwant: " + string(wj)
	}
	for i := range g {
		gm, _ := g[i].(map[string]any)
		wm, _ := w[i].(map[string]any)
		keys := map[string]bool{}
		for k := range gm {
			keys[k] = true
		}
		for k := range wm {
			keys[k] = true
		}
		var ks []string
		for k := range keys {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		for _, k := range ks {
			gv, gok := gm[k]
			wv, wok := wm[k]
			if gok == wok && reflect.DeepEqual(gv, wv) {
				continue
			}
			gj, _ := json.Marshal(gv)
			wj, _ := json.Marshal(wv)
			if !gok {
				gj = []byte("(absent)")
			}
			if !wok {
				wj = []byte("(absent)")
			}
			sb.WriteString("app " + itoa(i) + " key " + k + ": got " + string(gj) + ", want " + string(wj) + "\n")
		}
	}
	return sb.String()
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}
