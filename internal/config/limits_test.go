package config

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckName(t *testing.T) {
	for _, ok := range []string{"api", "API Server", "Server - Node.js", "tts-api_2", "日本語", strings.Repeat("x", MaxNameLen)} {
		if err := CheckName(ok); err != nil {
			t.Errorf("CheckName(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a/b", "a\x00b", "a\nb", "a\x1b]0;x\x07", "a\u009bb", "\xff", strings.Repeat("x", MaxNameLen+1)} {
		err := CheckName(bad)
		if !errors.Is(err, ErrInvalidApp) {
			t.Errorf("CheckName(%q) = %v, want an AppError", bad, err)
		}
	}
}

func TestLimitsCheck(t *testing.T) {
	a := &App{Name: "api", Instances: 300, Env: map[string]string{"A": "1"}}
	err := Limits{}.Check(a)
	if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), `app "api": instances is 300, more than the limit of 256 per app`) ||
		!strings.Contains(err.Error(), "max_instances") || !strings.Contains(err.Error(), "TEND_MAX_INSTANCES") {
		t.Errorf("300 instances: %v", err)
	}
	a.Instances = 2
	if err := (Limits{}).Check(a); err != nil {
		t.Errorf("2 instances: %v", err)
	}
	a.Env["BIG"] = strings.Repeat("x", 200<<10)
	if err := (Limits{}).Check(a); !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "variable BIG") {
		t.Errorf("a 200 KiB variable: %v", err)
	}
	a.Env["BIG"] = "x"
	for i := 0; i < 20; i++ {
		a.Env[strings.Repeat("K", i+1)] = strings.Repeat("v", 100<<10)
	}
	if err := (Limits{}).Check(a); !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "env is 2.0 MiB, more than the limit of 1 MiB") {
		t.Errorf("2 MiB of environment: %v", err)
	}
	if err := (Limits{MaxEnvSize: 4 << 20}).Check(a); err != nil {
		t.Errorf("2 MiB under a 4 MiB limit: %v", err)
	}
}

func TestJSONErrorAtEnd(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{"{\"apps\": [\n  {\"name\": \"a\"}\n", "ends before the [ opened at line 1, column 10 is closed: add the missing ]"},
		{"{\"apps\": [{\"name\": \"a\"}]", "ends before the { opened at line 1, column 1 is closed: add the missing }"},
		{"{\"a\": \"x}\n", "the string opened at line 1, column 7 is not closed"},
		{"{\"a\": 1 /* note\n", "ends inside the comment opened at line 1, column 9"},
		{"{\"a\": \"}{\\\"\", // ]\n \"b\": [1", "ends before the [ opened at line 2, column 7 is closed"},
	} {
		_, err := Load("/tmp/x.json", LoadOptions{Source: []byte(c.src), Env: map[string]string{}, Cwd: "/tmp"})
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "/tmp/x.json:") {
			t.Errorf("%q: %v, want %q", c.src, err, c.want)
		}
	}
}
