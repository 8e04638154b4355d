package daemon

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tend-dev/tend/internal/api"
)

// The answer of start, action and scale is what writeJSON wrote, byte for
// byte, written with api.AppendList.
func TestWriteProcessesSameAsJSON(t *testing.T) {
	code := 1
	for _, ps := range [][]api.Process{
		nil,
		{},
		{{PID: 7, Name: "a", PMID: 0, Monit: api.Monit{Memory: 5, CPU: 1.5},
			PM2Env: api.Env{Name: "a", Status: "online", ExitCode: &code, Env: map[string]string{"K": "<v>"}, Options: map[string]any{"o": true}}},
			{Name: "b", PMID: 1, PM2Env: api.Env{Name: "b", Status: "stopped", Cache: &api.EnvCache{}}}},
	} {
		want, got := httptest.NewRecorder(), httptest.NewRecorder()
		writeJSON(want, api.ActionResponse{Processes: ps})
		writeProcesses(got, httptest.NewRequest("POST", "/v1/action", nil), ps)
		if got.Body.String() != want.Body.String() {
			t.Errorf("writeProcesses:\n got %s\nwant %s", got.Body, want.Body)
		}
		var back api.ActionResponse
		if err := json.Unmarshal(got.Body.Bytes(), &back); err != nil {
			t.Errorf("%v: %s", err, got.Body)
		}
	}
}

// With ?brief=1 (the CLI) the answer's processes carry no variables and
// no options.
func TestWriteProcessesBrief(t *testing.T) {
	ps := []api.Process{{Name: "a", PM2Env: api.Env{Name: "a", Status: "online", Env: map[string]string{"SECRET_K": "v"}, Options: map[string]any{"o_opt": true}}}}
	rec := httptest.NewRecorder()
	writeProcesses(rec, httptest.NewRequest("POST", "/v1/action?brief=1", nil), ps)
	var back api.ActionResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Processes) != 1 || back.Processes[0].PM2Env.Status != "online" || strings.Contains(rec.Body.String(), "SECRET_K") || strings.Contains(rec.Body.String(), "o_opt") {
		t.Errorf("brief answer: %s", rec.Body)
	}
}
