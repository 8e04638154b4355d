// Package homedir opens TEND_HOME the way a daemon that may run as root
// must: the folder and every folder tend uses in it must belong to the user
// tend runs as and be writable by nobody else (OpenSSH's StrictModes), and
// nothing in it is reached through a symbolic link. Whoever else could write
// there could plant a state record whose script the daemon runs, or a link
// through which the daemon writes to any file.
//
// The checks cover the home and what is inside it, not the folders above it,
// as OpenSSH checks a user's home and ~/.ssh but nothing above the home: the
// path to the home is the user's choice (TEND_HOME), and a link in it is
// followed.
package homedir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// ErrUnsafe is matched (errors.Is) by every *UnsafeError.
var ErrUnsafe = errors.New("unsafe TEND_HOME")

// UnsafeError is a home, a folder or a file in it that tend refuses to use.
type UnsafeError struct {
	Path    string // what is refused
	Problem string // what is wrong with it, with its owner and mode
	Fix     string // the command that mends it
}

func (e *UnsafeError) Error() string {
	return fmt.Sprintf("TEND_HOME is unsafe: %s %s; tend refuses to use it (fix: %s)", e.Path, e.Problem, e.Fix)
}

// Is makes errors.Is(err, ErrUnsafe) hold.
func (e *UnsafeError) Is(target error) bool { return target == ErrUnsafe }

// Dir is an opened, checked TEND_HOME. Folders and files in it are reached
// with openat relative to the home's descriptor, each folder checked once and
// kept open, each file opened with O_NOFOLLOW.
type Dir struct {
	path string
	uid  int
	fd   int

	mu   sync.Mutex
	dirs map[string]int // checked folders by path relative to the home; "" is the home
}

// Open creates path (mode 0700, with missing parents) if it does not exist,
// checks it, and opens it.
func Open(path string) (*Dir, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("create TEND_HOME %s: %w", abs, err)
	}
	// The home itself may be reached through a link (TEND_HOME is the
	// user's choice); what it is, is checked.
	fd, err := unix.Open(abs, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open TEND_HOME %s: %w", abs, err)
	}
	d := &Dir{path: abs, uid: os.Geteuid(), fd: fd, dirs: map[string]int{"": fd}}
	if err := d.checkDir(fd, abs); err != nil {
		unix.Close(fd)
		return nil, err
	}
	// The folders tend uses are checked now, so that a daemon refuses to
	// start rather than fail app by app.
	for _, f := range Folders {
		var st unix.Stat_t
		if err := unix.Fstatat(fd, f, &st, unix.AT_SYMLINK_NOFOLLOW); errors.Is(err, unix.ENOENT) {
			continue
		}
		if _, err := d.dir(f, 0o700); err != nil {
			d.Close()
			return nil, err
		}
	}
	return d, nil
}

// Folders are the folders tend makes in the home; Open checks those that
// exist.
var Folders = []string{"logs", "pids", "state", "run", "node"}

// Path is the home's absolute path.
func (d *Dir) Path() string { return d.path }

// Close closes the home and the folders opened in it.
func (d *Dir) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, fd := range d.dirs {
		unix.Close(fd)
	}
	d.dirs = nil
	return nil
}

// Rel returns path relative to the home when path is inside it.
func (d *Dir) Rel(path string) (string, bool) {
	if d == nil || !filepath.IsAbs(path) {
		return "", false
	}
	rel, ok := strings.CutPrefix(filepath.Clean(path), d.path+string(filepath.Separator))
	if !ok || rel == "" {
		return "", false
	}
	return rel, true
}

// checkDir refuses a folder that is not a folder, not the user's, or that
// others may write.
func (d *Dir) checkDir(fd int, path string) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return &UnsafeError{Path: path, Problem: "is not a folder", Fix: "remove it: rm " + path}
	}
	return d.checkOwner(&st, path, "chmod 700 "+path)
}

// checkOwner refuses what another user owns or others may write.
func (d *Dir) checkOwner(st *unix.Stat_t, path, chmod string) error {
	mode := fs.FileMode(st.Mode & 0o7777)
	if int(st.Uid) != d.uid {
		return &UnsafeError{Path: path,
			Problem: fmt.Sprintf("belongs to uid %d (mode %04o), not to uid %d that tend runs as: that user could make tend run or write anything as uid %d", st.Uid, mode, d.uid, d.uid),
			Fix:     fmt.Sprintf("chown %d %s, or remove it, or use another TEND_HOME", d.uid, path)}
	}
	if mode&0o022 != 0 {
		who := "group and others"
		switch mode & 0o022 {
		case 0o020:
			who = "its group"
		case 0o002:
			who = "others"
		}
		return &UnsafeError{Path: path,
			Problem: fmt.Sprintf("is writable by %s (mode %04o, owner uid %d)", who, mode, st.Uid),
			Fix:     chmod}
	}
	return nil
}

// refuseLink turns the error of an O_NOFOLLOW open of path into one that
// says a link was planted there.
func refuseLink(err error, path string) error {
	if !errors.Is(err, unix.ELOOP) && !errors.Is(err, unix.ENOTDIR) {
		return &fs.PathError{Op: "open", Path: path, Err: err}
	}
	if target, lerr := os.Readlink(path); lerr == nil {
		return &UnsafeError{Path: path, Problem: "is a symbolic link (to " + target + "): tend follows no link inside TEND_HOME",
			Fix: "rm " + path}
	}
	return &fs.PathError{Op: "open", Path: path, Err: err}
}

