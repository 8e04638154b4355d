package pm2wire

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tend-dev/tend/internal/api"
	"github.com/tend-dev/tend/internal/config"
	"github.com/tend-dev/tend/internal/spec"
)

// rpcCall is one call's arguments as sent, and who sent it.
type rpcCall struct {
	ctx  context.Context
	args []json.RawMessage
	pid  int // the peer's pid
	// after, if set, runs once the reply is written: what must come after
	// it (an action's answer must not reach a bus before the call's reply).
	after func()
	// noReply: PM2's daemon never answers this call (killMe: its client
	// passes no callback, and an answer would make it throw).
	noReply bool
}

// arg decodes argument i into v; a missing argument leaves v as is.
func (c *rpcCall) arg(i int, v any) error {
	if i >= len(c.args) {
		return nil
	}
	if err := json.Unmarshal(c.args[i], v); err != nil {
		return fmt.Errorf("argument %d: %v", i+1, err)
	}
	return nil
}

type method func(s *Server, c *rpcCall) (any, error)

// methods are the calls of PM2's daemon (its Daemon.js exposes them) that
// tend serves; the reply shapes are PM2's.
var methods map[string]method

func init() {
	methods = map[string]method{
		"getMonitorData":          (*Server).getMonitorData,
		"prepare":                 (*Server).prepare,
		"startProcessId":          actOnID(api.ActionStart),
		"stopProcessId":           actOnID(api.ActionStop),
		"restartProcessId":        actOnID(api.ActionRestart),
		"reloadProcessId":         actOnID(api.ActionReload),
		"softReloadProcessId":     actOnID(api.ActionReload),
		"deleteProcessId":         actOnID(api.ActionDelete),
		"resetMetaProcessId":      (*Server).resetMeta,
		"duplicateProcessId":      (*Server).duplicate,
		"sendSignalToProcessName": (*Server).signalName,
		"sendSignalToProcessId":   (*Server).signalID,
		"sendDataToProcessId":     (*Server).sendData,
		"sendLineToStdin":         (*Server).sendLine,
		"msgProcess":              (*Server).msgProcess,
		"notifyByProcessId":       (*Server).notifyByID,
		"notifyKillPM2":           func(*Server, *rpcCall) (any, error) { return map[string]any{}, nil },
		"stopWatch":               watchNoop,
		"startWatch":              watchNoop,
		"toggleWatch":             watchNoop,
		"reloadLogs":              (*Server).reloadLogs,
		"ping":                    func(*Server, *rpcCall) (any, error) { return map[string]string{"msg": "pong"}, nil },
		"getVersion":              (*Server).getVersion,
		"killMe":                  (*Server).killMe,
	}
}

// unserved are PM2 methods tend answers with an error that says why.
var unserved = map[string]string{
	"getSystemData": "tend does not collect PM2's host metrics; see `tend monit` or tend's Prometheus metrics",
	"profileCPU":    "tend does not profile apps; run node --cpu-prof in the app",
	"profileMEM":    "tend does not profile apps; run node --heap-prof in the app",
	"monitor":       "PM2 Plus monitoring is not part of tend",
	"unmonitor":     "PM2 Plus monitoring is not part of tend",
	"getReport":     "PM2's report is about PM2's own daemon; see `tend ping` and tend.log",
}

// methodDescriptions answers pm2-axon-rpc's "methods" request.
func methodDescriptions() map[string]any {
	out := map[string]any{}
	for name := range methods {
		out[name] = map[string]any{"name": name, "params": []string{}}
	}
	return out
}

func (s *Server) getMonitorData(c *rpcCall) (any, error) {
	ps := s.b.List()
	if ps == nil {
		ps = []api.Process{}
	}
	return ps, nil
}

// pmID reads a pm_id given as a number, a numeric string, or {id: ...}.
func pmID(raw json.RawMessage) (int, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return 0, err
	}
	if m, ok := v.(map[string]any); ok {
		v = m["id"]
	}
	switch x := v.(type) {
	case float64:
		return int(x), nil
	case string:
		if n, err := strconv.Atoi(x); err == nil {
			return n, nil
		}
	}
	return 0, fmt.Errorf("a process id is needed, got %s", raw)
}

