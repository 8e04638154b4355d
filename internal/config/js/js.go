package js

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/dop251/goja"
	"github.com/dop251/goja/ast"
	"github.com/dop251/goja/file"
	"github.com/dop251/goja/parser"

	"github.com/tend-dev/tend/internal/config/loaderr"
	"github.com/tend-dev/tend/internal/lazyre"
)

// The JavaScript runtime evaluates ecosystem files without Node.js: CommonJS modules
// (module.exports, exports, require, __filename, __dirname), ES modules (see esm.go)
// and JSON files read as a JavaScript expression, with a Node-like subset of globals
// (process, console) and of built-in modules (path, os, fs read-only, url, dotenv).

// DefaultTimeout bounds the evaluation of an ecosystem file (an endless loop in a
// config file must not hang the CLI).
const DefaultTimeout = 10 * time.Second

// UnsupportedModuleError is thrown (as a JavaScript exception) by require() for
// modules tend cannot provide.
type UnsupportedModuleError struct {
	Module string
	File   string // base name of the requiring file
}

func (e *UnsupportedModuleError) Error() string {
	return fmt.Sprintf("cannot load module %q: tend evaluates ecosystem files without Node.js and supports only path, os, fs, url, dotenv and relative .json/.js files", e.Module)
}

func (e *UnsupportedModuleError) Is(target error) bool { return target == loaderr.ErrUnsupportedModule }

type jsModule struct {
	obj     *goja.Object // the CommonJS module object, nil for ES modules
	ns      *goja.Object // ES module namespace
	loading bool
}

type Env struct {
	rt       *goja.Runtime
	env      *envObject
	cwd      string
	numCPU   int
	out      io.Writer
	argv     []string
	modules  map[string]*jsModule
	builtins map[string]goja.Value
	// col1 is the number of characters added before the first line of each compiled
	// file (the module wrapper), subtracted from column numbers on line 1.
	col1     map[string]int
	isFrozen goja.Callable
	source   map[string][]byte // sources given by the caller instead of the disk
	timeout  time.Duration
}

func NewEnv(env map[string]string, cwd string, numCPU int, out io.Writer, argv []string) *Env {
	if out == nil {
		out = io.Discard
	}
	j := &Env{
		rt:       goja.New(),
		cwd:      cwd,
		numCPU:   numCPU,
		out:      out,
		argv:     argv,
		modules:  map[string]*jsModule{},
		builtins: map[string]goja.Value{},
		col1:     map[string]int{},
		source:   map[string][]byte{},
		timeout:  DefaultTimeout,
	}
	j.rt.SetParserOptions(parser.WithDisableSourceMaps)
	j.env = newEnvObject(j.rt, env)
	j.setupGlobals()
	f, _ := goja.AssertFunction(j.rt.Get("Object").ToObject(j.rt).Get("isFrozen"))
	j.isFrozen = f
	return j
}

// throw raises a JavaScript Error with a Node-like code property.
func (j *Env) throw(code, format string, args ...any) {
	e := j.rt.NewGoError(fmt.Errorf(format, args...))
	if code != "" {
		_ = e.Set("code", code)
	}
	panic(e)
}

func (j *Env) throwErr(err error) {
	panic(j.rt.NewGoError(err))
}

func (j *Env) Abs(p string) string {
	return NodeResolve(j.cwd, p)
}

func (j *Env) readFile(p string) ([]byte, error) {
	if b, ok := j.source[p]; ok {
		return b, nil
	}
	return os.ReadFile(p)
}

// ---- evaluation -----------------------------------------------------------------

// parse parses src (already wrapped) as the file name, converting syntax errors to
// loaderr.LoadError with positions in the original source.
func (j *Env) parse(name, src string, strict bool) (*goja.Program, *ast.Program, error) {
	prg, err := parser.ParseFile(nil, name, src, 0, parser.WithDisableSourceMaps)
	if err != nil {
		var el parser.ErrorList
		if errors.As(err, &el) && len(el) > 0 {
			pos := el[0].Position
			return nil, nil, j.posError(name, pos.Line, pos.Column, errors.New("SyntaxError: "+el[0].Message))
		}
		return nil, nil, &loaderr.LoadError{File: name, Err: err}
	}
	p, err := goja.CompileAST(prg, strict)
	if err != nil {
		var ce *goja.CompilerSyntaxError
		if errors.As(err, &ce) && ce.File != nil {
			pos := ce.File.Position(ce.Offset)
			return nil, nil, j.posError(name, pos.Line, pos.Column, errors.New("SyntaxError: "+ce.Message))
		}
		return nil, nil, &loaderr.LoadError{File: name, Err: err}
	}
	return p, prg, nil
}

