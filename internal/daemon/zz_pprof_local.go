//go:build tendpprof

package daemon

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
