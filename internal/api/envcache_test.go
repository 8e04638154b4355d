package api

import (
	"encoding/json"
	"reflect"
	"testing"
)

// marshalReference is pm2_env as written before the cache: every option and
// variable in one map, the typed fields over them.
func marshalReference(t *testing.T, e Env) map[string]any {
	type plain Env
	typed, err := json.Marshal(plain(e))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]any{}
	keys := envKeys()
	rv := reflect.ValueOf(e)
	for k, v := range e.Env {
		if _, typed := keys[k]; !typed {
			out[k] = v
		}
	}
	for k, v := range e.Options {
		f, typed := keys[k]
		if !typed || (f.omitEmpty && rv.Field(f.index).IsZero()) {
			out[k] = v
		}
	}
	iv := e.InstanceVar
	if iv == "" {
		iv = "NODE_APP_INSTANCE"
	}
	if _, typed := keys[iv]; !typed {
		out[iv] = float64(e.InstanceIndex)
	}
	var m map[string]any
	if err := json.Unmarshal(typed, &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func decode(t *testing.T, e Env) map[string]any {
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return m
}

// The cached encoding writes what the plain one wrote, with the cache kept
// across lists and made again when the app's maps change.
func TestEnvCacheSameJSON(t *testing.T) {
	cache := &EnvCache{}
	cases := []Env{
		{Name: "a", Status: "online", Env: map[string]string{"NODE_ENV": "prod", "name": "shadowed", "NODE_APP_INSTANCE": "9", "x<y": "&"},
			Options: map[string]any{"exit_code": 3.0, "status": "from options", "pm_log_path": "/opt/log", "merge_logs": true, "env": "ignored", "NODE_ENV": "option wins"}},
		{Name: "b", InstanceIndex: 2, InstanceVar: "INSTANCE_ID", Env: map[string]string{"INSTANCE_ID": "x", "A": "1"},
			Options: map[string]any{"instance_var": "INSTANCE_ID", "version": "1.2"}, Version: "3.4"},
		{Name: "c", InstanceVar: "pm_id", PMID: 7, Env: nil, Options: nil},
		{Name: "d", Env: map[string]string{}, Options: map[string]any{"watch": true, "max_memory_restart": "1G"}, MaxMemoryRestart: 0},
	}
	for i, e := range cases {
		want := marshalReference(t, e)
		if got := decode(t, e); !reflect.DeepEqual(got, want) {
			t.Errorf("case %d without cache:\n got %v\nwant %v", i, got, want)
		}
		e.Cache = cache // one cache, maps changing under it
		for range 2 {
			if got := decode(t, e); !reflect.DeepEqual(got, want) {
				t.Errorf("case %d with cache:\n got %v\nwant %v", i, got, want)
			}
		}
	}
}

// AppendList writes what json.Marshal writes.
func TestAppendListSameAsMarshal(t *testing.T) {
	ps := []Process{
		{PID: 1, Name: "a<b>", PMID: 0, Monit: Monit{Memory: 5, CPU: 1.5}, PM2Env: Env{Name: "a<b>", Env: map[string]string{"K": "v&"}, Options: map[string]any{"merge_logs": true}}},
		{PID: 0, Name: "c", PMID: 1, PM2Env: Env{Name: "c", Cache: &EnvCache{}}},
	}
	for _, list := range [][]Process{nil, ps[:1], ps} {
		want, err := json.Marshal(list)
		if err != nil {
			t.Fatal(err)
		}
		if list == nil {
			want = []byte("[]")
		}
		got, err := AppendList(nil, list)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("AppendList:\n got %s\nwant %s", got, want)
		}
	}
}

// The typed fields' JSON is encoded again only when one of them changed:
// a list of unchanged apps reuses it, and every change shows at once.
func TestEnvCacheTypedReusedUntilAChange(t *testing.T) {
	code := 1
	e := Env{Name: "a", Status: "online", RestartTime: 1, ExitCode: &code, Args: []string{"x"},
		AxmMonitor: map[string]any{"rps": map[string]any{"value": 1.0}}, Watch: &Watch{On: true, Paths: []string{"src"}},
		Options: map[string]any{"o": 1.0}, Cache: &EnvCache{}}
	first, err := e.Cache.typed(e)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := e.Cache.typed(e)
	if &again[0] != &first[0] {
		t.Error("the typed fields of an unchanged Env were encoded again")
	}
	code2 := 2
	changes := map[string]func(e *Env){
		"status":      func(e *Env) { e.Status = "stopped" },
		"restarts":    func(e *Env) { e.RestartTime = 2 },
		"exit code":   func(e *Env) { e.ExitCode = &code2 },
		"args":        func(e *Env) { e.Args = []string{"y"} },
		"axm metric":  func(e *Env) { e.AxmMonitor = map[string]any{"rps": map[string]any{"value": 2.0}} },
		"watch paths": func(e *Env) { e.Watch = &Watch{On: true, Paths: []string{"lib"}} },
	}
	for name, change := range changes {
		c := e
		change(&c)
		if got, want := decode(t, c), marshalReference(t, c); !reflect.DeepEqual(got, want) {
			t.Errorf("after a change of %s the cached JSON is stale:\n got %v\nwant %v", name, got, want)
		}
		decode(t, e) // back to the first Env
	}
}
