package supervisor

import (
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/tend-dev/tend/internal/config"
)

// versionUnknown is what PM2 shows for an app without a package.json.
const versionUnknown = "N/A"

// packageVersion returns the "version" of the package.json nearest to the
// app's script (PM2 looks from pm_exec_path up to the root, or from the cwd
// when the script is a bare command), "N/A" when there is none, and "" when
// the nearest package.json has no version.
func packageVersion(a config.App) string {
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
