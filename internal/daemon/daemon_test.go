package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tend-dev/tend/internal/api"
	"github.com/tend-dev/tend/internal/client"
	"github.com/tend-dev/tend/internal/version"
)

// startDaemon runs a daemon in this process until the test ends.
func startDaemon(t *testing.T, allowUID int) string {
	t.Helper()
	return startDaemonIn(t, filepath.Join(t.TempDir(), "home"), allowUID)
}

// startDaemonIn runs a daemon of home (which may hold a tend.json) in this
// process until the test ends.
func startDaemonIn(t *testing.T, home string, allowUID int) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- Run(ctx, Options{Home: home, Ready: pw, Log: io.Discard, AllowUID: allowUID}) }()
	buf := make([]byte, 6)
	if _, err := io.ReadFull(pr, buf); err != nil || string(buf) != "ready\n" {
		t.Fatalf("daemon not ready: %q %v %v", buf, err, <-done)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("daemon: %v", err)
		}
	})
	return home
}

func TestSocketIsPrivate(t *testing.T) {
	home := startDaemon(t, -1)
	fi, err := os.Stat(SocketPath(home))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v, want 0600", fi.Mode().Perm())
	}
	if _, err := client.New(home).Ping(context.Background()); err != nil {
		t.Fatalf("owner refused: %v", err)
	}
}

// The uid check itself: a daemon that belongs to another uid refuses us,
// with a typed error.
func TestPeerWithOtherUIDIsRefused(t *testing.T) {
	home := startDaemon(t, os.Getuid()+1)
	_, err := client.New(home).List(context.Background())
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Code != api.CodeForbidden {
		t.Fatalf("got %v, want a forbidden api.Error", err)
	}
}

// A real second user, through the real socket: as root, run a client
// process as nobody against a socket opened up to everyone. The file mode
// no longer protects it; the peer-uid check still does.
func TestRealSecondUserIsRefused(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run a process as another user")
	}
	home := startDaemon(t, -1)
	openUp(home)
	os.Chmod(SocketPath(home), 0o666)
	bin := filepath.Join(t.TempDir(), "peer")
	openUp(filepath.Dir(bin))
	src := filepath.Join(t.TempDir(), "main.go")
	prog := `package main
import ("fmt";"net";"os";"bufio")
func main(){
 c, err := net.Dial("unix", os.Args[1]); if err != nil { fmt.Println("dial:", err); os.Exit(2) }
 fmt.Fprintf(c, "GET /v1/processes HTTP/1.0\r\nHost: tend\r\n\r\n")
 line, _ := bufio.NewReader(c).ReadString('\n'); fmt.Print(line)
}`
	if err := os.WriteFile(src, []byte(prog), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("go", "build", "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("build peer: %v\n%s", err, out)
	}
	os.Chmod(bin, 0o755)
	cmd := exec.Command(bin, SocketPath(home))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("peer: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "403") {
		t.Fatalf("a client with uid 65534 got %q, want 403 Forbidden", out)
	}
	// and the owner is still served
	if _, err := client.New(home).Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestSecondDaemonOnSameHomeRefuses(t *testing.T) {
	home := startDaemon(t, -1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := Run(ctx, Options{Home: home, Log: io.Discard, AllowUID: -1})
	if !errors.Is(err, ErrRunning) {
		t.Fatalf("second daemon: %v, want ErrRunning", err)
	}
	b, _ := os.ReadFile(filepath.Join(home, "daemon.lock"))
	if strings.TrimSpace(string(b)) != strconv.Itoa(os.Getpid()) {
		t.Fatalf("lock file says %q", b)
	}
}

// openUp makes dir and its parents below the temp folder traversable by all.
func openUp(dir string) {
	for d := dir; strings.HasPrefix(d, os.TempDir()+"/"); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
}

// TestKillTogether: kill and detach requests that arrive together end the
// daemon once; none of them panics on a closed channel. Each answer's
// write waits until all have written, so they all reach quit at once.
func TestKillTogether(t *testing.T) {
	for round := 0; round < 20; round++ {
		d := &Daemon{quit: make(chan struct{})}
		const n = 32
		var arrived, wg sync.WaitGroup
		arrived.Add(n)
		release := make(chan struct{})
		go func() { arrived.Wait(); close(release) }()
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w := &barrierWriter{ResponseRecorder: httptest.NewRecorder(), arrived: &arrived, release: release}
				if i%2 == 0 {
					d.kill(w, httptest.NewRequest("POST", "/v1/kill", nil))
				} else {
					d.detachHandler(w, httptest.NewRequest("POST", "/v1/detach", nil))
				}
			}()
		}
		wg.Wait()
		select {
		case <-d.quit:
		default:
			t.Fatal("quit is still open")
		}
	}
}

// barrierWriter holds a handler's answer until every handler has one.
type barrierWriter struct {
	*httptest.ResponseRecorder
	arrived *sync.WaitGroup
	release chan struct{}
	once    sync.Once
}

func (b *barrierWriter) Write(p []byte) (int, error) {
	b.once.Do(func() { b.arrived.Done(); <-b.release })
	return b.ResponseRecorder.Write(p)
}

// TestCheckVersion: every answer carries the daemon's versions; a client
// of another API version is refused with both versions and the next step;
// a client that sends none (older than the header) is served.
func TestCheckVersion(t *testing.T) {
	h := checkVersion(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("[]")) }))
	for _, c := range []struct {
		api, build string
		status     int
	}{{version.API, "x", 200}, {"", "", 200}, {"0", "0.0.1", 400}} {
		req := httptest.NewRequest("GET", "/v1/processes", nil)
		if c.api != "" {
			req.Header.Set(version.HeaderAPI, c.api)
			req.Header.Set(version.HeaderBuild, c.build)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != c.status || w.Header().Get(version.HeaderAPI) != version.API || w.Header().Get(version.HeaderBuild) != version.String() {
			t.Errorf("API %q: %d %v", c.api, w.Code, w.Header())
		}
		if c.status == 400 {
			var e api.Error
			json.NewDecoder(w.Body).Decode(&e)
			if !errors.Is(&e, api.ErrVersion) || !strings.Contains(e.Message, "tend 0.0.1 (API 0)") || !strings.Contains(e.Message, "tend update") {
				t.Errorf("refusal: %+v", e)
			}
		}
	}
}
