package pm2wire_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tend-dev/tend/internal/pm2wire"
)

// pm2Packages are the pm2 versions the suite drives tend with (folders of
// testdata/pm2api/node_modules, pinned in its package.json).
var pm2Packages = []struct{ name, dir string }{
	{"pm2-7.0.4", "pm2"},
	{"pm2-5.4.3", "pm2v5"},
}

// TestPM2API runs testdata/pm2api/pm2api.test.cjs (node's test runner)
// against a real tend daemon, once per pm2 version: require('pm2') and
// PM2's CLI, unmodified, with PM2_HOME=$TEND_HOME.
func TestPM2API(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the PM2 client suite takes a minute")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: PM2's client cannot be run (apt-get install nodejs)")
	}
	suite, _ := filepath.Abs(filepath.Join("testdata", "pm2api"))
	if _, err := os.Stat(filepath.Join(suite, "node_modules", "pm2v5", "package.json")); err != nil {
		npm, err := exec.LookPath("npm")
		if err != nil {
			t.Skip("npm is not installed and testdata/pm2api/node_modules is missing: run `npm ci` there")
		}
		cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund")
		cmd.Dir = suite
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Skipf("npm ci in %s failed (no registry?): %v\n%s", suite, err, out)
		}
	}
	bin := filepath.Join(t.TempDir(), "tend")
	build := exec.Command("go", "build", "-o", bin, "github.com/tend-dev/tend/cmd/tend")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build tend: %v\n%s", err, out)
	}
	for _, pkg := range pm2Packages {
		t.Run(pkg.name, func(t *testing.T) {
			home, err := os.MkdirTemp("", "tend-pm2api-")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(home) })
			metrics := freeAddr(t)
			env := append(cleanEnv(), "TEND_HOME="+home, "PM2_HOME="+home, "TEND_BIN="+bin,
				"PM2_PKG="+filepath.Join(suite, "node_modules", pkg.dir),
				"TEND_METRICS_ADDR="+metrics, "METRICS_URL=http://"+metrics+"/metrics")
			tend := func(args ...string) (string, error) {
				cmd := exec.Command(bin, args...)
				cmd.Env = env
				out, err := cmd.CombinedOutput()
				return string(out), err
			}
			if out, err := tend("ping"); err != nil {
				t.Fatalf("tend ping: %v\n%s", err, out)
			}
			daemonPID := 0
			if b, err := os.ReadFile(filepath.Join(home, "daemon.lock")); err == nil {
				daemonPID, _ = strconv.Atoi(strings.TrimSpace(string(b)))
			}
			t.Cleanup(func() {
				// The suite kills the daemon itself; after a failure it may
				// not have: never leave it (and its apps) running.
				if daemonPID > 0 && syscall.Kill(daemonPID, 0) == nil {
					tend("kill")
					deadline := time.Now().Add(15 * time.Second)
					for syscall.Kill(daemonPID, 0) == nil && time.Now().Before(deadline) {
						time.Sleep(20 * time.Millisecond)
					}
				}
				// A PM2 daemon the suite made PM2 spawn (it failed) goes too.
				for _, p := range pm2Daemons(home) {
					if pid, err := strconv.Atoi(strings.SplitN(p, ":", 2)[0]); err == nil {
						syscall.Kill(pid, syscall.SIGKILL)
					}
				}
			})
			waitDial(t, filepath.Join(home, "rpc.sock"))
			// Garbage, a huge frame and a client gone mid-call first: the
			// suite then finds the daemon up.
			abuseRPC(t, filepath.Join(home, "rpc.sock"))

			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, node, "--test", "--test-reporter=spec", "pm2api.test.cjs")
			cmd.Dir = suite
			cmd.Env = env
			// node --test runs the file in a child: the whole group goes at
			// the end, so no test process outlives the run.
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
			defer func() {
				if cmd.Process != nil {
					syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				}
			}()
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err = cmd.Run()
			if err != nil {
				log, _ := os.ReadFile(filepath.Join(home, "tend.log"))
				t.Fatalf("node --test with %s: %v\n%s\ntend.log:\n%s", pkg.name, err, out.String(), log)
			}
			t.Logf("%s", lastLines(out.String(), 6))
			if pids := pm2Daemons(home); len(pids) > 0 {
				t.Fatalf("a PM2 daemon was started for %s: %v", home, pids)
			}
		})
	}
}

// abuseRPC sends rpc.sock what no PM2 client sends and checks each
// connection is closed or answered with an error.
func abuseRPC(t *testing.T, sock string) {
	t.Helper()
	huge := []byte{0x12}
	huge = binary.BigEndian.AppendUint32(huge, pm2wire.MaxFrame+1)
	unknown, _ := pm2wire.Encode(map[string]any{"type": "call", "method": "rm -rf", "args": []any{}}, "x:1")
	midCall, _ := pm2wire.Encode(map[string]any{"type": "call", "method": "getMonitorData", "args": []any{map[string]any{}}}, "x:2")
	for name, junk := range map[string][]byte{
		"http":     []byte("GET / HTTP/1.1\r\n\r\n"),
		"huge":     huge,
		"unknown":  unknown,
		"mid-call": midCall[:len(midCall)-3],
	} {
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		c.Write(junk)
		if name == "mid-call" {
			c.Close()
			continue
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		args, err := pm2wire.ReadFrame(bufio.NewReader(c), pm2wire.MaxFrame)
		c.Close()
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("%s: neither an answer nor a close", name)
		}
		if err == nil && !bytes.Contains(args[0], []byte(`"error"`)) {
			t.Fatalf("%s: answered %q", name, args)
		}
	}
}

// cleanEnv is the test's environment without the TEND_ and PM2_ settings of
// the machine.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TEND_") && !strings.HasPrefix(kv, "PM2_") {
			out = append(out, kv)
		}
	}
	return out
}

// freeAddr is a loopback address no one listens on (for the daemon's
// Prometheus metrics).
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitDial(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("unix", path)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not answer: %v", path, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pm2Daemons lists the processes that are PM2's daemon for home ("PM2 vX:
// God Daemon (home)").
func pm2Daemons(home string) []string {
	var out []string
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline"))
		if err != nil {
			continue
		}
		cmd := strings.ReplaceAll(string(b), "\x00", " ")
		if strings.HasPrefix(cmd, "PM2 v") && strings.Contains(cmd, home) {
			out = append(out, d.Name()+": "+cmd)
		}
	}
	return out
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
