package api

import (
	"encoding/json"
	"testing"
)

// pm2_env mixes the app's options with its state; the state wins.
func TestEnvJSONMergesOptions(t *testing.T) {
	e := Env{Name: "api", Status: "online", PMID: 3, Options: map[string]any{
		"status": "stale", "name": "old", "kill_retry_time": 100.0, "merge_logs": true,
	}}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, b)
	}
	if m["status"] != "online" || m["name"] != "api" || m["pm_id"] != 3.0 {
		t.Errorf("typed fields lost: %s", b)
	}
	if m["kill_retry_time"] != 100.0 || m["merge_logs"] != true {
		t.Errorf("options lost: %s", b)
	}
	// an empty omitempty field leaves the option's value
	e = Env{Name: "x", Options: map[string]any{"version": "1.2.3", "cron_restart": "0 3 * * *"}}
	b, _ = json.Marshal(e)
	m = nil
	json.Unmarshal(b, &m)
	if m["version"] != "1.2.3" || m["cron_restart"] != "0 3 * * *" {
		t.Errorf("options hidden by empty fields: %s", b)
	}
	if n := len(b); n == 0 || b[0] != '{' || b[n-1] != '}' {
		t.Errorf("shape: %s", b)
	}
}
