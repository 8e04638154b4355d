package homedir

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFreshHomeIs0700(t *testing.T) {
	home := filepath.Join(t.TempDir(), "a", "home")
	d, err := Open(home)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	fi, err := os.Stat(home)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Fatalf("fresh home has mode %v, want 0700", fi.Mode().Perm())
	}
	f, err := d.OpenFile("logs/x.log", os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if fi, err := os.Stat(filepath.Join(home, "logs")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("logs folder: %v %v", fi.Mode(), err)
	}
}

func TestRefusesWritableHome(t *testing.T) {
	home := t.TempDir()
	if err := os.Chmod(home, 0o777); err != nil {
		t.Fatal(err)
	}
	_, err := Open(home)
	if !errors.Is(err, ErrUnsafe) {
		t.Fatalf("a 0777 home: got %v, want ErrUnsafe", err)
	}
	for _, want := range []string{home, "writable by group and others", "mode 0777", "chmod 700 " + home} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestRefusesWritableSubfolder(t *testing.T) {
	home := t.TempDir()
	logs := filepath.Join(home, "logs")
	os.Mkdir(logs, 0o700)
	os.Chmod(logs, 0o702)
	// Open checks the folders tend uses; OpenFile any it goes through.
	_, err := Open(home)
	if !errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), logs+" is writable by others (mode 0702") {
		t.Fatalf("Open: got %v", err)
	}
	os.Chmod(logs, 0o700)
	d, err := Open(home)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	other := filepath.Join(home, "other")
	os.Mkdir(other, 0o700)
	os.Chmod(other, 0o720)
	_, err = d.OpenFile("other/a.log", os.O_WRONLY|os.O_CREATE, 0o600)
	if !errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), other+" is writable by its group (mode 0720") {
		t.Fatalf("OpenFile: got %v", err)
	}
}

func TestRefusesLinks(t *testing.T) {
	home := t.TempDir()
	outside := filepath.Join(t.TempDir(), "target")
	if err := os.WriteFile(outside, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(home, "logs"), 0o700)
	link := filepath.Join(home, "logs", "a-out.log")
	os.Symlink(outside, link)
	os.Symlink(filepath.Dir(outside), filepath.Join(home, "state"))
	if _, err := Open(home); !errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), filepath.Join(home, "state")+" is a symbolic link") {
		t.Fatalf("Open with a link at state: got %v", err)
	}
	os.Remove(filepath.Join(home, "state"))
	os.Symlink(filepath.Dir(outside), filepath.Join(home, "other"))
	d, err := Open(home)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	_, err = OpenFile(d, link, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644, 0o755)
	if !errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), link+" is a symbolic link (to "+outside+")") || !strings.Contains(err.Error(), "rm "+link) {
		t.Fatalf("a link at a log file: got %v", err)
	}
	_, err = d.OpenFile("other/0.a", os.O_WRONLY|os.O_CREATE, 0o600)
	if !errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), filepath.Join(home, "other")+" is a symbolic link") {
		t.Fatalf("a link at a folder: got %v", err)
	}
	if b, _ := os.ReadFile(outside); string(b) != "keep" {
		t.Fatalf("the link's target was written: %q", b)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(outside), "0.a")); err == nil {
		t.Fatal("a file was made through the folder link")
	}
	// Outside the home a path keeps its usual meaning.
	f, err := OpenFile(d, os.DevNull, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func TestRefusesOtherOwners(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give files away")
	}
	home := t.TempDir()
	os.Chown(home, 65534, 65534)
	_, err := Open(home)
	if !errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), "belongs to uid 65534 (mode 0") || !strings.Contains(err.Error(), "chown 0 "+home) {
		t.Fatalf("a home of uid 65534: got %v", err)
	}
	os.Chown(home, 0, 0)
	planted := filepath.Join(home, "tend.log")
	os.WriteFile(planted, nil, 0o600)
	os.Chown(planted, 65534, 65534)
	d, err := Open(home)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.OpenFile("tend.log", os.O_WRONLY|os.O_APPEND, 0); !errors.Is(err, ErrUnsafe) {
		t.Fatalf("a file of uid 65534: got %v", err)
	}
}

func TestRel(t *testing.T) {
	d := &Dir{path: "/h/home"}
	for path, want := range map[string]string{"/h/home/logs/a.log": "logs/a.log", "/h/home": "", "/h/homes/x": "", "/h/home/../x": "", "rel": ""} {
		got, ok := d.Rel(path)
		if got != want || ok != (want != "") {
			t.Errorf("Rel(%q) = %q, %v", path, got, ok)
		}
	}
}

// What the checks cost a state record's write: an openat and an fstat
// through the checked folder, against a plain open.
func BenchmarkOpenFile(b *testing.B) {
	home := b.TempDir()
	d, err := Open(home)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	b.Run("homedir", func(b *testing.B) {
		for b.Loop() {
			f, err := d.OpenFile("state/0.a", os.O_WRONLY|os.O_CREATE, 0o600)
			if err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
	})
	b.Run("os", func(b *testing.B) {
		path := filepath.Join(home, "state", "0.a")
		for b.Loop() {
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o600)
			if err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
	})
}
