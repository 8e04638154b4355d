// Package deploy is PM2's deploy: an ecosystem file's deploy section says
// where an app's repository is checked out on each host (over ssh, with the
// system's ssh and git), and this package sets the hosts up, updates them to
// a ref, reverts, and runs the hooks — with PM2's folder layout on the host:
// <path>/source (the clone), <path>/current (a link to it), <path>/shared
// (logs, pids) and <path>/.deploys (one deployed commit a line).
package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Target is one environment of a deploy section.
type Target struct {
	Env          string // the environment's name (production, staging…)
	User         string
	Hosts        []string
	Port         string
	Key          string
	SSHOptions   []string // each given to ssh as -o
	NeedsTTY     bool
	ForwardAgent bool
	Repo, Path   string
	Ref          string // origin/main
	Fetch        string // "fast": shallow clones and fetches
	Hooks        map[string]string
	Vars         map[string]string // exported before post-deploy
}

// Hooks PM2 knows. pre-deploy-local runs here; the others on each host.
const (
	PreSetup       = "pre-setup"
	PostSetup      = "post-setup"
	PreDeployLocal = "pre-deploy-local"
	PreDeploy      = "pre-deploy"
	PostDeploy     = "post-deploy"
)

// Parse reads environment env of a deploy section (the value of the
// ecosystem file's "deploy" key).
func Parse(section any, env string) (Target, error) {
	all, _ := section.(map[string]any)
	if all == nil {
		return Target{}, errors.New("the file has no deploy section")
	}
	m, ok := all[env].(map[string]any)
	if !ok {
		var envs []string
		for k := range all {
			envs = append(envs, k)
		}
		sort.Strings(envs)
		return Target{}, fmt.Errorf("no environment %q in the deploy section (it has: %s)", env, strings.Join(envs, ", "))
	}
	str := func(k string) string {
		switch v := m[k].(type) {
		case string:
			return strings.TrimSpace(v)
		case float64:
			return strconv.FormatFloat(v, 'f', -1, 64)
		case bool:
			return strconv.FormatBool(v)
		}
		return ""
	}
	t := Target{Env: env, User: str("user"), Port: str("port"), Key: str("key"), Repo: str("repo"), Path: str("path"),
		Ref: str("ref"), Fetch: str("fetch"), NeedsTTY: str("needs_tty") != "" && str("needs_tty") != "false",
		ForwardAgent: str("forward-agent") != "" && str("forward-agent") != "false", Hooks: map[string]string{}, Vars: map[string]string{}}
	switch h := m["host"].(type) {
	case string:
		t.Hosts = []string{h}
	case []any:
		for _, v := range h {
			switch x := v.(type) {
			case string:
				t.Hosts = append(t.Hosts, x)
			case map[string]any:
				if s, ok := x["host"].(string); ok {
					t.Hosts = append(t.Hosts, s)
				}
			}
		}
	}
	switch o := m["ssh_options"].(type) {
	case string:
		t.SSHOptions = []string{o}
	case []any:
		for _, v := range o {
			t.SSHOptions = append(t.SSHOptions, fmt.Sprint(v))
		}
	}
	for _, h := range []string{PreSetup, PostSetup, PreDeployLocal, PreDeploy, PostDeploy} {
		t.Hooks[h] = str(h)
	}
	if e, ok := m["env"].(map[string]any); ok {
		for k, v := range e {
			t.Vars[strings.ToUpper(k)] = fmt.Sprint(v)
		}
	}
	var missing []string
	for k, v := range map[string]string{"repo": t.Repo, "path": t.Path, "ref": t.Ref} {
		if v == "" {
			missing = append(missing, k)
		}
	}
	if len(t.Hosts) == 0 {
		missing = append(missing, "host")
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return t, fmt.Errorf("deploy.%s needs %s", env, strings.Join(missing, ", "))
	}
	if !filepath.IsAbs(t.Path) {
		if abs, err := filepath.Abs(t.Path); err == nil {
			t.Path = abs // PM2 resolves it here
		}
	}
	return t, nil
}

// Host runs the steps of a deploy on one host.
type Host struct {
	T    Target
	Name string
	Out  io.Writer // the commands' output
	Err  io.Writer // their errors, and what the steps say
}

func (h *Host) say(format string, a ...any) {
	fmt.Fprintf(h.Err, "  [%s] %s\n", h.Name, fmt.Sprintf(format, a...))
}

