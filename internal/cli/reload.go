package cli

import (
	"fmt"
	"strings"

	"github.com/tend-dev/tend/internal/api"
)

// printReloads says, for each reloaded process, how it was replaced; a
// reload that had to restart the app is a warning, with the reason.
func (a *app) printReloads(ps []api.Process) {
	for _, p := range ps {
		how := p.PM2Env.LastReload
		switch {
		case strings.HasPrefix(how, "restart: "):
			fmt.Fprintf(a.stderr, "[tend][WARN] %s (id %d) was restarted, not reloaded without downtime: %s\n", p.Name, p.PMID, strings.TrimPrefix(how, "restart: "))
		case how == "":
			fmt.Fprintf(a.stderr, "[tend] Reload %s (id %d) ✓\n", p.Name, p.PMID)
		default:
			fmt.Fprintf(a.stderr, "[tend] Reload %s (id %d) ✓ %s\n", p.Name, p.PMID, how)
		}
	}
}
