package tui

import (
	"context"
	"fmt"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/tend-dev/tend/internal/api"
	"github.com/tend-dev/tend/internal/client"
)

func fakeProcs(n int) []api.Process {
	ps := make([]api.Process, n)
	for i := range ps {
		st := api.StatusOnline
		if i%10 == 3 {
			st = api.StatusStopped
		}
		ns := "web"
		if i%2 == 1 {
			ns = "jobs"
		}
		ps[i] = api.Process{PID: 1000 + i, Name: fmt.Sprintf("app-%04d", i), PMID: i,
			Monit:  api.Monit{CPU: float64(i % 100), Memory: int64(i) << 20},
			PM2Env: api.Env{Status: st, Namespace: ns, RestartTime: i % 7, PMOutLogPath: "/dev/null", PMErrLogPath: "/dev/null"}}
	}
	return ps
}

func testModel(t testing.TB, n int) *model {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	m := newModel(ctx, client.New(t.TempDir()), Options{})
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	m.Update(listMsg{ps: fakeProcs(n)})
	t.Cleanup(m.stopLogs)
	return m
}

func keys(m *model, ks ...string) {
	for _, k := range ks {
		var msg tea.KeyPressMsg
		switch k {
		case "down":
			msg = tea.KeyPressMsg{Code: tea.KeyDown}
		case "up":
			msg = tea.KeyPressMsg{Code: tea.KeyUp}
		case "end":
			msg = tea.KeyPressMsg{Code: tea.KeyEnd}
		case "enter":
			msg = tea.KeyPressMsg{Code: tea.KeyEnter}
		case "esc":
			msg = tea.KeyPressMsg{Code: tea.KeyEscape}
		default:
			msg = tea.KeyPressMsg{Code: []rune(k)[0], Text: k}
		}
		m.Update(msg)
	}
}

func TestSelectionScrollsAndFilters(t *testing.T) {
	m := testModel(t, 1000)
	v := m.screen()
	if !strings.Contains(v, "1000 apps: 900 online") || !strings.Contains(v, "app-0000") {
		t.Fatalf("first screen:\n%s", v)
	}
	if lines := strings.Count(v, "\n") + 1; lines != 40 {
		t.Fatalf("view has %d lines, want the terminal's 40", lines)
	}
	keys(m, "end")
	if m.selID != 999 || !strings.Contains(m.screen(), "app-0999") {
		t.Fatalf("End selected %d", m.selID)
	}
	// keys typed together arrive as one message
	keys(m, "/jobs", "enter")
	if m.filter != "jobs" || len(m.view) != 500 {
		t.Fatalf("filter %q shows %d", m.filter, len(m.view))
	}
	if p, _ := m.selected(); p.PM2Env.Namespace != "jobs" {
		t.Fatalf("selection %+v is hidden by the filter", p)
	}
	keys(m, "esc")
	if m.filter != "" || len(m.view) != 1000 {
		t.Fatalf("esc left filter %q", m.filter)
	}
	// a refresh keeps the selection on the same app
	keys(m, "up", "up")
	id := m.selID
	m.Update(listMsg{ps: fakeProcs(1000)})
	if m.selID != id {
		t.Fatalf("selection moved from %d to %d", id, m.selID)
	}
}

func TestDeleteAsksFirst(t *testing.T) {
	m := testModel(t, 3)
	keys(m, "d")
	if !strings.Contains(m.screen(), "delete 0|app-0000? y/n") {
		t.Fatalf("no confirmation:\n%s", m.screen())
	}
	keys(m, "n")
	if m.confirm != "" || !strings.Contains(m.screen(), "delete cancelled") {
		t.Fatal("n did not cancel")
	}
}

func TestLogLinesAreSanitized(t *testing.T) {
	m := testModel(t, 2)
	m.Update(feedMsg{feed: m.feed, events: []api.Event{{Type: api.EventLog, PMID: 0, Data: "\x1b[2Jhello\x1b[31m red\tthere\x07"}}})
	v := m.screen()
	if strings.Contains(v, "\x1b[2J") || strings.Contains(v, "\x07") || !strings.Contains(v, "hello red there") {
		t.Fatalf("log line not sanitized: %q", v)
	}
}

// BenchmarkRefresh1000 is what one refresh costs the dashboard with 1,000
// apps: taking the new list and drawing the screen.
func BenchmarkRefresh1000(b *testing.B) {
	m := testModel(b, 1000)
	ps := fakeProcs(1000)
	b.ReportAllocs()
	for b.Loop() {
		m.Update(listMsg{ps: ps})
		_ = m.screen()
	}
}

// BenchmarkKey1000 is one key press (moving the selection) and redraw.
func BenchmarkKey1000(b *testing.B) {
	m := testModel(b, 1000)
	b.ReportAllocs()
	down := tea.KeyPressMsg{Code: tea.KeyDown}
	up := tea.KeyPressMsg{Code: tea.KeyUp}
	i := 0
	for b.Loop() {
		if i%2 == 0 {
			m.Update(down)
		} else {
			m.Update(up)
		}
		i++
		_ = m.screen()
	}
}
