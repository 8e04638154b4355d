package cli

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

// startupCmd is PM2's `startup`: a systemd unit that starts the daemon at
// boot and resurrects what `tend save` wrote. As root it writes the unit and
// enables it; as anyone else it prints the unit and the command to run as
// root, as PM2 does.
func (a *app) startupCmd() *cobra.Command {
	var who, homeDir string
	cmd := &cobra.Command{
		Use:   "startup [systemd]",
		Short: "Start tend at boot (a systemd unit that runs the daemon, then tend resurrect)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 && args[0] != "systemd" {
				return fmt.Errorf("startup %s: only systemd is supported", args[0])
			}
			u, err := startupUser(who)
			if err != nil {
				return err
			}
			home := a.home
			if homeDir != "" {
				home = filepath.Join(homeDir, ".tend")
			}
			exe, err := os.Executable()
			if err != nil {
				return err
			}
			name := "tend-" + u.Username + ".service"
			unit := systemdUnit(exe, u.Username, home, os.Getenv("PATH"))
			if os.Geteuid() != 0 {
				fmt.Fprintf(a.stdout, "%s", unit)
				fmt.Fprintf(a.stderr, "[tend] To start tend at boot, run as root:\n  sudo env PATH=$PATH %s startup systemd -u %s --hp %s\n", exe, u.Username, u.HomeDir)
				return nil
			}
			path := filepath.Join(systemdDir(), name)
			if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
				return fmt.Errorf("write %s: %w", path, err)
			}
			fmt.Fprintf(a.stderr, "[tend] Wrote %s\n", path)
			if err := systemctl("daemon-reload"); err == nil {
				err = systemctl("enable", name)
				if err != nil {
					return fmt.Errorf("systemctl enable %s: %w", name, err)
				}
				fmt.Fprintf(a.stderr, "[tend] Enabled %s: at boot the daemon starts and runs tend resurrect (save your apps with tend save)\n", name)
			} else {
				fmt.Fprintf(a.stderr, "[tend][WARN] systemctl: %v; enable it yourself: systemctl enable %s\n", err, name)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&who, "user", "u", "", "the user the daemon runs as (default: you)")
	cmd.Flags().StringVar(&homeDir, "hp", "", "that user's home folder (TEND_HOME is <hp>/.tend)")
	return cmd
}

// unstartupCmd removes what startup installed.
func (a *app) unstartupCmd() *cobra.Command {
	var who string
	cmd := &cobra.Command{
		Use:   "unstartup [systemd]",
		Short: "Stop starting tend at boot (remove the systemd unit)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 && args[0] != "systemd" {
				return fmt.Errorf("unstartup %s: only systemd is supported", args[0])
			}
			u, err := startupUser(who)
			if err != nil {
				return err
			}
			name := "tend-" + u.Username + ".service"
			path := filepath.Join(systemdDir(), name)
			if _, err := os.Stat(path); err != nil {
				return fmt.Errorf("no %s: tend startup did not install it", path)
			}
			if err := systemctl("disable", name); err != nil {
				fmt.Fprintf(a.stderr, "[tend][WARN] systemctl disable %s: %v\n", name, err)
			}
			if err := os.Remove(path); err != nil {
				return err
			}
			systemctl("daemon-reload")
			fmt.Fprintf(a.stderr, "[tend] Removed %s\n", path)
			return nil
		},
	}
	cmd.Flags().StringVarP(&who, "user", "u", "", "the user the unit was made for (default: you)")
	return cmd
}

func startupUser(name string) (*user.User, error) {
	if name == "" {
		return user.Current()
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("user %s: %w", name, err)
	}
	return u, nil
}

// systemdDir is where units go; TEND_SYSTEMD_DIR moves it (tests).
func systemdDir() string {
	if d := os.Getenv("TEND_SYSTEMD_DIR"); d != "" {
		return d
	}
	return "/etc/systemd/system"
}

func systemctl(args ...string) error {
	out, err := exec.Command("systemctl", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// systemdUnit runs the daemon in the foreground; it resurrects the saved
// apps itself (a second process in the unit's group, as ExecStartPost would
// be, is refused once the daemon has given the group's memory controller to
// the apps' groups). KillMode=process: if the
// daemon dies, systemd restarts it and leaves the apps to it (it watches
// them again); a stop (SIGTERM) makes the daemon stop every app itself.
// Delegate=yes gives it the unit's cgroup for the apps' groups.
func systemdUnit(exe, username, home, path string) string {
	return fmt.Sprintf(`[Unit]
Description=tend process manager for %[2]s (TEND_HOME=%[3]s)
After=network.target

[Service]
Type=simple
User=%[2]s
Environment=TEND_HOME=%[3]s
Environment=PATH=%[4]s
ExecStart=%[1]s daemon --resurrect
KillMode=process
Delegate=yes
Restart=on-failure
LimitNOFILE=infinity

[Install]
WantedBy=multi-user.target
`, exe, username, home, path)
}