// id reads the pm_id of the first argument.
func (c *rpcCall) id() (int, error) {
	if len(c.args) == 0 {
		return 0, errors.New("a process id is needed")
	}
	return pmID(c.args[0])
}

// restartOpts is what PM2's client sends with restartProcessId and
// reloadProcessId: {id, env}. env is {current_conf} alone, unless the client
// asked to update the environment (--update-env, or an ecosystem file): then
// its own environment is there too, and becomes the app's.
type restartOpts struct {
	ID  any            `json:"id"`
	Env map[string]any `json:"env"`
}

func actOnID(action api.Action) method {
	return func(s *Server, c *rpcCall) (any, error) {
		id, err := c.id()
		if err != nil {
			return nil, err
		}
		req := api.ActionRequest{Action: action, Target: api.Target{Names: []string{strconv.Itoa(id)}}}
		var gone map[string]any // a deleted process, for its process:event
		if action == api.ActionDelete {
			if p, ok := s.find(id); ok {
				gone = envWithoutEnv(p)
			}
		}
		if action == api.ActionRestart || action == api.ActionReload {
			var o restartOpts
			if json.Unmarshal(c.args[0], &o) == nil && len(o.Env) > 1 {
				req.UpdateEnv = true
				req.Env = map[string]string{}
				for k, v := range o.Env {
					if k == "updateEnv" || k == "current_conf" {
						continue
					}
					switch x := v.(type) {
					case string:
						req.Env[k] = x
					case float64, bool:
						req.Env[k] = fmt.Sprint(x)
					}
				}
			}
		}
		ps, err := s.b.Act(c.ctx, req)
		if err != nil {
			return nil, fmt.Errorf("%d : %s failed: %w", id, action, err)
		}
		if gone != nil {
			// PM2's daemon announces no deletion (its client's notify comes
			// after the process is gone); tend does.
			gone["status"] = api.StatusStopped
			s.Emit("process:event", map[string]any{"event": "delete", "manually": true, "process": gone, "at": time.Now().UnixMilli()})
		}
		for _, p := range ps {
			if p.PMID == id {
				return p, nil
			}
		}
		if action == api.ActionDelete {
			return map[string]any{}, nil
		}
		return nil, fmt.Errorf("%d : id unknown", id)
	}
}

func (s *Server) resetMeta(c *rpcCall) (any, error) {
	id, err := c.id()
	if err != nil {
		return nil, err
	}
	if _, err := s.b.Act(c.ctx, api.ActionRequest{Action: api.ActionReset, Target: api.Target{Names: []string{strconv.Itoa(id)}}}); err != nil {
		return nil, fmt.Errorf("%d id unknown: %w", id, err)
	}
	return s.getMonitorData(c)
}

func (s *Server) find(id int) (api.Process, bool) {
	for _, p := range s.b.List() {
		if p.PMID == id {
			return p, true
		}
	}
	return api.Process{}, false
}

// duplicate adds one instance of the app of a pm_id (PM2's scale up).
func (s *Server) duplicate(c *rpcCall) (any, error) {
	id, err := c.id()
	if err != nil {
		return nil, err
	}
	p, ok := s.find(id)
	if !ok {
		return nil, fmt.Errorf("%d id unknown", id)
	}
	ps, err := s.b.Scale(c.ctx, p.Name, "+1")
	if err != nil {
		return nil, err
	}
	for _, q := range ps {
		if q.PMID != id && q.Name == p.Name {
			return q, nil
		}
	}
	return p, nil
}

type signalOpts struct {
	ProcessName any `json:"process_name"`
	ProcessID   any `json:"process_id"`
	Signal      any `json:"signal"`
}

func signalName(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.Itoa(int(x))
	}
	return ""
}

func (s *Server) signal(c *rpcCall, target string) (any, error) {
	var o signalOpts
	if err := c.arg(0, &o); err != nil {
		return nil, err
	}
	sig := signalName(o.Signal)
	if sig == "" {
		return nil, errors.New("a signal is needed (signal: 'SIGUSR2')")
	}
	if target == "" {
		return nil, errors.New("a process name or id is needed")
	}
	// As PM2, only the processes that run get it; the others are skipped.
	var ids []string
	for _, p := range s.b.List() {
		st := p.PM2Env.Status
		if (p.Name == target || strconv.Itoa(p.PMID) == target) && (st == api.StatusOnline || st == api.StatusLaunching) {
			ids = append(ids, strconv.Itoa(p.PMID))
		}
	}
	if len(ids) > 0 {
		if _, err := s.b.Act(c.ctx, api.ActionRequest{Action: api.ActionSignal, Signal: sig, Target: api.Target{Names: ids}}); err != nil {
			return nil, err
		}
	}
	return s.getMonitorData(c)
}

