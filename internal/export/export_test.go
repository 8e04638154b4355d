package export

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/tend-dev/tend/internal/config"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/golden")

// exampleDir is the seed's example, relative to this package.
const exampleDir = "../../examples/agentic-sdlc"

// corpusDir finds shared/corpus beside the clone (CI lays ../shared beside a
// fresh clone in any folder): it is looked for in every parent of this
// package's folder.
func corpusDir(t *testing.T) string {
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		c := filepath.Join(d, "shared", "corpus")
		if st, err := os.Stat(filepath.Join(c, "files")); err == nil && st.IsDir() {
			return c
		}
		if d == filepath.Dir(d) {
			break
		}
	}
	t.Skipf("golden corpus (shared/corpus) not found in any parent of %s: skipping", dir)
	return ""
}

// The corpus was produced with each file at /tmp/pm2-corpus/files/<name>, on a
// machine with 2 CPUs (see internal/config/corpus_test.go).
const corpusFileDir = "/tmp/pm2-corpus/files"

// corpusGolden are the corpus files whose exports are kept as golden files:
// several apps, instances and cluster mode, cron_restart, watch, env_<name>,
// memory limits, kill_timeout, interpreters.
var corpusGolden = []string{
	"004__Prathibha-yadav__TodoApp_GenAI__todo-app_pm2.config.js",
	"077__hangxingliu__webhook-to-pull__ecosystem.yml",
	"083__AlexZeDim__cmnw__ecosystem.yaml",
	"155__tecklens__tk-wolf-worker__ecosystem.config.js",
	"012__YucSoft__geoportal-backend__ecosystem.config.js",
	"035__jimwong666__BFF-demo__ecosystem.config.js",
	"041__damian0o__node-examples__node-web_pm2-express-basic-cluster_ecosystem.config.js",
	"048__rahulcocoalabs__Filmy-microservices__ecosystem.config.js",
}

// loadCorpus resolves one corpus file as the export sees it.
func loadCorpus(t *testing.T, dir, name string) ([]config.App, error) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(dir, "files", name))
	if err != nil {
		t.Fatal(err)
	}
	eco, err := config.Load(filepath.Join(corpusFileDir, name), config.LoadOptions{
		Env: map[string]string{"PATH": "/usr/bin:/bin", "HOME": "/tmp/pm2-corpus-home"}, Cwd: corpusFileDir, NumCPU: 2, Source: src,
	})
	if err != nil {
		return nil, err
	}
	return Resolve(eco, ResolveOptions{BaseDir: corpusFileDir, PATH: "/usr/bin:/bin", NumCPU: 2})
}

// loadExample resolves the seed's example with env as process.env.
func loadExample(t *testing.T, env map[string]string, envName string) ([]config.App, string) {
	t.Helper()
	dir, err := filepath.Abs(exampleDir)
	if err != nil {
		t.Fatal(err)
	}
	eco, err := config.Load(filepath.Join(dir, "pm2", "ecosystem.dev.config.js"), config.LoadOptions{Env: env, Cwd: dir})
	if err != nil {
		t.Fatal(err)
	}
	apps, err := Resolve(eco, ResolveOptions{BaseDir: dir, PATH: env["PATH"], EnvName: envName})
	if err != nil {
		t.Fatal(err)
	}
	return apps, dir
}

// render is a result as one golden text: every file, then the notes.
func render(r *Result) []byte {
	var b bytes.Buffer
	for _, f := range r.Files {
		b.WriteString("==== " + f.Name + "\n")
		b.Write(f.Data)
	}
	b.WriteString("==== notes (stderr)\n")
	for _, n := range r.Notes {
		b.WriteString(n.String() + "\n")
	}
	return b.Bytes()
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/export -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./internal/export -update rewrites it):\n%s", path, lineDiff(string(want), string(got)))
	}
}

// lineDiff shows the first lines that differ.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return "line " + strconv.Itoa(i+1) + ":\n  want: " + a + "\n  got:  " + b
		}
	}
	return "(same lines)"
}

