package js

import (
	"bufio"
	"fmt"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/dop251/goja"
	"golang.org/x/sys/unix"
)

// Node.js globals and built-in modules, as far as ecosystem files use them.

func nodePlatform() string {
	switch runtime.GOOS {
	case "windows":
		return "win32"
	}
	return runtime.GOOS
}

func nodeArch() string {
	switch runtime.GOARCH {
	case "amd64":
		return "x64"
	case "386":
		return "ia32"
	}
	return runtime.GOARCH
}

func (j *Env) fn(f func(call goja.FunctionCall) goja.Value) goja.Value { return j.rt.ToValue(f) }

func (j *Env) setupGlobals() {
	rt := j.rt
	g := rt.GlobalObject()
	_ = g.Set("global", g)

	// console writes to the configured writer.
	console := rt.NewObject()
	logf := func(call goja.FunctionCall) goja.Value {
		parts := make([]string, len(call.Arguments))
		for i, a := range call.Arguments {
			parts[i] = j.inspect(a)
		}
		fmt.Fprintln(j.out, strings.Join(parts, " "))
		return goja.Undefined()
	}
	for _, n := range []string{"log", "info", "warn", "error", "debug", "trace", "dir"} {
		_ = console.Set(n, logf)
	}
	noop := j.fn(func(goja.FunctionCall) goja.Value { return goja.Undefined() })
	for _, n := range []string{"time", "timeEnd", "group", "groupEnd", "table", "assert", "count"} {
		_ = console.Set(n, noop)
	}
	_ = g.Set("console", console)

	// Timers never fire: PM2 reads module.exports as soon as the file has run.
	zero := j.fn(func(goja.FunctionCall) goja.Value { return rt.ToValue(0) })
	for _, n := range []string{"setTimeout", "setInterval", "setImmediate", "queueMicrotask"} {
		_ = g.Set(n, zero)
	}
	for _, n := range []string{"clearTimeout", "clearInterval", "clearImmediate"} {
		_ = g.Set(n, noop)
	}
	_ = g.Set("process", j.processObject())
}

// inspect renders a console.log argument roughly as Node.js does.
func (j *Env) inspect(v goja.Value) string {
	if o, ok := v.(*goja.Object); ok && o.ClassName() != "Function" && o.ClassName() != "Error" {
		return JSONStringify(j.Export(o, map[*goja.Object]bool{}))
	}
	if v == nil {
		return "undefined"
	}
	return v.String()
}

