// Package client talks to the tend daemon's local API over its unix socket.
// Every method takes a context first.
package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/tend-dev/tend/internal/api"
	"github.com/tend-dev/tend/internal/spec"
	"github.com/tend-dev/tend/internal/version"
)

// skew is the daemon version seen that differs from this binary's, by any
// client of the process ("" while none did).
var skew atomic.Pointer[string]

func noteVersion(daemon string) {
	if daemon == "" {
		daemon = "older than " + version.String() // a daemon from before the header
	}
	if daemon != version.String() {
		skew.CompareAndSwap(nil, &daemon)
	}
}

// VersionSkew returns the version of a daemon this process talked to that
// is not its own: the CLI then says that `tend update` would replace it.
func VersionSkew() (daemon string, ok bool) {
	if p := skew.Load(); p != nil {
		return *p, true
	}
	return "", false
}

// ErrNoDaemon means nothing answers on the socket.
var ErrNoDaemon = errors.New("the tend daemon is not running")

// Client is a client of one daemon.
type Client struct {
	Socket string
	hc     *http.Client
}

// New returns a client for the daemon of home.
func New(home string) *Client {
	sock := filepath.Join(home, "tend.sock")
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, "unix", sock)
			if err != nil {
				return nil, fmt.Errorf("%w (%v)", ErrNoDaemon, err)
			}
			return c, nil
		},
		DisableCompression: true,
	}
	return &Client{Socket: sock, hc: &http.Client{Transport: tr}}
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	resp, err := c.send(ctx, method, path, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		io.Copy(io.Discard, resp.Body)
		return nil
	}
	if raw, ok := out.(*[]byte); ok {
		// Sized from Content-Length when the daemon gives it (a list of
		// 1,000 apps is megabytes: no doubling and copying as it comes).
		buf := bytes.NewBuffer(make([]byte, 0, max(resp.ContentLength, 0)+bytes.MinRead))
		_, err = buf.ReadFrom(resp.Body)
		*raw = buf.Bytes()
		return err
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		if ctx.Err() == nil && connLost(err) {
			return c.died(method, path, err)
		}
		return fmt.Errorf("decode %s answer: %w", path, err)
	}
	return nil
}

// ErrDaemonDied is matched (errors.Is) by a DaemonDiedError.
var ErrDaemonDied = errors.New("the tend daemon died during the request")

// DaemonDiedError: the daemon took the request, then the connection ended
// before its answer did — it died or was killed meanwhile.
type DaemonDiedError struct {
	Request string // "POST /v1/action"
	Log     string // the daemon's log, $TEND_HOME/tend.log
	Err     error  // what the connection said
}

func (e *DaemonDiedError) Error() string {
	return fmt.Sprintf("the tend daemon died while it handled this command (%s: %v): the end of its log, %s, says why. "+
		"The apps keep running; the next tend command starts a new daemon that takes them over — check them with tend ls, then run the command again",
		e.Request, e.Err, e.Log)
}

func (e *DaemonDiedError) Unwrap() error { return e.Err }

func (e *DaemonDiedError) Is(target error) bool { return target == ErrDaemonDied }

func (c *Client) died(method, path string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // without the URL, which is not the user's
	}
	path, _, _ = strings.Cut(path, "?") // the endpoint, not how the CLI asked
	return &DaemonDiedError{Request: method + " " + path, Log: filepath.Join(filepath.Dir(c.Socket), "tend.log"), Err: err}
}

// connLost tells an error of a connection the other end dropped.
func connLost(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func (c *Client) send(ctx context.Context, method, path string, in any) (*http.Response, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://tend"+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set(version.HeaderAPI, version.API)
	req.Header.Set(version.HeaderBuild, version.String())
	resp, err := c.hc.Do(req)
	if err != nil {
		if errors.Is(err, ErrNoDaemon) {
			return nil, ErrNoDaemon
		}
		if ctx.Err() == nil && connLost(err) {
			return nil, c.died(method, path, err)
		}
		return nil, err
	}
	noteVersion(resp.Header.Get(version.HeaderBuild))
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		var ae api.Error
		if json.NewDecoder(resp.Body).Decode(&ae) != nil || ae.Message == "" {
			if resp.StatusCode == http.StatusNotFound {
				return nil, fmt.Errorf("%s %s: %w", method, path, ErrUnsupported)
			}
			return nil, fmt.Errorf("daemon answered %s", resp.Status)
		}
		return nil, &ae
	}
	return resp, nil
}

// ErrUnsupported means the daemon does not know the request: it runs an
// older tend than the CLI.
var ErrUnsupported = errors.New("the running daemon does not know this request (it is an older tend)")

// Ping checks the daemon.
func (c *Client) Ping(ctx context.Context) (api.Ping, error) {
	var p api.Ping
	err := c.do(ctx, "GET", api.Prefix+"/ping", nil, &p)
	return p, err
}

// List returns every process.
func (c *Client) List(ctx context.Context) ([]api.Process, error) {
	var ps []api.Process
	err := c.do(ctx, "GET", api.Prefix+"/processes", nil, &ps)
	return ps, err
}