func (s *Server) signalName(c *rpcCall) (any, error) {
	var o signalOpts
	c.arg(0, &o)
	name := signalName(o.ProcessName)
	if name != "" {
		// PM2 finds processes by name only.
		found := false
		for _, p := range s.b.List() {
			if p.Name == name {
				found = true
			}
		}
		if !found {
			return nil, errors.New("Unknown process name")
		}
	}
	return s.signal(c, name)
}

func (s *Server) signalID(c *rpcCall) (any, error) {
	var o signalOpts
	c.arg(0, &o)
	return s.signal(c, signalName(o.ProcessID))
}

// sendData writes PM2's packet ({id, topic, data, ...}) to the app's IPC
// channel, where process.on('message') receives it.
// sendLine is PM2's sendLineToStdin: {pm_id, line} (the line with its
// separator, as PM2's client sends it) to a running process's stdin.
func (s *Server) sendLine(c *rpcCall) (any, error) {
	var packet struct {
		PMID json.RawMessage `json:"pm_id"`
		Line string          `json:"line"`
	}
	if len(c.args) == 0 || json.Unmarshal(c.args[0], &packet) != nil || packet.PMID == nil || packet.Line == "" {
		return nil, errors.New("pm_id or line field missing")
	}
	id, err := pmID(packet.PMID)
	if err != nil {
		return nil, err
	}
	if _, ok := s.find(id); !ok {
		return nil, fmt.Errorf("Process with ID <%d> unknown.", id)
	}
	if _, err := s.b.Act(c.ctx, api.ActionRequest{Action: api.ActionStdin, Line: packet.Line, Target: api.Target{Names: []string{strconv.Itoa(id)}}}); err != nil {
		return nil, err
	}
	return map[string]any{"pm_id": id, "line": packet.Line}, nil
}

func (s *Server) sendData(c *rpcCall) (any, error) {
	if len(c.args) == 0 {
		return nil, errors.New("ID, DATA or TOPIC field is missing")
	}
	var packet map[string]any
	if err := json.Unmarshal(c.args[0], &packet); err != nil || packet == nil {
		return nil, errors.New("ID, DATA or TOPIC field is missing")
	}
	_, hasData := packet["data"]
	topic, _ := packet["topic"]
	if packet["id"] == nil || !hasData || topic == nil || topic == "" || topic == false {
		return nil, errors.New("ID, DATA or TOPIC field is missing")
	}
	id, err := pmID(c.args[0])
	if err != nil {
		return nil, err
	}
	p, ok := s.find(id)
	if !ok {
		return nil, fmt.Errorf("Process with ID <%d> unknown.", id)
	}
	if st := p.PM2Env.Status; st != api.StatusOnline && st != api.StatusLaunching {
		return nil, fmt.Errorf("Process with ID <%d> offline.", id)
	}
	if err := s.b.Send(c.ctx, api.SendRequest{PMID: id, Data: c.args[0]}); err != nil {
		return nil, err
	}
	return map[string]any{"success": true, "data": packet}, nil
}

func hasAction(p api.Process, name string) bool {
	for _, a := range p.PM2Env.AxmActions {
		if m, ok := a.(map[string]any); ok && m["action_name"] == name {
			return true
		}
	}
	return false
}

