package cli

import (
	"os/exec"
	"os/user"
	"strings"
	"testing"
)

// getent answers as the passwd file does for a user both know.
func TestGetentUser(t *testing.T) {
	if _, err := exec.LookPath("getent"); err != nil {
		t.Skip("no getent")
	}
	want, err := user.Lookup("root")
	if err != nil {
		t.Skip(err)
	}
	got, err := getentUser("root")
	if err != nil || got.Uid != want.Uid || got.HomeDir != want.HomeDir || got.Username != "root" {
		t.Fatalf("getent: %+v %v, want %+v", got, err, want)
	}
}

func TestSystemdUnitQuotes(t *testing.T) {
	unit, err := systemdUnit("/opt/my tend/tend$1", "app", `/srv/a "b" 100%\c`, "/usr/bin")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		`ExecStart="/opt/my tend/tend$$1" daemon --resurrect`,
		`Environment="TEND_HOME=/srv/a \"b\" 100%%\\c"`,
		`Environment="PATH=/usr/bin"`,
	} {
		if !strings.Contains(unit, "\n"+line+"\n") {
			t.Errorf("no line %s in:\n%s", line, unit)
		}
	}
	if _, err := systemdUnit("/usr/bin/tend", "app", "/srv/x\nExecStartPre=/bin/evil", "/usr/bin"); err == nil || !strings.Contains(err.Error(), "control character") {
		t.Fatalf("a newline in TEND_HOME: %v", err)
	}
}
