package cli

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"

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
			switch {
			case homeDir != "":
				home = filepath.Join(homeDir, ".tend")
			case u.Uid != strconv.Itoa(os.Getuid()):
				// another user's daemon: its home from the passwd database,
				// never the caller's TEND_HOME
				home = filepath.Join(u.HomeDir, ".tend")
				if _, err := os.Stat(u.HomeDir); err != nil {
					fmt.Fprintf(a.stderr, "[tend][WARN] %s, the home folder of user %s, does not exist: the daemon cannot start until it does; choose another with --hp <folder>\n", u.HomeDir, u.Username)
				}
			}
			exe, err := os.Executable()
			if err != nil {
				return err
			}
			name := "tend-" + u.Username + ".service"
			unit, err := systemdUnit(exe, u.Username, home, os.Getenv("PATH"))
			if err != nil {
				return err
			}
			if os.Geteuid() != 0 {
				fmt.Fprintf(a.stdout, "%s", unit)
				fmt.Fprintf(a.stderr, "[tend] To start tend at boot, run as root:\n  sudo env PATH=\"$PATH\" %s startup systemd -u %s --hp %s\n", shellQuote(exe), shellQuote(u.Username), shellQuote(u.HomeDir))
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
	var unknown user.UnknownUserError
	if errors.As(err, &unknown) {
		// A static tend reads /etc/passwd only: ask NSS (LDAP, sssd, ...)
		// through getent.
		if gu, gerr := getentUser(name); gerr == nil {
			return gu, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("user %s: %w (check the name with `getent passwd %s`)", name, err, name)
	}
	return u, nil
}

// getentUser looks name up in the passwd database through getent(1).
func getentUser(name string) (*user.User, error) {
	out, err := exec.Command("getent", "passwd", name).Output()
	if err != nil {
		return nil, err
	}
	f := strings.Split(strings.TrimSpace(string(out)), ":")
	if len(f) < 7 || f[0] != name {
		return nil, fmt.Errorf("getent passwd %s: unexpected answer %q", name, out)
	}
	return &user.User{Username: f[0], Uid: f[2], Gid: f[3], Name: f[4], HomeDir: f[5]}, nil
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
//
// Every value is quoted as systemd.syntax(7) says, so a space, a quote, a
// backslash, a "%" (a specifier) or a "$" (a variable in ExecStart) keeps
// its meaning; a control character, which could end the line and add a
// directive, is refused.
func systemdUnit(exe, username, home, path string) (string, error) {
	for _, v := range []struct{ what, val string }{
		{"the tend binary's path", exe}, {"the user name", username}, {"TEND_HOME", home}, {"PATH", path},
	} {
		if i := strings.IndexFunc(v.val, unicode.IsControl); i >= 0 {
			return "", fmt.Errorf("%s %q holds a control character (%q), which a systemd unit cannot hold: "+
				"use a value without one (--hp chooses TEND_HOME, -u the user)", v.what, v.val, v.val[i:i+1])
		}
	}
	return fmt.Sprintf(`[Unit]
Description=tend process manager for %[2]s (TEND_HOME=%[3]s)
After=network.target

[Service]
Type=simple
User=%[2]s
Environment=%[4]s
Environment=%[5]s
ExecStart=%[1]s daemon --resurrect
KillMode=process
Delegate=yes
Restart=on-failure
LimitNOFILE=infinity

[Install]
WantedBy=multi-user.target
`, strings.ReplaceAll(systemdQuote(exe), "$", "$$"), specifiers.Replace(username), specifiers.Replace(home),
		systemdQuote("TEND_HOME="+home), systemdQuote("PATH="+path)), nil
}

// specifiers doubles "%", which systemd would take for a specifier.
var specifiers = strings.NewReplacer("%", "%%")

// systemdQuote makes s one word of a unit setting: double quotes, with
// backslash and double quote escaped, and "%" doubled.
func systemdQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "%", "%%").Replace(s) + `"`
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