func (j *Env) processObject() *goja.Object {
	rt := j.rt
	p := rt.NewObject()
	_ = p.Set("env", rt.NewDynamicObject(j.env))
	_ = p.Set("cwd", func(goja.FunctionCall) goja.Value { return rt.ToValue(j.cwd) })
	_ = p.Set("chdir", func(call goja.FunctionCall) goja.Value {
		d := j.Abs(j.pathArg(call, 0, "directory"))
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			j.throw("ENOENT", "ENOENT: no such file or directory, chdir %s -> '%s'", j.cwd, d)
		}
		j.cwd = d
		return goja.Undefined()
	})
	_ = p.Set("platform", nodePlatform())
	_ = p.Set("arch", nodeArch())
	argv := make([]any, len(j.argv))
	for i, a := range j.argv {
		argv[i] = a
	}
	_ = p.Set("argv", rt.NewArray(argv...))
	_ = p.Set("argv0", "node")
	_ = p.Set("execArgv", rt.NewArray())
	_ = p.Set("execPath", "/usr/bin/node")
	_ = p.Set("title", "node")
	_ = p.Set("version", "v22.12.0")
	versions := rt.NewObject()
	_ = versions.Set("node", "22.12.0")
	_ = versions.Set("v8", "12.4.254.21-node.21")
	_ = p.Set("versions", versions)
	release := rt.NewObject()
	_ = release.Set("name", "node")
	_ = p.Set("release", release)
	config := rt.NewObject()
	_ = config.Set("variables", rt.NewObject())
	_ = p.Set("config", config)
	_ = p.Set("pid", os.Getpid())
	_ = p.Set("ppid", os.Getppid())
	_ = p.Set("exitCode", goja.Undefined())
	_ = p.Set("getuid", func(goja.FunctionCall) goja.Value { return rt.ToValue(os.Getuid()) })
	_ = p.Set("getgid", func(goja.FunctionCall) goja.Value { return rt.ToValue(os.Getgid()) })
	_ = p.Set("geteuid", func(goja.FunctionCall) goja.Value { return rt.ToValue(os.Geteuid()) })
	_ = p.Set("exit", func(call goja.FunctionCall) goja.Value {
		j.throw("", "process.exit(%s) was called while evaluating the ecosystem file", call.Argument(0).String())
		return nil
	})
	start := time.Now()
	_ = p.Set("uptime", func(goja.FunctionCall) goja.Value { return rt.ToValue(time.Since(start).Seconds()) })
	_ = p.Set("hrtime", func(goja.FunctionCall) goja.Value {
		n := time.Now().UnixNano()
		return rt.NewArray(n/1e9, n%1e9)
	})
	_ = p.Set("memoryUsage", func(goja.FunctionCall) goja.Value {
		o := rt.NewObject()
		for _, k := range []string{"rss", "heapTotal", "heapUsed", "external", "arrayBuffers"} {
			_ = o.Set(k, 0)
		}
		return o
	})
	self := func(goja.FunctionCall) goja.Value { return p }
	for _, n := range []string{"on", "once", "off", "addListener", "removeListener", "removeAllListeners", "emit", "setMaxListeners"} {
		_ = p.Set(n, self)
	}
	noop := func(goja.FunctionCall) goja.Value { return goja.Undefined() }
	_ = p.Set("nextTick", noop)
	_ = p.Set("emitWarning", noop)
	for _, n := range []string{"stdout", "stderr"} {
		s := rt.NewObject()
		_ = s.Set("write", func(call goja.FunctionCall) goja.Value {
			fmt.Fprint(j.out, call.Argument(0).String())
			return rt.ToValue(true)
		})
		_ = s.Set("isTTY", false)
		_ = s.Set("columns", 80)
		_ = p.Set(n, s)
	}
	return p
}

// builtin returns a built-in module by name (without the node: prefix).
func (j *Env) builtin(name string) (goja.Value, bool) {
	if v, ok := j.builtins[name]; ok {
		return v, true
	}
	var v goja.Value
	switch name {
	case "path", "path/posix":
		v = j.pathModule()
	case "os":
		v = j.osModule()
	case "fs":
		v = j.fsModule()
	case "url":
		v = j.urlModule()
	case "process":
		v = j.rt.Get("process")
	case "dotenv":
		v = j.dotenvModule()
	case "dotenv/config":
		j.dotenvConfigFromEnv()
		v = j.rt.NewObject()
	default:
		return nil, false
	}
	j.builtins[name] = v
	return v, true
}

// pathArg returns argument i, which must be a string (Node.js throws a TypeError).
func (j *Env) pathArg(call goja.FunctionCall, i int, what string) string {
	a := call.Argument(i)
	if _, isObj := a.(*goja.Object); isObj || goja.IsUndefined(a) || goja.IsNull(a) || a.ExportType() == nil || a.ExportType().Kind().String() != "string" {
		desc := "undefined"
		if !goja.IsUndefined(a) {
			desc = j.inspect(a)
			if _, isObj := a.(*goja.Object); !isObj {
				desc = "type " + typeofValue(a) + " (" + a.String() + ")"
			}
		}
		e := j.rt.NewTypeError("The %q argument must be of type string. Received %s", what, desc)
		_ = e.Set("code", "ERR_INVALID_ARG_TYPE")
		panic(e)
	}
	return a.String()
}

func typeofValue(v goja.Value) string {
	switch {
	case goja.IsUndefined(v):
		return "undefined"
	case goja.IsNull(v):
		return "null"
	}
	switch v.Export().(type) {
	case bool:
		return "boolean"
	case int64, float64:
		return "number"
	case string:
		return "string"
	}
	return "object"
}