// msgProcess runs an @pm2/io action (pm2.trigger): the app receives the
// action's name, or the whole command when it has options.
func (s *Server) msgProcess(c *rpcCall) (any, error) {
	var cmd map[string]any
	if err := c.arg(0, &cmd); err != nil || cmd == nil {
		return nil, errors.New("method requires name or id field")
	}
	action, _ := cmd["msg"].(string)
	msg := c.args[0]
	if cmd["opts"] == nil && cmd["uuid"] == nil {
		msg, _ = json.Marshal(action)
	}
	running := func(p api.Process) bool {
		return p.PM2Env.Status == api.StatusOnline || p.PM2Env.Status == api.StatusLaunching
	}
	if _, ok := cmd["id"]; ok {
		id, err := pmID(c.args[0])
		if err != nil {
			return nil, err
		}
		p, ok := s.find(id)
		if !ok {
			return nil, fmt.Errorf("%d id unknown", id)
		}
		if !hasAction(p, action) {
			return nil, fmt.Errorf("Action doesn't exist %s for %s", action, p.Name)
		}
		if !running(p) {
			return nil, fmt.Errorf("%d : id offline", id)
		}
		c.after = func() { time.Sleep(replyHeadStart); s.sendLogged(id, msg) }
		return map[string]any{"process_count": 1, "success": true}, nil
	}
	name, ok := cmd["name"].(string)
	if !ok {
		return nil, errors.New("method requires name or id field")
	}
	var ids []int
	for _, p := range s.b.List() {
		if !hasAction(p, action) || !running(p) {
			continue
		}
		if filepath.Base(p.PM2Env.PMExecPath) == name || p.Name == name || p.PM2Env.Namespace == name || name == "all" {
			ids = append(ids, p.PMID)
		}
	}
	c.after = func() {
		time.Sleep(replyHeadStart)
		for _, id := range ids {
			s.sendLogged(id, msg)
		}
	}
	return map[string]any{"process_count": len(ids), "success": true}, nil
}

// replyHeadStart is how long an action waits after msgProcess's reply: PM2's
// trigger counts the answers on its bus against the number that reply
// gives, so the reply must be read first; an app answers over tend's IPC in
// well under a millisecond, and the client may read its two sockets in
// either order when both are ready at once.
const replyHeadStart = 25 * time.Millisecond

// sendLogged sends msg to a process after a call's reply; a failure is only
// logged (PM2's client waits for the answers on its bus).
func (s *Server) sendLogged(id int, msg json.RawMessage) {
	if err := s.b.Send(context.Background(), api.SendRequest{PMID: id, Data: msg}); err != nil {
		s.opts.Logf("PM2 rpc.sock: message to process %d: %v", id, err)
	}
}

// notifyByID publishes the process:event PM2's client asks for after an
// action (restart, stop, delete, reload).
func (s *Server) notifyByID(c *rpcCall) (any, error) {
	var o struct {
		ID         any    `json:"id"`
		ActionName string `json:"action_name"`
		Manually   any    `json:"manually"`
	}
	if err := c.arg(0, &o); err != nil {
		return nil, err
	}
	if o.ID == nil {
		return nil, errors.New("process id missing")
	}
	id, err := pmID(c.args[0])
	if err != nil {
		return nil, err
	}
	p, ok := s.find(id)
	if !ok {
		return nil, errors.New("process id doesnt exists")
	}
	s.Emit("process:event", map[string]any{
		"event":    o.ActionName,
		"manually": o.Manually != nil,
		"process":  envWithoutEnv(p),
		"at":       time.Now().UnixMilli(),
	})
	return nil, nil
}

func watchNoop(s *Server, c *rpcCall) (any, error) {
	// tend's stop and delete end watching by themselves.
	return map[string]any{"success": true}, nil
}

func (s *Server) reloadLogs(c *rpcCall) (any, error) {
	if err := s.b.ReloadLogs(); err != nil {
		return nil, err
	}
	return map[string]any{}, nil
}

// killMe stops every app and the daemon (pm2 kill), without a reply. PM2
// signals the caller with SIGQUIT when its sockets close; tend does the same
// for the caller's own pid.
func (s *Server) killMe(c *rpcCall) (any, error) {
	var o struct {
		PID any `json:"pid"`
	}
	c.arg(0, &o)
	if p, ok := o.PID.(float64); ok && int(p) == c.pid {
		s.quitOnClose(c.pid)
	}
	s.Emit("pm2:kill", map[string]any{"status": "killed", "msg": "pm2 has been killed via CLI"})
	go s.b.Kill()
	c.noReply = true
	return nil, nil
}

// getVersion answers the version of the caller's own pm2 package when it can
// be found from its command line, so PM2's CLI does not ask for a `pm2
// update` (which would replace tend with PM2's daemon); else tend's.
func (s *Server) getVersion(c *rpcCall) (any, error) {
	if v := callerPM2Version(c.pid); v != "" {
		return v, nil
	}
	return s.opts.Version, nil
}