// exportAll exports apps to every engine, checks each output with the
// engine's own validator, and compares it with its golden file.
func exportAll(t *testing.T, name string, apps []config.App, o Options, norm func([]byte) []byte) {
	t.Helper()
	for _, engine := range Engines {
		t.Run(engine, func(t *testing.T) {
			r, err := Export(engine, apps, o)
			if err != nil {
				t.Fatal(err)
			}
			validate(t, engine, r)
			got := render(r)
			if norm != nil {
				got = norm(got)
			}
			golden(t, filepath.Join(name, engine+".txt"), got)
		})
	}
}

// The example without its infrastructure: the same on every machine.
func TestExampleGolden(t *testing.T) {
	apps, dir := loadExample(t, map[string]string{"PATH": "/usr/bin:/bin", "TEND_INFRA": "off"}, "")
	if len(apps) != 6 {
		t.Fatalf("%d apps, want the seed's 6", len(apps))
	}
	exportAll(t, "agentic-sdlc", apps, Options{BaseDir: dir, Image: "ghcr.io/acme/agentic-sdlc:1.0"}, nil)
}

// The seed's production step (docs/production.md): the six apps with
// --env production, PostgreSQL and Redis managed elsewhere.
func TestExampleProductionGolden(t *testing.T) {
	apps, dir := loadExample(t, map[string]string{"PATH": "/usr/bin:/bin", "TEND_INFRA": "off"}, "production")
	for _, a := range apps {
		if a.Env["HOST"] != "0.0.0.0" || a.Env["NODE_ENV"] != "production" {
			t.Fatalf("%s: env_production not applied: %v", a.Name, a.Env)
		}
	}
	exportAll(t, "agentic-sdlc-production", apps, Options{BaseDir: dir, Image: "ghcr.io/acme/agentic-sdlc:1.0"}, nil)
}

// pgVersion is the machine's PostgreSQL version in the example's paths.
var pgVersion = regexp.MustCompile(`/usr/lib/postgresql/[0-9.]+/bin`)

// The example with redis and PostgreSQL, as the machine finds them (Debian's
// paths; the PostgreSQL version is written as N).
func TestExampleInfraGolden(t *testing.T) {
	if _, err := os.Stat("/usr/bin/redis-server"); err != nil {
		t.Skip("redis-server is not installed (.ci/run installs it): skipping the example with its infrastructure")
	}
	apps, dir := loadExample(t, map[string]string{"PATH": "/usr/local/bin:/usr/bin:/bin"}, "")
	names := map[string]bool{}
	for _, a := range apps {
		names[a.Name] = true
	}
	if !names["redis"] || !names["postgres"] || !names["postgres-init"] {
		t.Skipf("the example found no redis or PostgreSQL on this machine (apps: %v): skipping", names)
	}
	exportAll(t, "agentic-sdlc-infra", apps, Options{BaseDir: dir, Image: "ghcr.io/acme/agentic-sdlc:1.0"}, func(b []byte) []byte {
		return pgVersion.ReplaceAll(b, []byte("/usr/lib/postgresql/N/bin"))
	})
}

func TestCorpusGolden(t *testing.T) {
	dir := corpusDir(t)
	for _, name := range corpusGolden {
		t.Run(name[:3], func(t *testing.T) {
			apps, err := loadCorpus(t, dir, name)
			if err != nil {
				t.Fatal(err)
			}
			exportAll(t, name[:3], apps, Options{BaseDir: corpusFileDir, Project: "corpus-" + name[:3], Image: "registry.local/app:1"}, nil)
		})
	}
}

// Every corpus file that tend loads exports to every engine, and each output
// passes the engine's validator (systemd-analyze only for the golden ones:
// it needs the interpreters on this machine).
func TestCorpusValid(t *testing.T) {
	dir := corpusDir(t)
	entries, err := os.ReadDir(filepath.Join(dir, "files"))
	if err != nil {
		t.Fatal(err)
	}
	exported := 0
	for _, e := range entries {
		name := e.Name()
		apps, err := loadCorpus(t, dir, name)
		if err != nil {
			continue // refused by tend as by PM2, or a script PM2 also cannot run: the config tests cover it
		}
		for _, engine := range Engines {
			r, err := Export(engine, apps, Options{BaseDir: corpusFileDir, Project: "corpus", Image: "registry.local/app:1"})
			if errors.Is(err, ErrUnsupported) {
				t.Logf("%s: %v", name, err)
				continue
			}
			if err != nil {
				t.Fatalf("%s: %s: %v", name, engine, err)
			}
			if engine != "systemd" {
				validate(t, engine, r)
			}
			exported++
		}
	}
	if exported < 300 {
		t.Fatalf("only %d exports of corpus files: the corpus did not load", exported)
	}
}

