package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/tend-dev/tend/internal/daemon"
)

// api-post <path> <body|@size>: POSTs to the daemon's socket and prints the
// status line and the answer's body. "@N" sends a JSON start request padded
// with spaces to N bytes (100M, 64K), streamed, never held in memory.
func cmdAPIPost(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: api-post path body|@size")
	}
	sock := daemon.SocketPath(ts.Getenv("TEND_HOME"))
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
	var body io.Reader = strings.NewReader(args[1])
	size := int64(len(args[1]))
	if s, ok := strings.CutPrefix(args[1], "@"); ok {
		mult := int64(1)
		switch {
		case strings.HasSuffix(s, "M"):
			mult, s = 1<<20, strings.TrimSuffix(s, "M")
		case strings.HasSuffix(s, "K"):
			mult, s = 1<<10, strings.TrimSuffix(s, "K")
		}
		n, err := strconv.ParseInt(s, 10, 64)
		ts.Check(err)
		size = n * mult
		head, tail := `{"apps":[`, `]}`
		body = io.MultiReader(strings.NewReader(head), io.LimitReader(spaces{}, size-int64(len(head)+len(tail))), strings.NewReader(tail))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", "http://tend"+args[0], body)
	ts.Check(err)
	req.ContentLength = size
	resp, err := hc.Do(req)
	if err != nil {
		ts.Fatalf("POST %s: %v", args[0], err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	fmt.Fprintf(ts.Stdout(), "%s\n%s", resp.Status, b)
}

type spaces struct{}

func (spaces) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}