// dir returns the checked folder rel of the home, creating what is missing
// with perm.
func (d *Dir) dir(rel string, perm os.FileMode) (int, error) {
	rel = filepath.Clean(rel)
	if rel == "." {
		rel = ""
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dirs == nil {
		return -1, fmt.Errorf("TEND_HOME %s: closed", d.path)
	}
	if fd, ok := d.dirs[rel]; ok {
		return fd, nil
	}
	if rel == ".." || strings.HasPrefix(rel, "../") || filepath.IsAbs(rel) {
		return -1, fmt.Errorf("%s is not inside TEND_HOME %s", rel, d.path)
	}
	parent, name := "", rel
	if i := strings.LastIndexByte(rel, '/'); i >= 0 {
		parent, name = rel[:i], rel[i+1:]
	}
	d.mu.Unlock()
	pfd, err := d.dir(parent, perm)
	d.mu.Lock()
	if err != nil {
		return -1, err
	}
	if d.dirs == nil {
		return -1, fmt.Errorf("TEND_HOME %s: closed", d.path)
	}
	if fd, ok := d.dirs[rel]; ok { // made meanwhile
		return fd, nil
	}
	path := filepath.Join(d.path, rel)
	flags := unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fd, err := unix.Openat(pfd, name, flags, 0)
	if errors.Is(err, unix.ENOENT) {
		if err = unix.Mkdirat(pfd, name, uint32(perm.Perm())); err != nil && !errors.Is(err, unix.EEXIST) {
			return -1, &fs.PathError{Op: "mkdir", Path: path, Err: err}
		}
		fd, err = unix.Openat(pfd, name, flags, 0)
	}
	if err != nil {
		return -1, refuseLink(err, path)
	}
	if err := d.checkDir(fd, path); err != nil {
		unix.Close(fd)
		return -1, err
	}
	d.dirs[rel] = fd
	return fd, nil
}

// MkdirAll makes sure the folder rel exists in the home, created with perm,
// and that it and every folder above it up to the home pass the checks.
func (d *Dir) MkdirAll(rel string, perm os.FileMode) error {
	_, err := d.dir(rel, perm)
	return err
}

// OpenFile opens the file rel of the home like os.OpenFile, creating missing
// folders (0700). A link there is refused, and so is a file another user
// owns.
func (d *Dir) OpenFile(rel string, flag int, perm os.FileMode) (*os.File, error) {
	dfd, err := d.dir(filepath.Dir(rel), 0o700)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(d.path, rel)
	fd, err := unix.Openat(dfd, filepath.Base(rel), flag|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(perm.Perm()))
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil, &fs.PathError{Op: "open", Path: path, Err: fs.ErrNotExist}
		}
		return nil, refuseLink(err, path)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if int(st.Uid) != d.uid {
		unix.Close(fd)
		return nil, &UnsafeError{Path: path,
			Problem: fmt.Sprintf("belongs to uid %d (mode %04o), not to uid %d that tend runs as", st.Uid, st.Mode&0o7777, d.uid),
			Fix:     "rm " + path}
	}
	return os.NewFile(uintptr(fd), path), nil
}

// Remove removes the file rel of the home (a link itself, never its target).
func (d *Dir) Remove(rel string) error {
	dfd, err := d.dir(filepath.Dir(rel), 0o700)
	if err != nil {
		return err
	}
	if err := unix.Unlinkat(dfd, filepath.Base(rel), 0); err != nil {
		return &fs.PathError{Op: "remove", Path: filepath.Join(d.path, rel), Err: err}
	}
	return nil
}

// Rename renames the file from to to, both relative to the home.
func (d *Dir) Rename(from, to string) error {
	ffd, err := d.dir(filepath.Dir(from), 0o700)
	if err != nil {
		return err
	}
	tfd, err := d.dir(filepath.Dir(to), 0o700)
	if err != nil {
		return err
	}
	if err := unix.Renameat(ffd, filepath.Base(from), tfd, filepath.Base(to)); err != nil {
		return &os.LinkError{Op: "rename", Old: filepath.Join(d.path, from), New: filepath.Join(d.path, to), Err: err}
	}
	return nil
}

// ReadDir lists the folder rel of the home (checked like any other).
func (d *Dir) ReadDir(rel string) ([]os.DirEntry, error) {
	dfd, err := d.dir(rel, 0o700)
	if err != nil {
		return nil, err
	}
	// A descriptor of its own: reading moves the offset.
	fd, err := unix.Openat(dfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), filepath.Join(d.path, rel))
	defer f.Close()
	return f.ReadDir(-1)
}

// OpenFile opens path: through d when it is inside the home (checked, no
// link followed), as os.OpenFile does otherwise (a path the user named, such
// as /dev/null or a file outside the home, keeps its usual meaning). Folders
// missing outside the home are created with dirPerm.
func OpenFile(d *Dir, path string, flag int, perm, dirPerm os.FileMode) (*os.File, error) {
	if rel, ok := d.Rel(path); ok {
		if err := d.MkdirAll(filepath.Dir(rel), dirPerm); err != nil {
			return nil, err
		}
		return d.OpenFile(rel, flag, perm)
	}
	f, err := os.OpenFile(path, flag, perm)
	if errors.Is(err, os.ErrNotExist) && flag&os.O_CREATE != 0 {
		if err := os.MkdirAll(filepath.Dir(path), dirPerm); err != nil {
			return nil, err
		}
		f, err = os.OpenFile(path, flag, perm)
	}
	return f, err
}
