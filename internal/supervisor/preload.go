package supervisor

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sync"
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
	if b, err := os.ReadFile(path); err != nil || string(b) != string(nodePreload) {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return "", err
		}
		tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
		if err := os.WriteFile(tmp, nodePreload, 0o644); err != nil {
			return "", err
		}
		if err := os.Rename(tmp, path); err != nil {
			os.Remove(tmp)
			return "", err
		}
	}
	preloadOnce.path = path
	return path, nil
}