func (j *Env) posError(name string, line, col int, err error) *loaderr.LoadError {
	if line == 1 {
		col -= j.col1[name]
		if col < 1 {
			col = 1
		}
	}
	return &loaderr.LoadError{File: name, Line: line, Col: col, Err: err}
}

// run executes fn, converting JavaScript exceptions and interrupts into loaderr.LoadError.
func (j *Env) run(name string, fn func() (goja.Value, error)) (v goja.Value, err error) {
	defer func() {
		if r := recover(); r != nil {
			if ex, ok := r.(*goja.Exception); ok {
				err = j.exceptionError(name, ex)
				return
			}
			if o, ok := r.(*goja.Object); ok { // a thrown value from Go code
				err = j.exceptionError(name, j.wrapThrown(o))
				return
			}
			panic(r)
		}
	}()
	v, err = fn()
	if err != nil {
		var ex *goja.Exception
		var ie *goja.InterruptedError
		switch {
		case errors.As(err, &ie):
			err = &loaderr.LoadError{File: name, Err: fmt.Errorf("evaluation did not finish within %s", j.timeout)}
		case errors.As(err, &ex):
			err = j.exceptionError(name, ex)
		case errors.As(err, new(*loaderr.LoadError)):
		default:
			err = &loaderr.LoadError{File: name, Err: err}
		}
	}
	return v, err
}

func (j *Env) wrapThrown(o *goja.Object) *goja.Exception {
	// Re-throw inside JavaScript to get an Exception with a stack.
	f, _ := goja.AssertFunction(j.rt.ToValue(func(goja.FunctionCall) goja.Value { panic(o) }))
	_, err := f(goja.Undefined())
	var ex *goja.Exception
	if errors.As(err, &ex) {
		return ex
	}
	return nil
}

// exceptionError converts a JavaScript exception into a loaderr.LoadError at the innermost
// position inside one of the evaluated files.
func (j *Env) exceptionError(name string, ex *goja.Exception) error {
	if ex == nil {
		return &loaderr.LoadError{File: name, Err: errors.New("evaluation failed")}
	}
	var msg error
	if goErr := ex.Unwrap(); goErr != nil {
		msg = goErr
	} else if le := j.loadErrorOf(ex.Value()); le != nil {
		return le
	} else {
		msg = errors.New(j.describe(ex.Value()))
	}
	if le, ok := msg.(*loaderr.LoadError); ok {
		return le
	}
	for _, fr := range ex.Stack() {
		src := fr.SrcName()
		if _, ok := j.col1[src]; ok {
			pos := fr.Position()
			return j.posError(src, pos.Line, pos.Column, msg)
		}
	}
	return &loaderr.LoadError{File: name, Err: msg}
}

func (j *Env) loadErrorOf(v goja.Value) *loaderr.LoadError {
	if o, ok := v.(*goja.Object); ok {
		if v := o.Get("__tendLoadError"); v != nil {
			if le, ok := v.Export().(*loaderr.LoadError); ok {
				return le
			}
		}
	}
	return nil
}

// describe renders a thrown value as Node prints it: "Name: message".
func (j *Env) describe(v goja.Value) string {
	if o, ok := v.(*goja.Object); ok {
		if m := o.Get("message"); m != nil && !goja.IsUndefined(m) {
			n := o.Get("name")
			if n != nil && !goja.IsUndefined(n) && n.String() != "" && n.String() != "GoError" {
				return n.String() + ": " + m.String()
			}
			return m.String()
		}
	}
	if v == nil {
		return "undefined"
	}
	return "Uncaught " + v.String()
}

// withTimeout runs fn with an interrupt after j.timeout.
func (j *Env) WithTimeout(fn func() error) error {
	t := time.AfterFunc(j.timeout, func() { j.rt.Interrupt("timeout") })
	defer t.Stop()
	return fn()
}

func prepareSource(b []byte) string {
	s := string(b)
	s = strings.TrimPrefix(s, "\ufeff")
	if strings.HasPrefix(s, "#!") {
		s = "//" + s[2:]
	}
	return s
}

const cjsPrefix = "(function (exports, require, module, __filename, __dirname) { "

