// Package cgroup gives each run of an app a control group of its own where
// the kernel offers one that tend may write to: cgroup v2 with the memory
// controller delegated, or the cgroup v1 memory controller. In a group, an
// app's memory is the kernel's own count over every process it started, and
// a stop reaches every one of them, even those that left the process group
// and were reparented away. Where neither is there, Open returns a Manager
// that says why and the supervisor walks /proc instead.
package cgroup

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Version is the cgroup hierarchy a Manager uses.
type Version int

const (
	None Version = iota // no cgroup: /proc sampling
	V1                  // the cgroup v1 memory controller
	V2                  // the unified hierarchy with the memory controller
)

// ErrUnavailable wraps every reason a cgroup mode cannot be used here.
var ErrUnavailable = errors.New("cgroup unavailable")

// Manager creates the apps' groups under one folder of its own, named for
// TEND_HOME, inside the daemon's own cgroup: tend stays inside whatever
// limits the daemon was started under.
type Manager struct {
	version Version
	base    string // the folder of the apps' groups
	self    string // the daemon's own group (v1: where the spawning thread returns)
	why     string // None: why no cgroup is used
	mount   string // the hierarchy's mount point
	seq     atomic.Int64
	prefix  string
}

// Settings for Open.
type Settings struct {
	// Home is TEND_HOME; it names the folder of this daemon's groups.
	Home string
	// Mode is "auto" (or ""), "off", "v1" or "v2".
	Mode string
	// Root is where /proc/self/cgroup and /proc/self/mountinfo are read
	// from and cgroup paths are resolved: "" means "/". Tests point it at a
	// folder laid out like a machine's.
	Root string
}

// Open finds the cgroup mode to use. It never fails: a Manager without a
// cgroup (Version None) says why in Reason.
func Open(s Settings) *Manager {
	mode := strings.ToLower(strings.TrimSpace(s.Mode))
	switch mode {
	case "", "auto", "v1", "v2":
	case "off", "none", "false", "0":
		return &Manager{why: "turned off (TEND_CGROUP=" + s.Mode + ")"}
	default:
		return &Manager{why: fmt.Sprintf("unknown TEND_CGROUP=%q (use auto, v2, v1 or off)", s.Mode)}
	}
	h, err := readHost(s.Root)
	if err != nil {
		return &Manager{why: err.Error()}
	}
	sum := sha256.Sum256([]byte(s.Home))
	key := "tend-" + hex.EncodeToString(sum[:6])
	var why []string
	if mode != "v1" {
		m, err := openV2(h, key)
		if err == nil {
			return m
		}
		why = append(why, err.Error())
	}
	if mode != "v2" {
		m, err := openV1(h, key)
		if err == nil {
			return m
		}
		why = append(why, err.Error())
	}
	return &Manager{why: strings.Join(why, "; ")}
}

// Version is the mode in use.
func (m *Manager) Version() Version {
	if m == nil {
		return None
	}
	return m.version
}

// Reason says why no cgroup is used ("" when one is).
func (m *Manager) Reason() string {
	if m == nil {
		return "not enabled"
	}
	return m.why
}

// Base is the folder that holds the apps' groups ("" without a cgroup).
func (m *Manager) Base() string {
	if m == nil {
		return ""
	}
	return m.base
}

// Describe names how memory is measured, for describe and the daemon log.
func (m *Manager) Describe() string {
	switch m.Version() {
	case V2:
		return "cgroup v2 (working set of the app's group)"
	case V1:
		return "cgroup v1 (working set of the app's group)"
	}
	return "process tree RSS from /proc"
}

// host is what the kernel says of the daemon's place in the cgroup trees.
type host struct {
	root   string
	v2Mnt  string // mount point of cgroup2, "" if none
	v2Root string // the mount's root inside the hierarchy
	v2Own  string // the daemon's v2 group ("0::" line)
	v1Mnt  string // mount point of the v1 memory hierarchy
	v1Root string
	v1Own  string // the daemon's v1 memory group
}

func readHost(root string) (host, error) {
	if root == "" {
		root = "/"
	}
	h := host{root: root}
	mi, err := os.Open(filepath.Join(root, "proc/self/mountinfo"))
	if err != nil {
		return h, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	defer mi.Close()
	sc := bufio.NewScanner(mi)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		// id parent major:minor root mountpoint options... - fstype source superoptions
		f := strings.Fields(sc.Text())
		sep := -1
		for i, w := range f {
			if w == "-" {
				sep = i
				break
			}
		}
		if sep < 5 || sep+3 > len(f) {
			continue
		}
		mroot, mnt, fstype := unescape(f[3]), unescape(f[4]), f[sep+1]
		switch fstype {
		case "cgroup2":
			if h.v2Mnt == "" {
				h.v2Mnt, h.v2Root = mnt, mroot
			}
		case "cgroup":
			if h.v1Mnt == "" && hasWord(f[sep+3], "memory") {
				h.v1Mnt, h.v1Root = mnt, mroot
			}
		}
	}
	cg, err := os.ReadFile(filepath.Join(root, "proc/self/cgroup"))
	if err != nil {
		return h, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	for _, line := range strings.Split(string(cg), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "":
			h.v2Own = parts[2]
		case hasWord(parts[1], "memory"):
			h.v1Own = parts[2]
		}
	}
	return h, nil
}