func (j *Env) pathModule() goja.Value {
	rt := j.rt
	m := rt.NewObject()
	strs := func(call goja.FunctionCall) []string {
		out := make([]string, len(call.Arguments))
		for i := range call.Arguments {
			out[i] = j.pathArg(call, i, "paths["+strconv.Itoa(i)+"]")
		}
		return out
	}
	_ = m.Set("sep", "/")
	_ = m.Set("delimiter", ":")
	_ = m.Set("join", func(call goja.FunctionCall) goja.Value { return rt.ToValue(NodeJoin(strs(call)...)) })
	_ = m.Set("resolve", func(call goja.FunctionCall) goja.Value { return rt.ToValue(NodeResolve(j.cwd, strs(call)...)) })
	_ = m.Set("normalize", func(call goja.FunctionCall) goja.Value {
		return rt.ToValue(NodeNormalize(j.pathArg(call, 0, "path")))
	})
	_ = m.Set("isAbsolute", func(call goja.FunctionCall) goja.Value {
		return rt.ToValue(strings.HasPrefix(j.pathArg(call, 0, "path"), "/"))
	})
	_ = m.Set("dirname", func(call goja.FunctionCall) goja.Value {
		return rt.ToValue(NodeDirname(j.pathArg(call, 0, "path")))
	})
	_ = m.Set("basename", func(call goja.FunctionCall) goja.Value {
		ext := ""
		if !goja.IsUndefined(call.Argument(1)) {
			ext = j.pathArg(call, 1, "ext")
		}
		return rt.ToValue(NodeBasename(j.pathArg(call, 0, "path"), ext))
	})
	_ = m.Set("extname", func(call goja.FunctionCall) goja.Value {
		return rt.ToValue(NodeExtname(j.pathArg(call, 0, "path")))
	})
	_ = m.Set("relative", func(call goja.FunctionCall) goja.Value {
		return rt.ToValue(NodeRelative(j.cwd, j.pathArg(call, 0, "from"), j.pathArg(call, 1, "to")))
	})
	_ = m.Set("toNamespacedPath", func(call goja.FunctionCall) goja.Value { return call.Argument(0) })
	_ = m.Set("parse", func(call goja.FunctionCall) goja.Value {
		p := j.pathArg(call, 0, "path")
		o := rt.NewObject()
		root := ""
		if strings.HasPrefix(p, "/") {
			root = "/"
		}
		base := NodeBasename(p, "")
		ext := NodeExtname(p)
		dir := NodeDirname(p)
		if !strings.Contains(strings.TrimRight(p, "/"), "/") && root == "" {
			dir = ""
		}
		_ = o.Set("root", root)
		_ = o.Set("dir", dir)
		_ = o.Set("base", base)
		_ = o.Set("ext", ext)
		_ = o.Set("name", strings.TrimSuffix(base, ext))
		return o
	})
	_ = m.Set("format", func(call goja.FunctionCall) goja.Value {
		o := call.Argument(0).ToObject(rt)
		get := func(k string) string {
			v := o.Get(k)
			if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
				return ""
			}
			return v.String()
		}
		dir := get("dir")
		if dir == "" {
			dir = get("root")
		}
		base := get("base")
		if base == "" {
			ext := get("ext")
			if ext != "" && !strings.HasPrefix(ext, ".") {
				ext = "." + ext
			}
			base = get("name") + ext
		}
		switch {
		case dir == "":
			return rt.ToValue(base)
		case dir == get("root"):
			return rt.ToValue(dir + base)
		}
		return rt.ToValue(dir + "/" + base)
	})
	_ = m.Set("posix", m)
	_ = m.Set("win32", m)
	return m
}

func (j *Env) homeDir() string {
	if h := j.env.m["HOME"]; h != "" {
		return h
	}
	h, _ := os.UserHomeDir()
	return h
}

