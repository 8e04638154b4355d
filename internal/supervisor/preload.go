package supervisor

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

//go:embed preload.cjs
var nodePreload []byte

var preloadOnce struct {
	sync.Mutex
	path string
}

// preloadPath writes the Node preload into $TEND_HOME/node (once; the name
// holds a hash of the content, so a new tend never rewrites the file an
// instance of the old one loads) and returns its path.
func (s *Supervisor) preloadPath() (string, error) {
	preloadOnce.Lock()
	defer preloadOnce.Unlock()
	sum := sha256.Sum256(nodePreload)
	path := filepath.Join(s.opts.Home, "node", "tend-preload-"+hex.EncodeToString(sum[:6])+".cjs")
	if preloadOnce.path == path {
		return path, nil
	}
	// Apps load it: only a file the daemon's user owns, in a folder only
	// it may write (package homedir), reached through no link.
	h, err := s.home()
	if err != nil {
		return "", err
	}
	rel, _ := h.Rel(path)
	if err := h.MkdirAll(filepath.Dir(rel), 0o755); err != nil {
		return "", err
	}
	var b []byte
	f, err := h.OpenFile(rel, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err == nil {
		b, err = io.ReadAll(f)
		f.Close()
	}
	if err != nil || string(b) != string(nodePreload) {
		tmp := fmt.Sprintf("%s.%d.tmp", rel, os.Getpid())
		f, err := h.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return "", err
		}
		_, err = f.Write(nodePreload)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = h.Rename(tmp, rel)
		}
		if err != nil {
			h.Remove(tmp)
			return "", err
		}
	}
	preloadOnce.path = path
	return path, nil
}