func callerPM2Version(pid int) string {
	if pid <= 0 {
		return ""
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return ""
	}
	args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	cwd, _ := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
	for _, a := range args[min(1, len(args)):] {
		if strings.HasPrefix(a, "-") || a == "" {
			continue
		}
		if !filepath.IsAbs(a) {
			if cwd == "" {
				continue
			}
			a = filepath.Join(cwd, a)
		}
		if fi, err := os.Stat(a); err != nil || fi.IsDir() {
			continue
		}
		if real, err := filepath.EvalSymlinks(a); err == nil {
			a = real
		}
		for dir := filepath.Dir(a); dir != "/" && dir != "."; dir = filepath.Dir(dir) {
			for _, pj := range []string{filepath.Join(dir, "package.json"), filepath.Join(dir, "node_modules", "pm2", "package.json")} {
				if v := pm2Version(pj); v != "" {
					return v
				}
			}
		}
	}
	return ""
}

func pm2Version(path string) string {
	if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() || fi.Size() > 1<<20 {
		return "" // only a package.json (never a FIFO that would block)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	var pkg struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	}
	if json.Unmarshal(b, &pkg) != nil || pkg.Name != "pm2" {
		return ""
	}
	return pkg.Version
}

// prepare starts an app PM2's client resolved (Common.resolveAppAttributes):
// its script is pm_exec_path, its folder pm_cwd, its log files pm_*_path.
func (s *Server) prepare(c *rpcCall) (any, error) {
	var obj map[string]any
	if err := c.arg(0, &obj); err != nil || obj == nil {
		return nil, errors.New("prepare needs an app object")
	}
	app, err := appFromPM2(obj, s.opts.Home)
	if err != nil {
		return nil, err
	}
	ps, err := s.b.Start(c.ctx, []spec.App{*app})
	if err != nil {
		return nil, err
	}
	out := []api.Process{}
	for _, p := range ps {
		if p.Name == app.Name {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PMID < out[j].PMID })
	return out, nil
}

// fromPM2Paths maps the paths PM2's client resolved to the options they
// came from.
var fromPM2Paths = map[string]string{
	"pm_exec_path":    "script",
	"pm_cwd":          "cwd",
	"pm_out_log_path": "out_file",
	"pm_err_log_path": "error_file",
	"pm_log_path":     "log_file",
	"pm_pid_path":     "pid_file",
}

// pm2Only are keys of a resolved app that are PM2's bookkeeping, not options.
var pm2Only = []string{"km_link", "username", "vizion_running", "pm_id", "status", "created_at", "pm_uptime", "restart_time", "unstable_restarts", "axm_actions", "axm_monitor", "axm_options", "axm_dynamic", "versioning", "node_version", "exit_code", "prev_restart_delay"}

func appFromPM2(obj map[string]any, home string) (*spec.App, error) {
	m := make(map[string]any, len(obj))
	for k, v := range obj {
		m[k] = v
	}
	for from, to := range fromPM2Paths {
		if v, ok := m[from]; ok {
			delete(m, from)
			if v != nil && v != "" {
				m[to] = v
			}
		}
	}
	for _, k := range pm2Only {
		delete(m, k)
	}
	if env, ok := m["env"].(map[string]any); ok {
		clean := make(map[string]any, len(env))
		for k, v := range env {
			if k == "current_conf" || v == nil {
				continue
			}
			if _, isObj := v.(map[string]any); isObj {
				continue
			}
			clean[k] = v
		}
		m["env"] = clean
	}
	cwd, _ := m["cwd"].(string)
	apps, _, err := config.Normalize([]map[string]any{m}, "")
	if err != nil {
		return nil, err
	}
	if len(apps) != 1 {
		return nil, errors.New("prepare: no app")
	}
	return config.Resolve(apps[0], config.ResolveOptions{Home: home, BaseDir: cwd})
}

// envWithoutEnv is PM2's formatCLU: the process's pm2_env without its env.
func envWithoutEnv(p api.Process) map[string]any {
	b, err := json.Marshal(p.PM2Env)
	if err != nil {
		return map[string]any{"name": p.Name, "pm_id": p.PMID}
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	delete(m, "env")
	return m
}
