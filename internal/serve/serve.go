// Package serve is the static file server behind `tend serve` (PM2's
// serve): a process of its own, in the process list like any app,
// configured by PM2's PM2_SERVE_* variables.
package serve

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// Arg is the hidden subcommand that runs the server: `tend __serve`.
const Arg = "__serve"

// Options are what the PM2_SERVE_* variables say.
type Options struct {
	Root     string // the folder served
	Addr     string // host:port
	SPA      bool   // a missing path answers the homepage
	Listing  bool   // folders without index.html are listed (PM2's --ftp)
	Homepage string // "/index.html"
	User     string // basic auth, when both are set
	Password string
}

// FromEnv reads PM2's variables: PM2_SERVE_PATH, _PORT (8080), _HOST
// (0.0.0.0), _SPA, _FTP, _HOMEPAGE, _BASIC_AUTH(_USERNAME, _PASSWORD).
func FromEnv(getenv func(string) string) Options {
	or := func(k, def string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return def
	}
	root, err := filepath.Abs(or("PM2_SERVE_PATH", "."))
	if err != nil {
		root = or("PM2_SERVE_PATH", ".")
	}
	o := Options{
		Root: root, Addr: net.JoinHostPort(or("PM2_SERVE_HOST", "0.0.0.0"), or("PM2_SERVE_PORT", "8080")),
		SPA: getenv("PM2_SERVE_SPA") == "true", Listing: getenv("PM2_SERVE_FTP") == "true",
		Homepage: or("PM2_SERVE_HOMEPAGE", "/index.html"),
	}
	if getenv("PM2_SERVE_BASIC_AUTH") == "true" {
		o.User, o.Password = getenv("PM2_SERVE_BASIC_AUTH_USERNAME"), getenv("PM2_SERVE_BASIC_AUTH_PASSWORD")
	}
	return o
}

// Run serves until the process is stopped.
func Run(o Options) error {
	if st, err := os.Stat(o.Root); err != nil || !st.IsDir() {
		return fmt.Errorf("serve: %s is not a folder", o.Root)
	}
	srv := &http.Server{Addr: o.Addr, Handler: Handler(o), ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("Exposing %s directory on %s\n", o.Root, o.Addr)
	err := srv.ListenAndServe()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Handler answers with the files under o.Root.
func Handler(o Options) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o.User != "" && o.Password != "" {
			u, p, ok := r.BasicAuth()
			if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(o.User)) != 1 || subtle.ConstantTimeCompare([]byte(p), []byte(o.Password)) != 1 {
				w.Header().Set("WWW-Authenticate", `Basic realm="tend serve"`)
				http.Error(w, "401 Unauthorized", http.StatusUnauthorized)
				return
			}
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "405 Method Not Allowed", http.StatusMethodNotAllowed)
			return
		}
		p := path.Clean("/" + r.URL.Path)
		if p == "/" {
			p = o.Homepage
		}
		file := filepath.Join(o.Root, filepath.FromSlash(p))
		st, err := os.Stat(file)
		if err == nil && st.IsDir() {
			index := filepath.Join(file, "index.html")
			if ist, ierr := os.Stat(index); ierr == nil && !ist.IsDir() {
				file, st = index, ist
			} else if o.Listing {
				http.FileServer(http.Dir(o.Root)).ServeHTTP(w, r)
				return
			} else {
				err = os.ErrNotExist
			}
		}
		if err != nil {
			if o.SPA {
				file = filepath.Join(o.Root, filepath.FromSlash(path.Clean("/"+o.Homepage)))
				if st, err = os.Stat(file); err == nil && !st.IsDir() {
					serveFile(w, r, file, st)
					return
				}
			}
			notFound(w, o.Root)
			return
		}
		serveFile(w, r, file, st)
	})
}

func serveFile(w http.ResponseWriter, r *http.Request, file string, st os.FileInfo) {
	f, err := os.Open(file)
	if err != nil {
		http.Error(w, "403 Forbidden", http.StatusForbidden)
		return
	}
	defer f.Close()
	http.ServeContent(w, r, st.Name(), st.ModTime(), f)
}

// notFound answers 404 with the folder's 404.html, as PM2's serve does.
func notFound(w http.ResponseWriter, root string) {
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(http.StatusNotFound)
	if b, err := os.ReadFile(filepath.Join(root, "404.html")); err == nil {
		w.Write(b)
		return
	}
	w.Write([]byte("404 Not Found"))
}

// Name is PM2's name for a served folder's app.
func Name(port string) string { return "static-page-server-" + strings.TrimSpace(port) }
