package supervisor

import (
	"errors"
	"testing"

	"github.com/tend-dev/tend/internal/api"
	"github.com/tend-dev/tend/internal/logs"
	"github.com/tend-dev/tend/internal/spec"
)

func TestAppRotation(t *testing.T) {
	global := logs.Rotation{MaxSize: 1 << 20, Retain: 30}
	yes, five := true, 5
	r, err := AppRotation(spec.App{Name: "a", LogMaxSize: 2 << 20, LogRetain: &five, LogCompress: &yes}, global)
	if err != nil || r != (logs.Rotation{MaxSize: 2 << 20, Retain: 5, Compress: true}) {
		t.Fatalf("%+v %v", r, err)
	}
	if r, _ := AppRotation(spec.App{Name: "b"}, global); r != global {
		t.Fatalf("app without options: %+v", r)
	}
	var ae *api.Error
	if _, err := AppRotation(spec.App{Name: "c", LogRotateInterval: "every day"}, global); !errors.As(err, &ae) || ae.Code != api.CodeBadInput {
		t.Fatalf("bad interval: %v, want a bad input error", err)
	}
}
