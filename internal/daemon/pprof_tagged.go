//go:build tendpprof

package daemon

// A daemon built with -tags tendpprof serves net/http/pprof on the
// loopback address in TEND_PPROF (e.g. 127.0.0.1:6161), for the profiles
// of docs/benchmarks.md. Normal builds have none of it.

import (
	"net/http"
	_ "net/http/pprof"
	"os"
)

func init() {
	if a := os.Getenv("TEND_PPROF"); a != "" && len(os.Args) > 1 && os.Args[1] == "daemon" {
		go http.ListenAndServe(a, nil)
	}
}