// evalCJS evaluates a CommonJS module and returns module.exports.
func (j *Env) evalCJS(filename string, src string) (goja.Value, error) {
	mod := j.modules[filename]
	if mod == nil {
		mod = &jsModule{}
		j.modules[filename] = mod
	}
	exports := j.rt.NewObject()
	module := j.rt.NewObject()
	_ = module.Set("exports", exports)
	_ = module.Set("id", filename)
	_ = module.Set("filename", filename)
	_ = module.Set("loaded", false)
	_ = module.Set("children", j.rt.NewArray())
	_ = module.Set("paths", j.rt.NewArray())
	mod.obj = module
	mod.loading = true
	defer func() { mod.loading = false }()

	j.col1[filename] = len(cjsPrefix)
	prg, _, err := j.parse(filename, cjsPrefix+src+"\n})", false)
	if err != nil {
		return nil, err
	}
	_, err = j.run(filename, func() (goja.Value, error) {
		fv, err := j.rt.RunProgram(prg)
		if err != nil {
			return nil, err
		}
		fn, _ := goja.AssertFunction(fv)
		req := j.requireFunc(filename)
		_ = module.Set("require", req)
		return fn(exports, exports, req, module, j.rt.ToValue(filename), j.rt.ToValue(NodeDirname(filename)))
	})
	if err != nil {
		return nil, err
	}
	_ = module.Set("loaded", true)
	return module.Get("exports"), nil
}

// evalESM evaluates an ES module and returns its (frozen) namespace object.
func (j *Env) evalESM(filename string, src string) (*goja.Object, error) {
	mod := j.modules[filename]
	if mod == nil {
		mod = &jsModule{}
		j.modules[filename] = mod
	}
	t, err := parseESM(src)
	if err != nil {
		return nil, &loaderr.LoadError{File: filename, Err: fmt.Errorf("SyntaxError: %v", err)}
	}
	prefix := "(function (__esm, __tend_import, __tend_meta) { " + strings.Join(t.imports, " ") + " "
	j.col1[filename] = len(prefix)
	_, prgAST, err := j.parse(filename, prefix+t.body+"\n})", true)
	async := false
	if err != nil && strings.Contains(t.body, "await") {
		// Top-level await: run the module body as an async function.
		aprefix := "(async " + prefix[1:]
		j.col1[filename] = len(aprefix)
		if _, ast2, err2 := j.parse(filename, aprefix+t.body+"\n})", true); err2 == nil {
			prefix, prgAST, err, async = aprefix, ast2, nil, true
		} else {
			j.col1[filename] = len(prefix)
		}
	}
	if err != nil {
		return nil, err
	}
	exports := t.exports
	for _, n := range declaredNames(prgAST, t.declOffsets, len(prefix)) {
		exports = append(exports, esmExport{n, n})
	}
	var suffix strings.Builder
	suffix.WriteString("\n;")
	for _, e := range exports {
		fmt.Fprintf(&suffix, "__esm[%s] = %s;", strconv.Quote(e.exported), e.local)
	}
	for _, m := range t.starFrom {
		fmt.Fprintf(&suffix, "for (const k of Object.keys(%s)) if (k !== 'default' && !(k in __esm)) __esm[k] = %s[k];", m, m)
	}
	prg, _, err := j.parse(filename, prefix+t.body+suffix.String()+"\n})", true)
	if err != nil {
		return nil, err
	}
	ns := j.rt.NewObject()
	_ = ns.SetPrototype(nil)
	mod.ns = ns
	meta := j.rt.NewObject()
	_ = meta.Set("url", fileURL(filename))
	_ = meta.Set("filename", filename)
	_ = meta.Set("dirname", NodeDirname(filename))
	imp := j.importFunc(filename)
	res, err := j.run(filename, func() (goja.Value, error) {
		fv, err := j.rt.RunProgram(prg)
		if err != nil {
			return nil, err
		}
		fn, _ := goja.AssertFunction(fv)
		return fn(goja.Undefined(), ns, imp, meta)
	})
	if err != nil {
		return nil, err
	}
	if async {
		if err := j.settle(filename, res); err != nil {
			return nil, err
		}
	}
	freeze, _ := goja.AssertFunction(j.rt.Get("Object").ToObject(j.rt).Get("freeze"))
	_, _ = freeze(goja.Undefined(), ns)
	return ns, nil
}

