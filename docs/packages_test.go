// Package docs holds the user's guides; its test keeps architecture.md's
// package map true to the code.
package docs

import (
	"bufio"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/tend-dev/tend/"

// TestPackageMap: every package of cmd/ and internal/ has a row in the
// package map of architecture.md, every row is a package, and each row's
// imports column names exactly the project's packages it imports (go list).
func TestPackageMap(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command to list the packages")
	}
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}|{{join .Imports \",\"}}", "../cmd/...", "../internal/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	code := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, imports, _ := strings.Cut(line, "|")
		path = strings.TrimPrefix(path, module)
		var own []string
		for _, imp := range strings.Split(imports, ",") {
			if rest, ok := strings.CutPrefix(imp, module+"internal/"); ok {
				own = append(own, rest)
			}
		}
		sort.Strings(own)
		code[path] = own
	}
	doc := readPackageMap(t, "architecture.md")
	for path, want := range code {
		got, ok := doc[path]
		if !ok {
			t.Errorf("architecture.md: no row for package %s (imports %s)", path, strings.Join(want, ", "))
			continue
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("architecture.md: %s imports %v, the table says %v", path, want, got)
		}
	}
	for path := range doc {
		if _, ok := code[path]; !ok {
			t.Errorf("architecture.md: row for %s, which is not a package", path)
		}
	}
}

// readPackageMap reads the rows of the table under "## Package map":
// | `path` | what it does | imports, comma separated (— for none) |.
func readPackageMap(t *testing.T, file string) map[string][]string {
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows := map[string][]string{}
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			in = line == "## Package map"
			continue
		}
		if !in || !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) < 3 {
			t.Errorf("%s: a row without three cells: %s", file, line)
			continue
		}
		path := strings.Trim(strings.TrimSpace(cells[0]), "`")
		var imports []string
		for _, item := range strings.Split(cells[len(cells)-1], ",") {
			w := strings.Fields(strings.Trim(strings.TrimSpace(item), "`"))
			if len(w) == 0 || w[0] == "—" {
				continue
			}
			imports = append(imports, strings.Trim(w[0], "`"))
		}
		sort.Strings(imports)
		rows[path] = imports
	}
	if len(rows) == 0 {
		t.Fatalf("%s: no package map found", file)
	}
	return rows
}