// dir is the folder of group own in a hierarchy mounted at mnt whose mount
// shows the hierarchy from mroot down.
func (h host) dir(mnt, mroot, own string) (string, error) {
	rel, ok := strings.CutPrefix(own, mroot)
	if !ok {
		return "", fmt.Errorf("the daemon's group %s is outside the mount of %s", own, mnt)
	}
	return filepath.Join(h.root, mnt, rel), nil
}

func hasWord(list, w string) bool {
	for _, x := range strings.Split(list, ",") {
		if x == w {
			return true
		}
	}
	return false
}

// unescape undoes mountinfo's octal escapes (\040 for a space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func (m *Manager) init(v Version, self, base, mount string) *Manager {
	m.version, m.self, m.base, m.mount = v, self, base, mount
	m.prefix = strconv.FormatInt(time.Now().UnixNano()/1e6%1e9, 36)
	return m
}

// Sweep removes the empty groups an earlier daemon of this TEND_HOME left
// and returns how many still hold processes (left running by a daemon that
// died).
func (m *Manager) Sweep() (busy int) {
	if m.Version() == None {
		return 0
	}
	ents, err := os.ReadDir(m.base)
	if err != nil {
		return 0
	}
	for _, e := range ents {
		if e.IsDir() {
			if os.Remove(filepath.Join(m.base, e.Name())) != nil {
				busy++
			}
		}
	}
	return busy
}

// Groups lists the groups in base: this manager's base folder, or the base
// folder an earlier daemon of the same TEND_HOME used from another cgroup of
// its own (see Adopt); nil for any other folder.
func (m *Manager) Groups(base string) []string {
	if m.Version() == None || !m.isBase(base) {
		return nil
	}
	ents, _ := os.ReadDir(base)
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, filepath.Join(m.base, e.Name()))
		}
	}
	return out
}

// isBase reports whether dir is a base folder of this TEND_HOME in this
// manager's hierarchy: named for the home, anywhere below the mount (a daemon
// started from another cgroup has its base there).
func (m *Manager) isBase(dir string) bool {
	dir = filepath.Clean(dir)
	return dir == m.base || (filepath.Base(dir) == filepath.Base(m.base) && strings.HasPrefix(dir, m.mount+string(filepath.Separator)))
}

// Owns reports whether dir is, by its place, a group of this TEND_HOME's
// (made by this daemon or an earlier one, perhaps from another cgroup).
func (m *Manager) Owns(dir string) bool {
	return m.Version() != None && m.isBase(filepath.Dir(filepath.Clean(dir)))
}

// Adopt returns the group at dir, made by an earlier daemon of this
// TEND_HOME, perhaps from another cgroup of its own; nil if dir is not such
// a group.
func (m *Manager) Adopt(dir string) *Group {
	dir = filepath.Clean(dir)
	if m.Version() == None || !m.isBase(filepath.Dir(dir)) {
		return nil
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil
	}
	return &Group{m: m, dir: dir}
}

// Close removes the folder of the groups if it is empty.
func (m *Manager) Close() {
	if m.Version() != None {
		m.Sweep()
		os.Remove(m.base)
	}
}

// New creates a group for one run of an app; name should say which.
func (m *Manager) New(name string) (*Group, error) {
	if m.Version() == None {
		return nil, fmt.Errorf("%w: %s", ErrUnavailable, m.why)
	}
	dir := filepath.Join(m.base, fmt.Sprintf("%s.%s%d", name, m.prefix, m.seq.Add(1)))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("%w: create cgroup: %v", ErrUnavailable, err)
	}
	return &Group{m: m, dir: dir}, nil
}

// Group is one run's cgroup.
type Group struct {
	m   *Manager
	dir string

	mu         sync.Mutex
	inactive   int64     // inactive file cache, from the last read of memory.stat
	inactiveAt time.Time // when
	usage      int64     // the last usage read for a list
	usageAt    time.Time // when
	// files are the group's usage and memory.stat files, opened at their
	// first read and read again with pread: opening a v1 cgroup file costs
	// ~0.2 ms, a read of an open one a few µs. closed: Remove closed them
	// (no read opens them again).
	files  [2]*os.File
	closed bool
}

