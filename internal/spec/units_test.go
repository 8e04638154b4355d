package spec

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// setDurations sets every time.Duration field of the struct v points to.
func setDurations(v reflect.Value, d time.Duration) (names []string) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		if t.Field(i).Type == reflect.TypeOf(time.Duration(0)) {
			v.Field(i).SetInt(int64(d))
			names = append(names, strings.Split(t.Field(i).Tag.Get("json"), ",")[0])
		}
	}
	return names
}

// TestDurationsInMillis: every duration of App and Probe is milliseconds in
// JSON, so a field added later without a millisecond twin in units.go
// fails here, and the JSON reads back to the same value.
func TestDurationsInMillis(t *testing.T) {
	a := App{Name: "api", Readiness: &Probe{TCP: "127.0.0.1:1"}}
	appNames := setDurations(reflect.ValueOf(&a).Elem(), 1500*time.Millisecond)
	probeNames := setDurations(reflect.ValueOf(a.Readiness).Elem(), 2500*time.Millisecond)
	if len(appNames) < 7 || len(probeNames) < 3 {
		t.Fatalf("durations found: %v %v", appNames, probeNames)
	}
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	for _, n := range appNames {
		if m[n] != 1500.0 {
			t.Errorf("%s = %v in JSON, want 1500 (ms)", n, m[n])
		}
	}
	for _, n := range probeNames {
		if v := m["readiness"].(map[string]any)[n]; v != 2500.0 {
			t.Errorf("readiness.%s = %v in JSON, want 2500 (ms)", n, v)
		}
	}
	var back App
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, a) {
		t.Errorf("round trip:\n got %+v\nwant %+v", back, a)
	}
}

// TestDurationsFromOldJSON: JSON from before "duration_unit" (a state
// record or dump.json of an older daemon) holds nanoseconds.
func TestDurationsFromOldJSON(t *testing.T) {
	old := `{"name":"api","kill_timeout":1600000000,"min_uptime":1000000000,"readiness":{"tcp":"x:1","interval":1000000000}}`
	var a App
	if err := json.Unmarshal([]byte(old), &a); err != nil {
		t.Fatal(err)
	}
	if a.KillTimeout != 1600*time.Millisecond || a.MinUptime != time.Second || a.Readiness.Interval != time.Second {
		t.Errorf("old JSON read as %v %v %v", a.KillTimeout, a.MinUptime, a.Readiness.Interval)
	}
	if ToMillis(time.Microsecond) != 1 || ToMillis(0) != 0 || ToMillis(2*time.Millisecond) != 2 {
		t.Error("ToMillis rounds wrong")
	}
}
