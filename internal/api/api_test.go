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
	b, m := marshalEnv(t, e)
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

// Each environment variable is a key of pm2_env too, below the options and
// the typed fields; the instance number is named by instance_var.
func TestEnvJSONCopiesEnvironment(t *testing.T) {
	e := Env{Name: "api", Status: "online", InstanceIndex: 2, InstanceVar: "INSTANCE_ID",
		Env:     map[string]string{"NODE_ENV": "production", "status": "from-env", "merge_logs": "from-env"},
		Options: map[string]any{"merge_logs": true}}
	b, m := marshalEnv(t, e)
	if m["NODE_ENV"] != "production" || m["status"] != "online" || m["merge_logs"] != true {
		t.Errorf("precedence env < options < state broken: %s", b)
	}
	if m["INSTANCE_ID"] != 2.0 {
		t.Errorf("INSTANCE_ID = %v, want 2: %s", m["INSTANCE_ID"], b)
	}
	if _, ok := m["NODE_APP_INSTANCE"]; ok {
		t.Errorf("NODE_APP_INSTANCE written though instance_var is INSTANCE_ID: %s", b)
	}
}

// marshalEnv encodes e and decodes it back as one JSON object.
func marshalEnv(t *testing.T, e Env) ([]byte, map[string]any) {
	t.Helper()
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, b)
	}
	return b, m
}
