//go:build linux

package main

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/tend-dev/tend/internal/api"
	"github.com/tend-dev/tend/internal/version"
)

// fake-daemon <build> <api>: serves $TEND_HOME/tend.sock from the test as a
// daemon of that build and API version would: an empty list, and the
// version refusal the real daemon gives a client of another API.
func cmdFakeDaemon(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: fake-daemon <build> <api>")
	}
	build, apiVersion := args[0], args[1]
	home := ts.Getenv("TEND_HOME")
	ts.Check(os.MkdirAll(home, 0o700))
	l, err := net.Listen("unix", filepath.Join(home, "tend.sock"))
	ts.Check(err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(version.HeaderAPI, apiVersion)
		w.Header().Set(version.HeaderBuild, build)
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get(version.HeaderAPI) != apiVersion {
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(api.Error{Code: api.CodeVersion, Message: "this daemon is tend " + build + " (API " + apiVersion + "): run `tend update`"})
			return
		}
		w.Write([]byte("[]"))
	})}
	go srv.Serve(l)
	ts.Defer(func() { srv.Close() })
}