// sshArgs is the ssh command line that reaches the host.
func (h *Host) sshArgs() []string {
	var args []string
	for _, o := range h.T.SSHOptions {
		args = append(args, "-o", o)
	}
	if h.T.NeedsTTY {
		args = append(args, "-t")
	}
	if h.T.ForwardAgent {
		args = append(args, "-A")
	}
	if h.T.Port != "" {
		args = append(args, "-p", h.T.Port)
	}
	if h.T.Key != "" {
		key := h.T.Key
		if rest, ok := strings.CutPrefix(key, "~/"); ok {
			if home, err := os.UserHomeDir(); err == nil {
				key = filepath.Join(home, rest)
			}
		}
		args = append(args, "-i", key)
	}
	dest := h.Name
	if h.T.User != "" {
		dest = h.T.User + "@" + h.Name
	}
	return append(args, dest)
}

// Run runs a shell command on the host (here when the host is localhost,
// as PM2 does), its output to Out/Err.
func (h *Host) Run(script string) error {
	_, err := h.run(script, false)
	return err
}

// Output runs a shell command on the host and returns its output.
func (h *Host) Output(script string) (string, error) {
	return h.run(script, true)
}

func (h *Host) run(script string, capture bool) (string, error) {
	var cmd *exec.Cmd
	if h.Name == "localhost" {
		cmd = exec.Command("bash", "-c", script)
	} else {
		cmd = exec.Command("ssh", append(h.sshArgs(), script)...)
	}
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = h.Out, h.Err
	if capture {
		cmd.Stdout = &buf
	}
	err := cmd.Run()
	if err != nil {
		return buf.String(), fmt.Errorf("%s: %w", strings.SplitN(script, "\n", 2)[0], err)
	}
	return buf.String(), nil
}