// resolveOne resolves one app written as in an ecosystem file, in a folder
// of its own (its script not built: the export does not need it).
func resolveOne(t *testing.T, app map[string]any) ([]config.App, string) {
	t.Helper()
	dir := t.TempDir()
	norm, _, err := config.Normalize([]map[string]any{app}, "")
	if err != nil {
		t.Fatal(err)
	}
	apps, err := Resolve(&config.Ecosystem{Path: filepath.Join(dir, "ecosystem.config.js"), Apps: norm}, ResolveOptions{BaseDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return apps, dir
}

// An app whose option no engine of the kind can express is refused with its
// name and the option; systemd, which can, carries it over.
func TestUnsupported(t *testing.T) {
	apps, dir := resolveOne(t, map[string]any{"name": "web", "script": "server.js", "listen": []any{"127.0.0.1:8080"}})
	for _, engine := range []string{"kubernetes", "compose", "ecs", "nomad"} {
		_, err := Export(engine, apps, Options{BaseDir: dir})
		var e *Error
		if !errors.As(err, &e) || !errors.Is(err, ErrUnsupported) || e.App != "web" || e.Option != "listen" {
			t.Errorf("%s: got %v, want an *Error for app web, option listen", engine, err)
		}
	}
	r, err := Export("systemd", apps, Options{BaseDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	validate(t, "systemd", r)
	if !bytes.Contains(r.Stream, []byte("ListenStream=127.0.0.1:8080")) {
		t.Errorf("no socket unit:\n%s", r.Stream)
	}
	apps[0].Instances = 2
	if _, err := Export("systemd", apps, Options{BaseDir: dir}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("systemd, listen with 2 instances: got %v, want ErrUnsupported", err)
	}
}

// Secrets are references: the value of a required_env variable never
// reaches a manifest, whatever the engine.
func TestSecretsNeverExported(t *testing.T) {
	apps, dir := resolveOne(t, map[string]any{
		"name": "api", "script": "server.js", "required_env": []any{"API_TOKEN"},
		"env": map[string]any{"API_TOKEN": "s3cr3t-value-7304", "MODE": "prod"}, "ports": []any{8080.0},
	})
	for _, engine := range Engines {
		r, err := Export(engine, apps, Options{BaseDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		validate(t, engine, r)
		if bytes.Contains(render(r), []byte("s3cr3t-value-7304")) {
			t.Errorf("%s: the secret's value is in the output", engine)
		}
		if !bytes.Contains(render(r), []byte("API_TOKEN")) {
			t.Errorf("%s: no reference to API_TOKEN", engine)
		}
		if !bytes.Contains(r.Stream, []byte("prod")) {
			t.Errorf("%s: the plain variable MODE is missing", engine)
		}
	}
}

// What an engine cannot carry over is named, with the app and the option;
// PM2's own defaults are not.
func TestNotesNameWhatIsLost(t *testing.T) {
	apps, dir := resolveOne(t, map[string]any{
		"name": "api", "script": "server.js", "watch": true, "post_update": []any{"npm install"},
		"vizion": false, "cron_restart": "0 3 * * *", "out_file": "api.log",
	})
	for _, engine := range Engines {
		r, err := Export(engine, apps, Options{BaseDir: dir, Image: "img:1"})
		if err != nil {
			t.Fatal(err)
		}
		var notes []string
		for _, n := range r.Notes {
			notes = append(notes, n.String())
		}
		all := strings.Join(notes, "\n")
		for _, want := range []string{"app api: watch: not carried over", "app api: vizion, post_update: not carried over", "app api: cron_restart:", "app api: out_file: not carried over"} {
			if !strings.Contains(all, want) {
				t.Errorf("%s: no note %q in:\n%s", engine, want, all)
			}
		}
		if strings.Contains(all, "pmx") || strings.Contains(all, "automation") {
			t.Errorf("%s: PM2's defaults noted as the file's:\n%s", engine, all)
		}
	}
}