func (j *Env) osModule() goja.Value {
	rt := j.rt
	m := rt.NewObject()
	n := j.numCPU
	_ = m.Set("cpus", func(goja.FunctionCall) goja.Value {
		cpus := make([]any, n)
		for i := range cpus {
			c := rt.NewObject()
			_ = c.Set("model", "cpu")
			_ = c.Set("speed", 0)
			times := rt.NewObject()
			for _, k := range []string{"user", "nice", "sys", "idle", "irq"} {
				_ = times.Set(k, 0)
			}
			_ = c.Set("times", times)
			cpus[i] = c
		}
		return rt.NewArray(cpus...)
	})
	_ = m.Set("availableParallelism", func(goja.FunctionCall) goja.Value { return rt.ToValue(n) })
	_ = m.Set("hostname", func(goja.FunctionCall) goja.Value { h, _ := os.Hostname(); return rt.ToValue(h) })
	_ = m.Set("homedir", func(goja.FunctionCall) goja.Value { return rt.ToValue(j.homeDir()) })
	_ = m.Set("tmpdir", func(goja.FunctionCall) goja.Value {
		t := j.env.m["TMPDIR"]
		if t == "" {
			t = j.env.m["TMP"]
		}
		if t == "" {
			t = "/tmp"
		}
		if len(t) > 1 {
			t = strings.TrimSuffix(t, "/")
		}
		return rt.ToValue(t)
	})
	_ = m.Set("platform", func(goja.FunctionCall) goja.Value { return rt.ToValue(nodePlatform()) })
	_ = m.Set("type", func(goja.FunctionCall) goja.Value {
		t := map[string]string{"linux": "Linux", "darwin": "Darwin", "win32": "Windows_NT", "freebsd": "FreeBSD"}[nodePlatform()]
		return rt.ToValue(t)
	})
	_ = m.Set("arch", func(goja.FunctionCall) goja.Value { return rt.ToValue(nodeArch()) })
	_ = m.Set("machine", func(goja.FunctionCall) goja.Value {
		return rt.ToValue(map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH])
	})
	_ = m.Set("release", func(goja.FunctionCall) goja.Value { return rt.ToValue(kernelRelease()) })
	_ = m.Set("version", func(goja.FunctionCall) goja.Value { return rt.ToValue("") })
	_ = m.Set("EOL", "\n")
	_ = m.Set("devNull", "/dev/null")
	_ = m.Set("endianness", func(goja.FunctionCall) goja.Value { return rt.ToValue("LE") })
	_ = m.Set("totalmem", func(goja.FunctionCall) goja.Value { return rt.ToValue(memInfo("MemTotal")) })
	_ = m.Set("freemem", func(goja.FunctionCall) goja.Value { return rt.ToValue(memInfo("MemAvailable")) })
	_ = m.Set("uptime", func(goja.FunctionCall) goja.Value { return rt.ToValue(0) })
	_ = m.Set("loadavg", func(goja.FunctionCall) goja.Value { return rt.NewArray(0, 0, 0) })
	_ = m.Set("networkInterfaces", func(goja.FunctionCall) goja.Value { return rt.NewObject() })
	_ = m.Set("userInfo", func(goja.FunctionCall) goja.Value {
		o := rt.NewObject()
		name := CurrentUsername()
		_ = o.Set("username", name)
		_ = o.Set("uid", os.Getuid())
		_ = o.Set("gid", os.Getgid())
		_ = o.Set("homedir", j.homeDir())
		shell := "/bin/sh"
		if u, err := user.Current(); err == nil {
			if ents, err := ReadColonFile("/etc/passwd"); err == nil {
				if e, ok := ents[u.Username]; ok && len(e) > 6 {
					shell = e[6]
				}
			}
		}
		_ = o.Set("shell", shell)
		return o
	})
	consts := rt.NewObject()
	_ = consts.Set("signals", rt.NewObject())
	_ = consts.Set("errno", rt.NewObject())
	_ = m.Set("constants", consts)
	return m
}

func kernelRelease() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

func memInfo(key string) int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), key+":") {
			fields := strings.Fields(sc.Text())
			if len(fields) >= 2 {
				n, _ := strconv.ParseInt(fields[1], 10, 64)
				return n * 1024
			}
		}
	}
	return 0
}

// fsPath returns a path argument of an fs function (a string, a file: URL or an
// object with an href), resolved against process.cwd().
func (j *Env) fsPath(call goja.FunctionCall) string {
	a := call.Argument(0)
	var p string
	if o, ok := a.(*goja.Object); ok {
		if h := o.Get("href"); h != nil && !goja.IsUndefined(h) {
			p = fileURLPath(h.String())
		} else {
			p = a.String()
		}
	} else {
		p = j.pathArg(call, 0, "path")
		if strings.HasPrefix(p, "file:") {
			p = fileURLPath(p)
		}
	}
	return j.Abs(p)
}

