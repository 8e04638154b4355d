package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tend-dev/tend/internal/api"
	"github.com/tend-dev/tend/internal/supervisor"
	"github.com/tend-dev/tend/internal/version"
)

// FuzzRequest feeds request bodies to the daemon's start, action and scale
// handlers, through the same middleware as the socket (peer check, version,
// body limit). The supervisor is empty and the process limit is 0, so no
// input can start anything: a start of apps that pass every check is
// refused by the process limit, and an action or scale finds nothing. No
// input may panic; every answer is JSON, an error is the api.Error envelope
// with a known code and the HTTP status of that code, and a body over the
// limit is 413.
//
//	go test -run '^$' -fuzz FuzzRequest -fuzztime 20s ./internal/daemon
func FuzzRequest(f *testing.F) {
	seeds := []struct {
		path uint8
		body string
	}{
		{0, `{"apps":[{"name":"api","script_path":"/bin/sleep","args":["1"],"cwd":"/","instances":2,"env":{"A":"1"}}]}`},
		{0, `{"apps":[{"name":"a\u0000b","script_path":"/bin/sleep","cwd":"/nonexistent"}],"reload":true,"parallel":-1}`},
		{0, `{"apps":[{"name":"x","instances":1000000000,"min_uptime":"10s","kill_timeout":1e300}]}`},
		{0, `{"apps":[]}`},
		{0, `{"apps":null,"add":true}`},
		{1, `{"action":"restart","target":{"names":["all"]},"update_env":true,"env":{"A":"B"}}`},
		{1, `{"action":"nope","target":{"names":[]}}`},
		{1, `{"action":"stop","target":{"names":["1","api","ns","a,b"]}}`},
		{2, `{"name":"api","count":"+2"}`},
		{2, `{"name":"api","count":"-999999999999999999999"}`},
		{0, `[`},
		{0, ``},
		{0, `{"apps":[{"name":"` + strings.Repeat("x", 5<<10) + `"}]}`},
	}
	for _, s := range seeds {
		f.Add(s.path, []byte(s.body))
	}
	home := f.TempDir()
	sup := supervisor.New(supervisor.Options{Home: home, Logf: func(string, ...any) {}})
	defer sup.Close()
	d := &Daemon{opts: Options{Home: home, AllowUID: os.Getuid()}, sup: sup, log: log.New(io.Discard, "", 0), quit: make(chan struct{})}
	d.limits = defaultLimits()
	d.limits.MaxProcesses = 0
	d.limits.MaxRequestSize = 4 << 10
	h := d.routes()
	paths := []string{"/v1/start", "/v1/action", "/v1/scale"}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		path := paths[int(which)%len(paths)]
		r := httptest.NewRequest("POST", path, bytes.NewReader(body))
		r.Header.Set(version.HeaderAPI, version.API)
		r = r.WithContext(context.WithValue(r.Context(), peerKey{}, os.Getuid()))
		w := httptest.NewRecorder()
		done := make(chan struct{})
		go func() { h.ServeHTTP(w, r); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("POST %s %q: no answer in 5 s", path, body)
		}
		if n := len(sup.List()); n != 0 {
			t.Fatalf("POST %s %q: the daemon now has %d processes", path, body, n)
		}
		if w.Code/100 == 2 {
			if !json.Valid(w.Body.Bytes()) {
				t.Fatalf("POST %s %q: %d with a body that is not JSON: %q", path, body, w.Code, w.Body.Bytes())
			}
			return
		}
		var ae api.Error
		if err := json.Unmarshal(w.Body.Bytes(), &ae); err != nil || ae.Message == "" {
			t.Fatalf("POST %s %q: %d without the error envelope: %q", path, body, w.Code, w.Body.Bytes())
		}
		want := map[string]int{api.CodeNotFound: 404, api.CodeBadInput: 400, api.CodeTooLarge: 413, api.CodeForbidden: 403, api.CodeInternal: 500}[ae.Code]
		if want == 0 || want != w.Code {
			t.Fatalf("POST %s %q: HTTP %d with code %q", path, body, w.Code, ae.Code)
		}
		if int64(len(body)) > d.limits.MaxRequestSize && ae.Code != api.CodeTooLarge {
			// A body over the limit may still fail earlier on bad JSON
			// (the decoder stops at the first error), never succeed.
			if ae.Code != api.CodeBadInput {
				t.Fatalf("POST %s: a %d-byte body answered %q", path, len(body), ae.Code)
			}
		}
	})
}
