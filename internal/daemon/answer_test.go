package daemon

import (
	"encoding/json"
	"net/http/httptest"
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
		writeProcesses(got, ps)
		if got.Body.String() != want.Body.String() {
			t.Errorf("writeProcesses:\n got %s\nwant %s", got.Body, want.Body)
		}
		var back api.ActionResponse
		if err := json.Unmarshal(got.Body.Bytes(), &back); err != nil {
			t.Errorf("%v: %s", err, got.Body)
		}
	}
}
