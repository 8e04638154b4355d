package config

import (
	"fmt"
	"math"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// resolveListen fills Listen and ReloadTimeout (0 means the default). A Node app in cluster mode
// that declares no listen sockets gets one on PM2's port (PORT in its
// environment), as PM2's cluster mode shares that port between instances.
func resolveListen(m map[string]any, a *App) error {
	var raw []any
	switch x := m["listen"].(type) {
	case nil:
	case []any:
		raw = x
	default:
		raw = []any{x}
	}
	seen := map[string]bool{}
	for _, v := range raw {
		addr, err := ParseListen(v, a.Cwd)
		if err != nil {
			return fmt.Errorf("app %q: listen: %w", a.Name, err)
		}
		if !seen[addr] {
			seen[addr] = true
			a.Listen = append(a.Listen, addr)
		}
	}
	if len(a.Listen) == 0 && a.ExecMode == "cluster_mode" && IsNode(a.Interpreter) {
		if port, err := strconv.Atoi(strings.TrimSpace(a.Env["PORT"])); err == nil && port > 0 && port < 65536 {
			host := strings.TrimSpace(a.Env["HOST"])
			switch host {
			case "", "0.0.0.0", "::", "*":
				host = ""
			case "localhost":
				host = "127.0.0.1"
			}
			if host != "" && net.ParseIP(host) == nil {
				host = "" // a name: Node would resolve it; tend listens everywhere
			}
			a.Listen = []string{net.JoinHostPort(host, strconv.Itoa(port))}
			a.ListenFromPort = true
		}
	}
	if v, ok := m["reload_timeout"]; ok {
		d := msOr(v, -1)
		if s, isStr := v.(string); isStr && d < 0 {
			if pd, err := time.ParseDuration(s); err == nil {
				d = pd
			}
		}
		if d <= 0 {
			return fmt.Errorf("app %q: reload_timeout: %v is not a duration (use 30s, 1500ms or milliseconds)", a.Name, v)
		}
		a.ReloadTimeout = d
	}
	return nil
}

// ParseListen turns one entry of listen into tend's canonical address:
// "host:port" (":port" for every interface, IPv6 hosts in brackets) or
// "unix:/absolute/path". It accepts a port number, "8080", ":8080",
// "127.0.0.1:8080", "[::1]:8080", "localhost:8080" and "unix:path" (relative
// to cwd).
func ParseListen(v any, cwd string) (string, error) {
	var s string
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || x != math.Trunc(x) {
			return "", fmt.Errorf("%v is not a port", x)
		}
		s = strconv.Itoa(int(x))
	case string:
		s = strings.TrimSpace(x)
	default:
		return "", fmt.Errorf("%v: use a port (8080), an address (\"127.0.0.1:8080\") or \"unix:/path\"", v)
	}
	if p, ok := strings.CutPrefix(s, "unix:"); ok {
		if p == "" {
			return "", fmt.Errorf("%q: the unix socket needs a path", s)
		}
		if !filepath.IsAbs(p) {
			p = filepath.Join(cwd, p)
		}
		return "unix:" + filepath.Clean(p), nil
	}
	s = strings.TrimPrefix(s, "tcp://")
	host, port := "", s
	if strings.Contains(s, ":") {
		h, p, err := net.SplitHostPort(s)
		if err != nil {
			return "", fmt.Errorf("%q: %v", s, err)
		}
		host, port = h, p
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("%q: the port must be a number from 1 to 65535", s)
	}
	switch host {
	case "0.0.0.0", "::", "*":
		// keep 0.0.0.0 and :: as written: IPv4 only, or IPv6 (dual stack)
		if host == "*" {
			host = ""
		}
	case "localhost":
		host = "127.0.0.1"
	case "":
	default:
		if net.ParseIP(host) == nil {
			return "", fmt.Errorf("%q: the host must be an IP address (or localhost)", s)
		}
	}
	return net.JoinHostPort(host, strconv.Itoa(n)), nil
}
