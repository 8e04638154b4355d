package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tend-dev/tend/internal/serve"
)

// serveCmd is PM2's serve (alias expose): a static file server, started as
// an app of the list (static-page-server-<port>) that runs tend itself.
func (a *app) serveCmd() *cobra.Command {
	var port, user, pass, monitor string
	var spa, ftp bool
	cmd := &cobra.Command{
		Use:     "serve [path] [port]",
		Aliases: []string{"expose"},
		Short:   "Serve a folder over HTTP, as an app of the list (static-page-server-<port>)",
		Args:    cobra.MaximumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) > 0 {
				dir = args[0]
			}
			if len(args) > 1 {
				port = args[1]
			}
			if v := os.Getenv("PM2_SERVE_PORT"); v != "" {
				port = v // PM2: the variable wins
			}
			if port == "" || port == "true" {
				port = "8080"
			}
			if v := os.Getenv("PM2_SERVE_PATH"); v != "" {
				dir = v
			}
			root, err := filepath.Abs(dir)
			if err != nil {
				return err
			}
			if st, err := os.Stat(root); err != nil || !st.IsDir() {
				return fmt.Errorf("serve: %s is not a folder", root)
			}
			if monitor != "" {
				fmt.Fprintln(a.stderr, "[tend][NOTICE] --monitor: ignored: PM2 Plus front-end monitoring is not part of tend")
			}
			exe, err := tendPath()
			if err != nil {
				return err
			}
			f := a.pf.startFlags
			if f.name == "" {
				f.name = serve.Name(port)
			}
			f.cwd, f.interpreter = root, "none"
			f.env = map[string]string{"PM2_SERVE_PORT": port, "PM2_SERVE_PATH": root,
				"PM2_SERVE_SPA": fmt.Sprint(spa), "PM2_SERVE_FTP": fmt.Sprint(ftp)}
			if user != "" && pass != "" {
				f.env["PM2_SERVE_BASIC_AUTH"] = "true"
				f.env["PM2_SERVE_BASIC_AUTH_USERNAME"], f.env["PM2_SERVE_BASIC_AUTH_PASSWORD"] = user, pass
			}
			fmt.Fprintf(a.stderr, "[tend] Serving %s on port %s\n", root, port)
			return a.start(cmd, []string{exe, serve.Arg}, nil, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&port, "port", "", "port to listen on (default 8080)")
	fl.BoolVar(&spa, "spa", false, "answer paths that do not exist with index.html (single-page apps)")
	fl.BoolVar(&ftp, "ftp", false, "list folders that have no index.html")
	fl.StringVar(&user, "basic-auth-username", "", "basic auth user (with --basic-auth-password)")
	fl.StringVar(&pass, "basic-auth-password", "", "basic auth password")
	fl.StringVar(&monitor, "monitor", "", "PM2 Plus front-end monitoring (not in tend)")
	fl.Lookup("monitor").NoOptDefVal = "true"
	return cmd
}

// serveProcCmd runs the server of `tend serve` (the app's own process).
func (a *app) serveProcCmd() *cobra.Command {
	return &cobra.Command{
		Use:    serve.Arg,
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return serve.Run(serve.FromEnv(os.Getenv))
		},
	}
}

// tendPath is this tend's path as it was called (not resolved through
// links), so that an app can run it again.
func tendPath() (string, error) {
	exe := os.Args[0]
	switch {
	case filepath.IsAbs(exe):
		return exe, nil
	case strings.Contains(exe, "/"):
		return filepath.Abs(exe)
	}
	if p, err := exec.LookPath(exe); err == nil {
		return filepath.Abs(p)
	}
	return os.Executable()
}