// ListRaw returns the process list as the daemon encoded it (for jlist).
func (c *Client) ListRaw(ctx context.Context) ([]byte, error) {
	var b []byte
	err := c.do(ctx, "GET", api.Prefix+"/processes", nil, &b)
	return bytes.TrimSpace(b), err
}

// Start starts apps.
func (c *Client) Start(ctx context.Context, req api.StartRequest) ([]api.Process, error) {
	var r api.ActionResponse
	err := c.do(ctx, "POST", api.Prefix+"/start?brief=1", req, &r) // the CLI shows no variable or option of the answer
	return r.Processes, err
}

// Act applies an action.
func (c *Client) Act(ctx context.Context, req api.ActionRequest) ([]api.Process, error) {
	var r api.ActionResponse
	err := c.do(ctx, "POST", api.Prefix+"/action?brief=1", req, &r) // the CLI shows no variable or option of the answer
	return r.Processes, err
}

// Scale sets the number of instances of an app ("3", "+1", "-1").
func (c *Client) Scale(ctx context.Context, req api.ScaleRequest) ([]api.Process, error) {
	var r api.ActionResponse
	err := c.do(ctx, "POST", api.Prefix+"/scale?brief=1", req, &r) // the CLI shows no variable or option of the answer
	return r.Processes, err
}

// Env returns the environment of a process.
func (c *Client) Env(ctx context.Context, id int) (map[string]string, error) {
	var env map[string]string
	err := c.do(ctx, "GET", api.Prefix+"/env/"+strconv.Itoa(id), nil, &env)
	return env, err
}

// Kill asks the daemon to stop every app and exit.
func (c *Client) Kill(ctx context.Context) error {
	return c.do(ctx, "POST", api.Prefix+"/kill", nil, nil)
}

// Apps returns the options of every app, once per name (`tend save`).
func (c *Client) Apps(ctx context.Context) ([]spec.App, error) {
	var apps []spec.App
	err := c.do(ctx, "GET", api.Prefix+"/apps", nil, &apps)
	return apps, err
}

// Detach makes the daemon exit without stopping any app; the next daemon
// watches them again.
func (c *Client) Detach(ctx context.Context) error {
	return c.do(ctx, "POST", api.Prefix+"/detach", nil, nil)
}

// ReloadLogs makes the daemon reopen every log file.
func (c *Client) ReloadLogs(ctx context.Context) error {
	return c.do(ctx, "POST", api.Prefix+"/reload-logs", nil, nil)
}

// ReloadSettings makes the daemon apply the log rotation of tend.json and
// module_conf.json (pm2-logrotate's keys) again; it returns the rotation in
// words.
func (c *Client) ReloadSettings(ctx context.Context) (string, error) {
	var out struct {
		Rotation string `json:"rotation"`
	}
	err := c.do(ctx, "POST", api.Prefix+"/reload-settings", nil, &out)
	return out.Rotation, err
}

// Events is a stream of events.
type Events struct {
	body io.ReadCloser
	sc   *bufio.Scanner
}

// Events opens the event stream; logs includes log lines.
func (c *Client) Events(ctx context.Context, logs bool) (*Events, error) {
	path := api.Prefix + "/events"
	if logs {
		path += "?logs=1"
	}
	resp, err := c.send(ctx, "GET", path, nil)
	if err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	return &Events{body: resp.Body, sc: sc}, nil
}

// Next returns the next event; io.EOF when the stream ends.
func (e *Events) Next() (api.Event, error) {
	var ev api.Event
	if !e.sc.Scan() {
		if err := e.sc.Err(); err != nil {
			return ev, err
		}
		return ev, io.EOF
	}
	err := json.Unmarshal(e.sc.Bytes(), &ev)
	return ev, err
}

// Close ends the stream.
func (e *Events) Close() error { return e.body.Close() }

// ListBrief returns every process without its environment and raw options
// (for dashboards that poll often).
func (c *Client) ListBrief(ctx context.Context) ([]api.Process, error) {
	var ps []api.Process
	err := c.do(ctx, "GET", api.Prefix+"/processes?brief=1", nil, &ps)
	return ps, err
}

// EventsOf opens the event stream with the log lines of the given pm_ids
// only (process events of every app still come).
func (c *Client) EventsOf(ctx context.Context, ids []int) (*Events, error) {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.Itoa(id)
	}
	resp, err := c.send(ctx, "GET", api.Prefix+"/events?logs=1&ids="+strings.Join(parts, ","), nil)
	if err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	return &Events{body: resp.Body, sc: sc}, nil
}

// Web asks the daemon to serve the dashboard, or to stop it (req.Stop).
func (c *Client) Web(ctx context.Context, req api.WebRequest) (api.WebResponse, error) {
	var r api.WebResponse
	err := c.do(ctx, "POST", api.Prefix+"/web", req, &r)
	return r, err
}

// Trigger runs an @pm2/io action in the processes of a target and returns
// their answers.
func (c *Client) Trigger(ctx context.Context, req api.TriggerRequest) ([]api.TriggerReply, error) {
	var r []api.TriggerReply
	err := c.do(ctx, "POST", api.Prefix+"/trigger", req, &r)
	return r, err
}
