package js

import (
	"os"
	"os/user"
	"path/filepath"
	"strings"
)

// CurrentUsername is the name of the user tend runs as, as Node's
// os.userInfo() and PM2 find it.
func CurrentUsername() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	for _, k := range []string{"USER", "LNAME", "USERNAME", "SUDO_USER", "C9_USER", "LOGNAME"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return ""
}

// ReadColonFile reads /etc/passwd or /etc/group into entries keyed by name and by id.
func ReadColonFile(path string) (map[string][]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m := map[string][]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) < 3 {
			continue
		}
		m[f[0]] = f
		m[f[2]] = f
	}
	return m, nil
}

// LookPathIn finds an executable named name in the directories of pathEnv; names
// with a slash are checked as they are. It returns "" when not found.
func LookPathIn(name, pathEnv string) string {
	if name == "" {
		return ""
	}
	isExec := func(p string) bool {
		st, err := os.Stat(p)
		return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
	}
	if strings.Contains(name, "/") {
		return "" // a path, not a command name
	}
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		if isExec(p) {
			if abs, err := filepath.Abs(p); err == nil {
				return abs
			}
			return p
		}
	}
	return ""
}
