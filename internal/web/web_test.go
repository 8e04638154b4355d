package web

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tend-dev/tend/internal/api"
)

// stubAPI answers the two requests the sampler and the stream make, the
// way the daemon does: a list, and an event stream that lasts as long as
// its request.
func stubAPI(lists *int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case api.Prefix + "/processes":
			*lists++
			fmt.Fprint(w, `[{"pid":42,"name":"a","pm_id":0,"monit":{"memory":1000,"cpu":1.5},"pm2_env":{"status":"online"}}]`)
		case api.Prefix + "/events":
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		default:
			http.NotFound(w, r)
		}
	})
}

// The sampler runs only while a page follows the stream: the last page that
// leaves stops it, so a dashboard nobody watches costs no CPU.
func TestSamplerOnlyWhileWatched(t *testing.T) {
	var lists int
	s, err := New(Options{API: stubAPI(&lists), Addr: "127.0.0.1:1", SampleInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	defer s.Close()
	if s.Sampling() {
		t.Fatal("sampling before anyone watches")
	}
	open := func() (*http.Response, *bufio.Scanner) {
		req, _ := http.NewRequest("GET", srv.URL+"/api/events", nil)
		req.Host = "127.0.0.1:1"
		req.Header.Set("Authorization", "Bearer "+s.Token())
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("events: %v %v", resp.Status, err)
		}
		return resp, bufio.NewScanner(resp.Body)
	}
	r1, sc1 := open()
	r2, _ := open()
	stats := 0
	for stats < 3 && sc1.Scan() {
		if strings.Contains(sc1.Text(), `"type":"stats"`) {
			stats++
		}
	}
	if stats < 3 {
		t.Fatalf("stream ended after %d stats events", stats)
	}
	r1.Body.Close()
	if !s.Sampling() {
		t.Fatal("the sampler stopped while a page still watches")
	}
	r2.Body.Close()
	deadline := time.Now().Add(10 * time.Second)
	for s.Sampling() {
		if time.Now().After(deadline) {
			t.Fatal("the sampler still runs 10s after the last page left")
		}
		time.Sleep(5 * time.Millisecond)
	}
	done := make(chan struct{})
	go func() { s.sampling.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the sampler goroutine did not end")
	}
	h := s.hist.all()["0"]
	if len(h) < 3 || h[len(h)-1].CPU != 1.5 || h[len(h)-1].Memory != 1000 {
		t.Fatalf("history %v", h)
	}
}

func TestHistoryRing(t *testing.T) {
	h := history{max: 4}
	for i := 0; i < 6; i++ {
		h.add([]api.Process{{PMID: 1, Monit: api.Monit{CPU: float64(i)}}, {PMID: 2}}, int64(i))
	}
	got := h.all()["1"]
	if len(got) != 4 || got[0].Time != 2 || got[3].Time != 5 {
		t.Fatalf("ring keeps %v, want the last 4 in order", got)
	}
	h.add([]api.Process{{PMID: 1}}, 7)
	if _, ok := h.all()["2"]; ok {
		t.Fatal("a deleted process keeps its samples")
	}
}

func TestHostAllowed(t *testing.T) {
	s, err := New(Options{API: stubAPI(new(int)), Addr: "127.0.0.1:9615"})
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]bool{
		"127.0.0.1:9615": true, "localhost:9615": true, "LOCALHOST:9615": true, "[::1]:9615": true,
		"127.0.0.1:9616": false, "evil.example:9615": false, "localhost": false, "127.0.0.1": false, "": false,
	} {
		if got := s.hostAllowed(host); got != want {
			t.Errorf("Host %q allowed=%v, want %v", host, got, want)
		}
	}
	if _, err := New(Options{API: stubAPI(new(int)), Addr: "127.0.0.1:0"}); err == nil {
		t.Error("port 0 accepted: the Host check needs the real port")
	}
}
