//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/sys/unix"

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

// pty-run <file> <command> [args...]: runs the command with stdin, stdout
// and stderr on a new pseudo-terminal and writes what the terminal received
// to file (as bytes; the terminal turns each \n into \r\n).
func cmdPtyRun(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: pty-run file command [args...]")
	}
	master, slave, err := openPty()
	ts.Check(err)
	defer master.Close()
	path, err := exec.LookPath(args[1])
	ts.Check(err)
	cmd := exec.Command(path, args[2:]...)
	cmd.Dir = ts.MkAbs(".")
	keys := []string{"TEND_HOME", "PATH", "HOME", "NO_COLOR", "TERM"}
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !slices.Contains(keys, k) {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for _, k := range keys {
		if v := ts.Getenv(k); v != "" {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	ts.Check(cmd.Start())
	slave.Close()
	var out bytes.Buffer
	done := make(chan struct{})
	go func() { // until EIO: the command and its terminal are gone
		defer close(done)
		buf := make([]byte, 32<<10)
		for {
			n, err := master.Read(buf)
			out.Write(buf[:n])
			// Answer as a terminal does what termenv asks at start
			// (background colour, cursor position), or it waits 5 s.
			if bytes.Contains(buf[:n], []byte("\x1b]11;?")) {
				master.WriteString("\x1b]11;rgb:0000/0000/0000\x1b\\")
			}
			if bytes.Contains(buf[:n], []byte("\x1b[6n")) {
				master.WriteString("\x1b[1;1R")
			}
			if err != nil {
				return
			}
		}
	}()
	werr := cmd.Wait()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		ts.Fatalf("the terminal of %s did not close", args[1])
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), out.Bytes(), 0o644))
	if (werr != nil) != neg {
		ts.Fatalf("%s: %v\n%s", strings.Join(args[1:], " "), werr, out.Bytes())
	}
}

// openPty opens a pseudo-terminal pair through /dev/ptmx.
func openPty() (master, slave *os.File, err error) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	fd := int(m.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		return nil, nil, err
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	return m, s, nil
}