// q quotes a word for the remote shell.
func q(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func (h *Host) dir(sub string) string { return h.T.Path + "/" + sub }

// hook runs a hook in <path>/current with SHARED set, as PM2 does.
func (h *Host) hook(name string) error {
	cmd := h.T.Hooks[name]
	if cmd == "" {
		return nil
	}
	if name == PostDeploy && len(h.T.Vars) > 0 {
		keys := make([]string, 0, len(h.T.Vars))
		for k := range h.T.Vars {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var kv []string
		for _, k := range keys {
			kv = append(kv, k+"="+q(h.T.Vars[k]))
		}
		cmd = "export " + strings.Join(kv, " ") + " && " + cmd
	}
	h.say("%s: %s", name, cmd)
	if err := h.Run(fmt.Sprintf("cd %s && SHARED=%s bash -c %s", q(h.dir("current")), q(h.dir("shared")), q(cmd))); err != nil {
		return fmt.Errorf("%s hook failed: %w", name, err)
	}
	return nil
}

func (h *Host) branch() string {
	if _, b, ok := strings.Cut(h.T.Ref, "/"); ok {
		return b
	}
	return h.T.Ref
}

// Setup prepares the host: pre-setup, the folders, the clone, the current
// link, post-setup.
func (h *Host) Setup() error {
	if cmd := h.T.Hooks[PreSetup]; cmd != "" {
		h.say("pre-setup: %s", cmd)
		var err error
		if f := strings.Fields(cmd); len(f) > 0 && isFile(f[0]) && h.Name != "localhost" {
			// a local script, run on the host (ssh … bash -s < script)
			c := exec.Command("ssh", append(h.sshArgs(), "bash -s -- "+strings.Join(f[1:], " "))...)
			in, oerr := os.Open(f[0])
			if oerr != nil {
				return oerr
			}
			defer in.Close()
			c.Stdin, c.Stdout, c.Stderr = in, h.Out, h.Err
			err = c.Run()
		} else {
			err = h.Run(cmd)
		}
		if err != nil {
			return fmt.Errorf("pre-setup hook failed: %w", err)
		}
	}
	h.say("setup: %s", h.T.Path)
	if err := h.Run("mkdir -p " + q(h.dir("shared/logs")) + " " + q(h.dir("shared/pids")) + " " + q(h.dir("source"))); err != nil {
		return fmt.Errorf("create the folders: %w", err)
	}
	depth := ""
	if h.T.Fetch == "fast" {
		depth = "--depth=5 "
	}
	h.say("cloning %s", h.T.Repo)
	if err := h.Run("git clone " + depth + "--branch " + q(h.branch()) + " " + q(h.T.Repo) + " " + q(h.dir("source"))); err != nil {
		return fmt.Errorf("clone: %w", err)
	}
	if err := h.Run("ln -sfn " + q(h.dir("source")) + " " + q(h.dir("current"))); err != nil {
		return fmt.Errorf("current link: %w", err)
	}
	if err := h.hook(PostSetup); err != nil {
		return err
	}
	h.say("setup done")
	return nil
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// Update fetches and checks out ref (the latest tag when empty), links
// current, records the commit in .deploys and runs the hooks.
func (h *Host) Update(ref string) error {
	h.say("deploying %s", dash(ref, "the latest tag"))
	if err := h.hook(PreDeploy); err != nil {
		return err
	}
	depth := ""
	if h.T.Fetch == "fast" {
		depth = "--depth=5 "
	}
	src := q(h.dir("source"))
	if err := h.Run("cd " + src + " && git fetch " + depth + "--all --tags"); err != nil {
		return fmt.Errorf("fetch: %w", err)
	}
	if ref == "" {
		out, err := h.Output("cd " + src + " && git for-each-ref --sort=-*authordate --format='%(refname:short)' --count=1 refs/tags")
		if err != nil || strings.TrimSpace(out) == "" {
			return fmt.Errorf("no ref to deploy: set ref in deploy.%s or give one (tend deploy <file> %s ref <ref>)", h.T.Env, h.T.Env)
		}
		ref = strings.TrimSpace(out)
	}
	if err := h.Run("cd " + src + " && git reset --hard " + q(ref)); err != nil {
		return fmt.Errorf("check out %s: %w", ref, err)
	}
	if err := h.Run("ln -sfn " + src + " " + q(h.dir("current"))); err != nil {
		return fmt.Errorf("current link: %w", err)
	}
	if err := h.Run("cd " + src + " && git rev-parse HEAD >> " + q(h.dir(".deploys"))); err != nil {
		return fmt.Errorf("record the deploy: %w", err)
	}
	if err := h.hook(PostDeploy); err != nil {
		return err
	}
	h.say("deployed %s", ref)
	return nil
}

func dash(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Deployed returns the deployed commits, newest first.
func (h *Host) Deployed() ([]string, error) {
	out, err := h.Output("cat " + q(h.dir(".deploys")))
	if err != nil {
		return nil, fmt.Errorf("no deploy recorded on %s (%w)", h.Name, err)
	}
	var list []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			list = append([]string{f[0]}, list...)
		}
	}
	return list, nil
}

// Revert deploys the commit n deploys before the current one.
func (h *Host) Revert(n int) error {
	list, err := h.Deployed()
	if err != nil {
		return err
	}
	if n < 1 || n >= len(list) {
		return fmt.Errorf("cannot revert %d deploy(s): %d recorded on %s", n, len(list), h.Name)
	}
	h.say("reverting %d deploy(s)", n)
	return h.Update(list[n])
}

// Current is the short commit checked out on the host.
func (h *Host) Current() (string, error) {
	out, err := h.Output("cd " + q(h.dir("source")) + " && git rev-parse --short HEAD")
	return strings.TrimSpace(out), err
}

// Exec runs cmd in <path>/current on the host.
func (h *Host) Exec(cmd string) error {
	return h.Run("cd " + q(h.dir("current")) + " && " + cmd)
}

// LocalChanges refuses to deploy from a working tree with changes that were
// not committed or pushed (PM2's check; --force skips it).
func LocalChanges() error {
	if err := exec.Command("git", "rev-parse", "--git-dir").Run(); err != nil {
		return nil // not in a repository: nothing to check
	}
	if exec.Command("git", "--no-pager", "diff", "--exit-code", "--quiet").Run() != nil {
		return errors.New("commit or stash your changes before deploying (or --force)")
	}
	if exec.Command("git", "--no-pager", "diff", "--exit-code", "--quiet", "--cached").Run() != nil {
		return errors.New("commit your staged changes before deploying (or --force)")
	}
	if out, err := exec.Command("git", "rev-list", "@{upstream}..", "-n", "1").Output(); err == nil && len(bytes.TrimSpace(out)) > 0 {
		return errors.New("push your changes before deploying (or --force)")
	}
	return nil
}
