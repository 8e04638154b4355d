// Package version names the tend that is running: the CLI and the daemon
// each say theirs, so a CLI that talks to a daemon built from other sources
// can say so plainly.
package version

import (
	"runtime/debug"
	"strings"
	"sync"
)

// Base is tend's release number, set at build time with
// -ldflags "-X github.com/tend-dev/tend/internal/version.Base=1.2.3".
var Base = "0.1.0-dev"

// API is the version of the daemon's HTTP API (the routes under /v1 and
// their JSON). A CLI and a daemon of different API versions refuse to talk.
const API = "1"

// Header names in every request and answer of the API.
const (
	HeaderAPI   = "Tend-API"
	HeaderBuild = "Tend-Version"
)

// String is this binary's version: the module version when it was built by
// `go install …@version`, else Base with the commit it was built from
// (+dirty when the tree had changes), else Base.
var String = sync.OnceValue(func() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Base
	}
	return fromBuildInfo(bi)
})

func fromBuildInfo(bi *debug.BuildInfo) string {
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return strings.TrimPrefix(v, "v")
	}
	var rev string
	var dirty bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return Base
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return Base + "+" + rev
}