func (j *Env) fsError(err error, syscall, p string) {
	code := "EIO"
	msg := err.Error()
	switch {
	case os.IsNotExist(err):
		code, msg = "ENOENT", "no such file or directory"
	case os.IsPermission(err):
		code, msg = "EACCES", "permission denied"
	case strings.Contains(msg, "is a directory"):
		code, msg = "EISDIR", "illegal operation on a directory"
	case strings.Contains(msg, "not a directory"):
		code, msg = "ENOTDIR", "not a directory"
	}
	e := j.rt.NewGoError(fmt.Errorf("%s: %s, %s '%s'", code, msg, syscall, p))
	_ = e.Set("code", code)
	_ = e.Set("syscall", syscall)
	_ = e.Set("path", p)
	panic(e)
}

func (j *Env) statObject(st os.FileInfo, lstat bool) *goja.Object {
	rt := j.rt
	o := rt.NewObject()
	mode := st.Mode()
	_ = o.Set("isFile", func(goja.FunctionCall) goja.Value { return rt.ToValue(mode.IsRegular()) })
	_ = o.Set("isDirectory", func(goja.FunctionCall) goja.Value { return rt.ToValue(mode.IsDir()) })
	_ = o.Set("isSymbolicLink", func(goja.FunctionCall) goja.Value { return rt.ToValue(lstat && mode&os.ModeSymlink != 0) })
	for _, n := range []string{"isFIFO", "isSocket", "isBlockDevice", "isCharacterDevice"} {
		_ = o.Set(n, func(goja.FunctionCall) goja.Value { return rt.ToValue(false) })
	}
	_ = o.Set("size", st.Size())
	_ = o.Set("mode", uint32(mode.Perm()))
	ms := float64(st.ModTime().UnixNano()) / 1e6
	date, _ := rt.New(rt.Get("Date"), rt.ToValue(ms))
	for _, n := range []string{"mtime", "atime", "ctime", "birthtime"} {
		_ = o.Set(n, date)
	}
	for _, n := range []string{"mtimeMs", "atimeMs", "ctimeMs", "birthtimeMs"} {
		_ = o.Set(n, ms)
	}
	return o
}