// settle checks the promise returned by an async module body (pending jobs have run
// when the call returned).
func (j *Env) settle(filename string, v goja.Value) error {
	p, ok := v.Export().(*goja.Promise)
	if !ok {
		return nil
	}
	switch p.State() {
	case goja.PromiseStateFulfilled:
		return nil
	case goja.PromiseStateRejected:
		r := p.Result()
		if le := j.loadErrorOf(r); le != nil {
			return le
		}
		var msg error = errors.New(j.describe(r))
		if o, ok := r.(*goja.Object); ok {
			if gv := o.Get("value"); gv != nil {
				if ge, ok := gv.Export().(error); ok {
					msg = ge
				}
			}
			if st := o.Get("stack"); st != nil {
				for _, m := range stackPos().FindAllStringSubmatch(st.String(), -1) {
					if _, ok := j.col1[m[1]]; ok {
						line, _ := strconv.Atoi(m[2])
						col, _ := strconv.Atoi(m[3])
						return j.posError(m[1], line, col, msg)
					}
				}
			}
		}
		return &loaderr.LoadError{File: filename, Err: msg}
	}
	return &loaderr.LoadError{File: filename, Err: errors.New("top-level await did not settle: tend runs no event loop (timers and I/O callbacks never fire)")}
}

var stackPos = lazyre.New(`at (?:[^\n(]*\()?([^\n():]+):(\d+):(\d+)`)

// declaredNames returns the names bound by the top-level declarations of the module
// function that start at the given offsets of its body.
func declaredNames(prg *ast.Program, offsets []int, prefixLen int) []string {
	if len(prg.Body) == 0 {
		return nil
	}
	es, ok := prg.Body[0].(*ast.ExpressionStatement)
	if !ok {
		return nil
	}
	fl, ok := es.Expression.(*ast.FunctionLiteral)
	if !ok || fl.Body == nil {
		return nil
	}
	var names []string
	for _, off := range offsets {
		want := file.Idx(off + prefixLen + 1)
	stmts:
		for _, st := range fl.Body.List {
			if st.Idx0() < want {
				continue
			}
			switch d := st.(type) {
			case *ast.LexicalDeclaration:
				for _, b := range d.List {
					names = append(names, bindingNames(b.Target)...)
				}
			case *ast.VariableStatement:
				for _, b := range d.List {
					names = append(names, bindingNames(b.Target)...)
				}
			case *ast.FunctionDeclaration:
				if d.Function.Name != nil {
					names = append(names, d.Function.Name.Name.String())
				}
			case *ast.ClassDeclaration:
				if d.Class.Name != nil {
					names = append(names, d.Class.Name.Name.String())
				}
			}
			break stmts
		}
	}
	return names
}

func bindingNames(t ast.BindingTarget) []string {
	switch x := t.(type) {
	case *ast.Identifier:
		return []string{x.Name.String()}
	case *ast.ObjectPattern:
		var out []string
		for _, p := range x.Properties {
			switch pp := p.(type) {
			case *ast.PropertyShort:
				out = append(out, pp.Name.Name.String())
			case *ast.PropertyKeyed:
				if bt, ok := pp.Value.(ast.BindingTarget); ok {
					out = append(out, bindingNames(bt)...)
				}
			}
		}
		if bt, ok := x.Rest.(ast.BindingTarget); ok && x.Rest != nil {
			out = append(out, bindingNames(bt)...)
		}
		return out
	case *ast.ArrayPattern:
		var out []string
		for _, e := range x.Elements {
			if a, ok := e.(*ast.AssignExpression); ok {
				e = a.Left
			}
			if bt, ok := e.(ast.BindingTarget); ok && e != nil {
				out = append(out, bindingNames(bt)...)
			}
		}
		if bt, ok := x.Rest.(ast.BindingTarget); ok && x.Rest != nil {
			out = append(out, bindingNames(bt)...)
		}
		return out
	}
	return nil
}

