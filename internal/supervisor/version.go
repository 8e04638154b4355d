package supervisor

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/tend-dev/tend/internal/spec"
)

// versionUnknown is what PM2 shows for an app without a package.json.
const versionUnknown = "N/A"

// packageVersion returns the "version" of the package.json nearest to the
// app's script (PM2 looks from pm_exec_path up to the root, or from the cwd
// when the script is a bare command), "N/A" when there is none, and "" when
// the nearest package.json has no version.
func packageVersion(a spec.App) string {
	dir := a.Cwd
	if filepath.IsAbs(a.ScriptPath) {
		dir = filepath.Dir(a.ScriptPath)
	}
	if dir == "" {
		return versionUnknown
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "package.json"))
		if err == nil {
			var pkg struct {
				Version any `json:"version"`
			}
			if json.Unmarshal(b, &pkg) != nil {
				return versionUnknown
			}
			if s, ok := pkg.Version.(string); ok {
				return s
			}
			return ""
		}
		up := filepath.Dir(dir)
		if up == dir {
			return versionUnknown
		}
		dir = up
	}
}

// newUUID returns a random (version 4) UUID, PM2's unique_id.
func newUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return ""
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// nodeVersions caches `node --version` per node binary.
var nodeVersions sync.Map // path → version

// nodeVersion returns the version of node that runs the app (PM2's
// pm2_env.node_version: "20.11.1"), or "" when the app is not run by node.
// Each node binary is asked once.
func nodeVersion(a spec.App) string {
	bin := a.Interpreter
	if bin == "" || bin == "none" {
		bin = a.ScriptPath // a command that is node itself
	}
	if base := filepath.Base(bin); base != "node" && base != "nodejs" {
		return ""
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return ""
	}
	if v, ok := nodeVersions.Load(path); ok {
		return v.(string)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		return ""
	}
	v := strings.TrimPrefix(strings.TrimSpace(string(out)), "v")
	nodeVersions.Store(path, v)
	return v
}