func (j *Env) fsModule() goja.Value {
	rt := j.rt
	m := rt.NewObject()
	_ = m.Set("existsSync", func(call goja.FunctionCall) goja.Value {
		a := call.Argument(0)
		if goja.IsUndefined(a) || goja.IsNull(a) {
			return rt.ToValue(false)
		}
		p := j.Abs(fileURLPath(a.String()))
		if _, ok := j.source[p]; ok {
			return rt.ToValue(true)
		}
		_, err := os.Stat(p)
		return rt.ToValue(err == nil)
	})
	_ = m.Set("readFileSync", func(call goja.FunctionCall) goja.Value {
		p := j.fsPath(call)
		b, err := j.readFile(p)
		if err != nil {
			j.fsError(err, "open", p)
		}
		// Without an encoding Node.js returns a Buffer; a string serves the usual
		// uses (ToString(), JSON.parse, concatenation).
		return rt.ToValue(string(b))
	})
	_ = m.Set("readdirSync", func(call goja.FunctionCall) goja.Value {
		p := j.fsPath(call)
		ents, err := os.ReadDir(p)
		if err != nil {
			j.fsError(err, "scandir", p)
		}
		withTypes := false
		if o, ok := call.Argument(1).(*goja.Object); ok {
			if v := o.Get("withFileTypes"); v != nil {
				withTypes = v.ToBoolean()
			}
		}
		out := make([]any, 0, len(ents))
		for _, e := range ents {
			if !withTypes {
				out = append(out, e.Name())
				continue
			}
			d := rt.NewObject()
			isDir, isLink := e.IsDir(), e.Type()&os.ModeSymlink != 0
			isFile := e.Type().IsRegular()
			_ = d.Set("name", e.Name())
			_ = d.Set("parentPath", p)
			_ = d.Set("path", p)
			_ = d.Set("isDirectory", func(goja.FunctionCall) goja.Value { return rt.ToValue(isDir) })
			_ = d.Set("isFile", func(goja.FunctionCall) goja.Value { return rt.ToValue(isFile) })
			_ = d.Set("isSymbolicLink", func(goja.FunctionCall) goja.Value { return rt.ToValue(isLink) })
			out = append(out, d)
		}
		return rt.NewArray(out...)
	})
	stat := func(lstat bool) func(call goja.FunctionCall) goja.Value {
		return func(call goja.FunctionCall) goja.Value {
			p := j.fsPath(call)
			var st os.FileInfo
			var err error
			if lstat {
				st, err = os.Lstat(p)
			} else {
				st, err = os.Stat(p)
			}
			if err != nil {
				if o, ok := call.Argument(1).(*goja.Object); ok {
					if v := o.Get("throwIfNoEntry"); v != nil && !goja.IsUndefined(v) && !v.ToBoolean() && os.IsNotExist(err) {
						return goja.Undefined()
					}
				}
				name := "stat"
				if lstat {
					name = "lstat"
				}
				j.fsError(err, name, p)
			}
			return j.statObject(st, lstat)
		}
	}
	_ = m.Set("statSync", stat(false))
	_ = m.Set("lstatSync", stat(true))
	_ = m.Set("accessSync", func(call goja.FunctionCall) goja.Value {
		p := j.fsPath(call)
		if _, err := os.Stat(p); err != nil {
			j.fsError(err, "access", p)
		}
		return goja.Undefined()
	})
	_ = m.Set("realpathSync", func(call goja.FunctionCall) goja.Value {
		p := j.fsPath(call)
		r, err := filepath.EvalSymlinks(p)
		if err != nil {
			j.fsError(err, "realpath", p)
		}
		return rt.ToValue(r)
	})
	_ = m.Set("readlinkSync", func(call goja.FunctionCall) goja.Value {
		p := j.fsPath(call)
		r, err := os.Readlink(p)
		if err != nil {
			j.fsError(err, "readlink", p)
		}
		return rt.ToValue(r)
	})
	for _, n := range []string{"writeFileSync", "appendFileSync", "mkdirSync", "rmSync", "rmdirSync", "unlinkSync",
		"copyFileSync", "renameSync", "symlinkSync", "chmodSync", "chownSync", "openSync", "writeSync", "mkdtempSync",
		"readFile", "writeFile", "stat", "readdir", "exists", "mkdir", "access"} {
		name := n
		_ = m.Set(name, func(goja.FunctionCall) goja.Value {
			j.throw("ERR_TEND_UNSUPPORTED", "fs.%s is not available: tend evaluates ecosystem files with a read-only, synchronous fs (existsSync, readFileSync, readdirSync, statSync, lstatSync, accessSync, realpathSync, readlinkSync)", name)
			return nil
		})
	}
	consts := rt.NewObject()
	for k, v := range map[string]int{"F_OK": 0, "R_OK": 4, "W_OK": 2, "X_OK": 1} {
		_ = consts.Set(k, v)
		_ = m.Set(k, v)
	}
	_ = m.Set("constants", consts)
	return m
}

// fileURLPath converts a file: URL to a path; other strings are returned unchanged.
func fileURLPath(s string) string {
	if !strings.HasPrefix(s, "file:") {
		return s
	}
	u, err := url.Parse(s)
	if err != nil {
		return strings.TrimPrefix(strings.TrimPrefix(s, "file:"), "//")
	}
	return u.Path
}

func (j *Env) urlModule() goja.Value {
	rt := j.rt
	m := rt.NewObject()
	_ = m.Set("fileURLToPath", func(call goja.FunctionCall) goja.Value {
		a := call.Argument(0)
		s := a.String()
		if o, ok := a.(*goja.Object); ok {
			if h := o.Get("href"); h != nil && !goja.IsUndefined(h) {
				s = h.String()
			}
		}
		if !strings.HasPrefix(s, "file:") {
			e := rt.NewTypeError("The URL must be of scheme file")
			_ = e.Set("code", "ERR_INVALID_URL_SCHEME")
			panic(e)
		}
		return rt.ToValue(fileURLPath(s))
	})
	_ = m.Set("pathToFileURL", func(call goja.FunctionCall) goja.Value {
		p := j.Abs(j.pathArg(call, 0, "path"))
		href := fileURL(p)
		o := rt.NewObject()
		_ = o.Set("href", href)
		_ = o.Set("protocol", "file:")
		_ = o.Set("pathname", strings.TrimPrefix(href, "file://"))
		_ = o.Set("toString", func(goja.FunctionCall) goja.Value { return rt.ToValue(href) })
		return o
	})
	return m
}