func fileURL(p string) string {
	var b strings.Builder
	b.WriteString("file://")
	for _, c := range []byte(p) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("/-._~!$&'()*+,;=:@", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// evalJSONExpr evaluates a .json ecosystem file as PM2 does: as the JavaScript
// expression "(" + source + ")" in the global scope (comments, trailing commas and
// unquoted keys are accepted).
func (j *Env) EvalJSONExpr(filename, src string) (goja.Value, error) {
	j.col1[filename] = 1
	prg, _, err := j.parse(filename, "("+src+")", false)
	if err != nil {
		return nil, explainJSONError(src, err)
	}
	return j.run(filename, func() (goja.Value, error) { return j.rt.RunProgram(prg) })
}

// explainJSONError says what is wrong with a .json file whose parse failed
// at its end (PM2 reads it as "(" + file + ")", so the parser complains of
// an unexpected ")"): which bracket or string is left open, and where.
func explainJSONError(src string, err error) error {
	var le *loaderr.LoadError
	if !errors.As(err, &le) || le.Line == 0 {
		return err
	}
	lines := strings.Split(src, "\n")
	last := len(lines)
	atEnd := le.Line > last || (le.Line == last && le.Col > len(lines[last-1]))
	if !atEnd {
		if open, line, col := unclosed(src); open == '"' || open == '\'' {
			le.Err = fmt.Errorf("the string opened at line %d, column %d is not closed before the end of its line: add its closing %c", line, col, open)
			le.Line, le.Col = line, col
			return le
		}
		le.Err = fmt.Errorf("%w (a .json file is read as a JavaScript object literal, as PM2 reads it: check the brackets, commas and quotes just before this place)", le.Err)
		return le
	}
	open, line, col := unclosed(src)
	switch {
	case open == '"' || open == '\'' || open == '`':
		le.Err = fmt.Errorf("the file ends inside the string opened at line %d, column %d: add its closing %c", line, col, open)
	case open == '/':
		le.Err = fmt.Errorf("the file ends inside the comment opened at line %d, column %d: close it with */", line, col)
	case open != 0:
		closer := map[rune]rune{'{': '}', '[': ']', '(': ')'}[open]
		le.Err = fmt.Errorf("the file ends before the %c opened at line %d, column %d is closed: add the missing %c", open, line, col, closer)
	default:
		le.Err = fmt.Errorf("the file ends too early: %w", le.Err)
	}
	// The position is where the file ends.
	le.Line, le.Col = last, len(lines[last-1])+1
	return le
}

// unclosed finds the innermost bracket, string or block comment that src
// leaves open, and where it starts (1-based line and column).
func unclosed(src string) (open rune, line, col int) {
	type mark struct {
		r         rune
		line, col int
	}
	var stack []mark
	ln, c := 1, 0
	var in *mark // a string or comment
	prev := rune(0)
	for _, r := range src {
		c++
		switch {
		case in != nil && in.r == '/':
			if prev == '*' && r == '/' {
				in = nil
				r = 0
			}
		case in != nil:
			if r == in.r && prev != '\\' {
				in = nil
			} else if r == '\\' && prev == '\\' {
				r = 0 // an escaped backslash escapes nothing after it
			}
		case r == '"' || r == '\'' || r == '`':
			in = &mark{r, ln, c}
		case r == '*' && prev == '/':
			in = &mark{'/', ln, c - 1}
		case r == '/' && prev == '/':
			// a line comment: skip to the end of the line
			in = &mark{'\n', ln, c - 1}
		case r == '{' || r == '[' || r == '(':
			stack = append(stack, mark{r, ln, c})
		case r == '}' || r == ']' || r == ')':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		}
		if r == '\n' {
			if in != nil && in.r == '\n' {
				in = nil
			}
			ln, c = ln+1, 0
		}
		prev = r
	}
	if in != nil && in.r != '\n' {
		return in.r, in.line, in.col
	}
	if len(stack) > 0 {
		m := stack[len(stack)-1]
		return m.r, m.line, m.col
	}
	return 0, 0, 0
}

// ---- modules ----------------------------------------------------------------

// isESMFile tells whether a file is loaded as an ES module.
func isESMFile(p string) bool { return strings.HasSuffix(p, ".mjs") }

// loadFile evaluates a JavaScript file and returns what require() gives: the
// module.exports of a CommonJS module or the namespace of an ES module.
func (j *Env) LoadFile(filename string) (goja.Value, bool, error) {
	if m, ok := j.modules[filename]; ok {
		if m.ns != nil {
			return m.ns, true, nil
		}
		if m.obj != nil {
			return m.obj.Get("exports"), false, nil
		}
	}
	b, err := j.readFile(filename)
	if err != nil {
		return nil, false, err
	}
	src := prepareSource(b)
	if isESMFile(filename) {
		ns, err := j.evalESM(filename, src)
		return ns, true, err
	}
	v, err := j.evalCJS(filename, src)
	if err != nil && !strings.HasSuffix(filename, ".cjs") {
		// Like Node.js 22, a .js file with ES module syntax is loaded as an ES module.
		var le *loaderr.LoadError
		if errors.As(err, &le) && le.Line > 0 && strings.HasPrefix(le.Err.Error(), "SyntaxError") {
			if t, perr := parseESM(src); perr == nil && t.found {
				delete(j.modules, filename)
				ns, err := j.evalESM(filename, src)
				return ns, true, err
			}
		}
	}
	return v, false, err
}

func isRelative(spec string) bool {
	return spec == "." || spec == ".." || strings.HasPrefix(spec, "./") || strings.HasPrefix(spec, "../") || strings.HasPrefix(spec, "/")
}

// resolveFile finds the file a relative require refers to, as Node.js does.
func (j *Env) resolveFile(dir, spec string) string {
	base := NodeResolve(j.cwd, dir, spec)
	isFile := func(p string) bool {
		if _, ok := j.source[p]; ok {
			return true
		}
		st, err := os.Stat(p)
		return err == nil && !st.IsDir()
	}
	if !strings.HasSuffix(spec, "/") {
		for _, ext := range []string{"", ".js", ".json", ".cjs", ".mjs"} {
			if isFile(base + ext) {
				return base + ext
			}
		}
	}
	for _, idx := range []string{"index.js", "index.json", "index.cjs", "index.mjs"} {
		if p := filepath.Join(base, idx); isFile(p) {
			return p
		}
	}
	return ""
}

// requireValue implements require(spec) from the file `from`.
func (j *Env) requireValue(from, spec string) (goja.Value, bool) {
	name := strings.TrimPrefix(spec, "node:")
	if v, ok := j.builtin(name); ok {
		return v, false
	}
	if !isRelative(spec) {
		j.throwErr(&UnsupportedModuleError{Module: spec, File: filepath.Base(from)})
	}
	p := j.resolveFile(NodeDirname(from), spec)
	if p == "" {
		e := j.rt.NewGoError(fmt.Errorf("Cannot find module '%s'\nRequire stack:\n- %s", spec, from))
		_ = e.Set("code", "MODULE_NOT_FOUND")
		panic(e)
	}
	if strings.HasSuffix(p, ".json") {
		b, err := j.readFile(p)
		if err != nil {
			j.throw("ENOENT", "%v", err)
		}
		parse, _ := goja.AssertFunction(j.rt.Get("JSON").ToObject(j.rt).Get("parse"))
		v, err := parse(goja.Undefined(), j.rt.ToValue(strings.TrimPrefix(string(b), "\ufeff")))
		if err != nil {
			var ex *goja.Exception
			msg := err.Error()
			if errors.As(err, &ex) {
				msg = j.describe(ex.Value())
			}
			j.throw("", "%s: %s", p, msg)
		}
		return v, false
	}
	v, isESM, err := j.LoadFile(p)
	if err != nil {
		var le *loaderr.LoadError
		if errors.As(err, &le) {
			e := j.rt.NewGoError(err)
			_ = e.Set("__tendLoadError", le)
			panic(e)
		}
		j.throwErr(err)
	}
	return v, isESM
}

func (j *Env) requireFunc(from string) goja.Value {
	req := j.rt.ToValue(func(call goja.FunctionCall) goja.Value {
		spec := call.Argument(0)
		if goja.IsUndefined(spec) || spec.ExportType() == nil || spec.ExportType().Kind().String() != "string" {
			j.throw("ERR_INVALID_ARG_TYPE", "The \"id\" argument must be of type string. Received %s", spec.String())
		}
		v, _ := j.requireValue(from, spec.String())
		return v
	}).ToObject(j.rt)
	_ = req.Set("resolve", func(call goja.FunctionCall) goja.Value {
		spec := call.Argument(0).String()
		if _, ok := j.builtin(strings.TrimPrefix(spec, "node:")); ok {
			return j.rt.ToValue(spec)
		}
		if isRelative(spec) {
			if p := j.resolveFile(NodeDirname(from), spec); p != "" {
				return j.rt.ToValue(p)
			}
		}
		j.throw("MODULE_NOT_FOUND", "Cannot find module '%s'", spec)
		return nil
	})
	_ = req.Set("cache", j.rt.NewObject())
	return req
}

// importFunc returns the __tend_import helper of an ES module: the namespace of an ES
// module, or {default: module.exports, ...module.exports} for CommonJS and built-ins.
func (j *Env) importFunc(from string) goja.Value {
	return j.rt.ToValue(func(call goja.FunctionCall) goja.Value {
		v, isESM := j.requireValue(from, call.Argument(0).String())
		if isESM {
			return v
		}
		ns := j.rt.NewObject()
		if o, ok := v.(*goja.Object); ok {
			for _, k := range o.Keys() {
				_ = ns.Set(k, o.Get(k))
			}
		}
		_ = ns.Set("default", v)
		return ns
	})
}

// ---- exporting values to Go --------------------------------------------------------

type Undefined struct{}

// export converts a JavaScript value into the Go representation of jsvalue.go.
// Functions, symbols and undefined give Undefined{}.
func (j *Env) Export(v goja.Value, seen map[*goja.Object]bool) any {
	if v == nil || goja.IsUndefined(v) {
		return Undefined{}
	}
	if goja.IsNull(v) {
		return nil
	}
	o, isObj := v.(*goja.Object)
	if !isObj {
		switch x := v.Export().(type) {
		case string:
			return x
		case bool:
			return x
		case int64:
			return float64(x)
		case float64:
			return x
		case nil:
			return nil
		default:
			if _, ok := v.(*goja.Symbol); ok {
				return Undefined{}
			}
			return v.String() // BigInt
		}
	}
	if seen[o] {
		return nil // circular structure
	}
	seen[o] = true
	defer delete(seen, o)
	switch o.ClassName() {
	case "Function":
		return Undefined{}
	case "Array":
		n := int(toLength(o.Get("length")))
		out := make([]any, n)
		for i := 0; i < n; i++ {
			e := j.Export(o.Get(strconv.Itoa(i)), seen)
			if _, u := e.(Undefined); u {
				e = nil
			}
			out[i] = e
		}
		return out
	case "String", "Number", "Boolean":
		if f, ok := goja.AssertFunction(o.Get("valueOf")); ok {
			if pv, err := f(o); err == nil {
				return j.Export(pv, seen)
			}
		}
	case "Date":
		if f, ok := goja.AssertFunction(o.Get("toJSON")); ok {
			if pv, err := f(o); err == nil {
				return j.Export(pv, seen)
			}
		}
	}
	m := make(map[string]any)
	for _, k := range o.Keys() {
		e := j.Export(o.Get(k), seen)
		if _, u := e.(Undefined); u {
			continue
		}
		m[k] = e
	}
	if fr, err := j.isFrozen(goja.Undefined(), o); err == nil && fr.ToBoolean() {
		return FrozenMap(m)
	}
	return m
}

func toLength(v goja.Value) float64 {
	if v == nil {
		return 0
	}
	f := v.ToFloat()
	if math.IsNaN(f) || f < 0 {
		return 0
	}
	return math.Min(f, 1<<24)
}

// ---- process.env ---------------------------------------------------------------

// envObject is process.env: assigning converts values to strings, as in Node.js.
type envObject struct {
	rt   *goja.Runtime
	m    map[string]string
	keys []string
}

func newEnvObject(rt *goja.Runtime, env map[string]string) *envObject {
	e := &envObject{rt: rt, m: map[string]string{}}
	keys := SortedKeys(env)
	for _, k := range keys {
		e.m[k] = env[k]
	}
	e.keys = keys
	return e
}

func (e *envObject) Get(key string) goja.Value {
	if v, ok := e.m[key]; ok {
		return e.rt.ToValue(v)
	}
	return goja.Undefined()
}

func (e *envObject) Set(key string, val goja.Value) bool {
	if _, ok := e.m[key]; !ok {
		e.keys = append(e.keys, key)
	}
	s := "undefined"
	if val != nil {
		s = val.String()
	}
	e.m[key] = s
	return true
}

func (e *envObject) Has(key string) bool { _, ok := e.m[key]; return ok }

func (e *envObject) Delete(key string) bool {
	if _, ok := e.m[key]; ok {
		delete(e.m, key)
		for i, k := range e.keys {
			if k == key {
				e.keys = append(e.keys[:i:i], e.keys[i+1:]...)
				break
			}
		}
	}
	return true
}

func (e *envObject) Keys() []string { return append([]string(nil), e.keys...) }

func (e *envObject) Snapshot() map[string]string {
	out := make(map[string]string, len(e.m))
	for k, v := range e.m {
		out[k] = v
	}
	return out
}