// UsageAge is how old a usage figure a list may show: as old as the /proc
// sample it is shown beside (procstat's 500 ms). Opening a v1 cgroup file
// costs ~0.2 ms, most of a list of 1,000 apps when every list read them all.
const UsageAge = 500 * time.Millisecond

// Dir is the group's folder.
func (g *Group) Dir() string { return g.dir }

// Pids lists the processes in the group now. The daemon itself is never
// listed: on v1 one of its threads sits in a group while it forks an app
// there, and cgroup.procs then shows the daemon's pid.
func (g *Group) Pids() []int {
	b, err := os.ReadFile(filepath.Join(g.dir, "cgroup.procs"))
	if err != nil {
		return nil
	}
	var out []int
	self := os.Getpid()
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil && pid != self {
			out = append(out, pid)
		}
	}
	return out
}

// Empty reports whether no process is left in the group.
func (g *Group) Empty() bool { return len(g.Pids()) == 0 }

// Memory is the group's working set in bytes: what the kernel charges it
// less the inactive file cache it can drop at once — the figure Kubernetes
// and `docker stats` use, so page cache an app merely read does not count.
func (g *Group) Memory() (int64, error) { return g.memory(0) }

// MemoryRecent is Memory with the usage as read at most UsageAge ago and
// the inactive cache at most maxAge ago: the figure a list shows, for the
// price of at most one small file per app (memory.stat costs several times
// more, and a list may show a thousand).
func (g *Group) MemoryRecent(maxAge time.Duration) (int64, error) { return g.memory(maxAge) }

func (g *Group) memory(maxAge time.Duration) (int64, error) {
	usageFile, statKey := "memory.current", "inactive_file"
	if g.m.version == V1 {
		usageFile, statKey = "memory.usage_in_bytes", "total_inactive_file"
	}
	now := time.Now()
	g.mu.Lock()
	usage, fresh := g.usage, maxAge > 0 && now.Sub(g.usageAt) <= UsageAge
	g.mu.Unlock()
	if !fresh {
		var buf [64]byte
		b, err := g.read(0, usageFile, buf[:])
		if err != nil {
			return 0, err
		}
		if usage, err = strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err != nil {
			return 0, fmt.Errorf("%s: %w", usageFile, err)
		}
	}
	g.mu.Lock()
	if !fresh && maxAge > 0 {
		g.usage, g.usageAt = usage, now
	}
	readStat := maxAge <= 0 || now.Sub(g.inactiveAt) > maxAge
	if readStat {
		g.inactiveAt = now
	}
	g.mu.Unlock()
	if readStat {
		inactive, _ := g.statValue(statKey)
		g.mu.Lock()
		g.inactive = inactive
		g.mu.Unlock()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return max(usage-g.inactive, 0), nil
}

// read reads the group's file i (0: usage, 1: memory.stat) from its start
// into buf, opening it on first use.
func (g *Group) read(i int, name string, buf []byte) ([]byte, error) {
	g.mu.Lock()
	f := g.files[i]
	if f == nil {
		if g.closed {
			g.mu.Unlock()
			return nil, &os.PathError{Op: "open", Path: filepath.Join(g.dir, name), Err: os.ErrClosed}
		}
		var err error
		if f, err = os.OpenFile(filepath.Join(g.dir, name), os.O_RDONLY, 0); err != nil {
			g.mu.Unlock()
			return nil, err
		}
		g.files[i] = f
	}
	g.mu.Unlock()
	n, err := f.ReadAt(buf, 0)
	if err != nil && !(errors.Is(err, io.EOF) && n > 0) {
		return nil, err
	}
	return buf[:n], nil
}

// closeFiles closes the files read kept open; none opens again.
func (g *Group) closeFiles() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	for i, f := range g.files {
		if f != nil {
			f.Close()
			g.files[i] = nil
		}
	}
}

// statValue reads key from the group's memory.stat.
func (g *Group) statValue(key string) (int64, error) {
	var buf [8 << 10]byte
	b, err := g.read(1, "memory.stat", buf[:])
	if err != nil {
		return 0, err
	}
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		k, v, ok := bytes.Cut(line, []byte(" "))
		if ok && string(k) == key {
			return strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
		}
	}
	return 0, fmt.Errorf("%s: no %s", filepath.Join(g.dir, "memory.stat"), key)
}

// Remove deletes the group once it is empty, killing what is left in it;
// it gives up after about a second.
func (g *Group) Remove() error {
	if g == nil {
		return nil
	}
	g.closeFiles()
	var err error
	for i := 0; i < 200; i++ {
		if err = os.Remove(g.dir); err == nil || os.IsNotExist(err) {
			return nil
		}
		g.Kill()
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("remove cgroup %s: %w", g.dir, err)
}
