// Package tui is `tend monit`: a full-screen dashboard of every app with its
// status, restarts, CPU and memory (with a short history), the live log of
// the selected app, and keys to act on it. It talks to the daemon only
// through the API client.
package tui

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/tend-dev/tend/internal/api"
	"github.com/tend-dev/tend/internal/client"
	"github.com/tend-dev/tend/internal/display"
	"github.com/tend-dev/tend/internal/logs"
)

// Options configure Run.
type Options struct {
	// Refresh is how often the process list is fetched; 0 means 1 s.
	Refresh time.Duration
	// Filter is the initial filter.
	Filter string
}

// Run shows the dashboard until the user quits.
func Run(ctx context.Context, c *client.Client, opts Options) error {
	if opts.Refresh <= 0 {
		opts.Refresh = time.Second
	}
	m := newModel(ctx, c, opts)
	defer m.stopLogs()
	_, err := tea.NewProgram(m, tea.WithContext(ctx)).Run()
	if err == tea.ErrProgramKilled && ctx.Err() != nil {
		return nil
	}
	return err
}

const (
	histLen     = 30  // samples of CPU and memory kept per app
	logKeep     = 500 // log lines kept for the selected app
	tailOnShow  = 100 // lines read from the files when an app is selected
	sparkWidth  = 12
	maxLogBatch = 2000
)

type history struct {
	cpu []float64
	mem []float64
}

func (h *history) add(cpu float64, mem int64) {
	h.cpu = append(h.cpu, cpu)
	h.mem = append(h.mem, float64(mem))
	if len(h.cpu) > histLen {
		h.cpu = h.cpu[len(h.cpu)-histLen:]
		h.mem = h.mem[len(h.mem)-histLen:]
	}
}

type logLine struct {
	err  bool
	text string
}

type model struct {
	ctx  context.Context
	c    *client.Client
	opts Options

	procs []api.Process
	view  []int // indexes into procs that pass the filter
	hist  map[int]*history
	selID int // pm_id of the selected app, -1 for none
	top   int // first row shown

	filter    string
	filtering bool
	confirm   string // "delete" while waiting for y/n
	message   string
	err       error

	logID   int
	logs    []logLine
	feed    *logFeed
	loading bool

	width, height int
	listed        bool
	daemonGone    bool
}

func newModel(ctx context.Context, c *client.Client, opts Options) *model {
	return &model{ctx: ctx, c: c, opts: opts, hist: map[int]*history{}, selID: -1, logID: -1, filter: opts.Filter,
		width: 100, height: 30}
}

// Messages.
type (
	tickMsg struct{}
	listMsg struct {
		ps  []api.Process
		err error
	}
	actionMsg struct {
		verb string
		name string
		err  error
	}
	tailMsg struct {
		id    int
		lines []logLine
	}
	feedMsg struct {
		feed   *logFeed
		events []api.Event
		missed int64
		err    error
	}
)

func (m *model) Init() tea.Cmd { return m.fetch() }

func (m *model) fetch() tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(m.ctx, 10*time.Second)
		defer cancel()
		ps, err := m.c.ListBrief(ctx)
		return listMsg{ps, err}
	}
}

func (m *model) tick() tea.Cmd {
	return tea.Tick(m.opts.Refresh, func(time.Time) tea.Msg { return tickMsg{} })
}

func (m *model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.scroll()
		return m, nil
	case tickMsg:
		return m, m.fetch()
	case listMsg:
		if msg.err != nil {
			m.err = msg.err
			m.daemonGone = true
			return m, m.tick()
		}
		m.err, m.daemonGone = nil, false
		first := !m.listed
		m.listed = true
		m.setProcs(msg.ps)
		cmds := []tea.Cmd{m.tick()}
		if first || m.logID != m.selID || m.feed == nil {
			cmds = append(cmds, m.follow())
		}
		return m, tea.Batch(cmds...)
	case tea.KeyPressMsg:
		return m.key(msg)
	case actionMsg:
		if msg.err != nil {
			m.message = fmt.Sprintf("%s %s: %v", msg.verb, msg.name, msg.err)
		} else {
			m.message = fmt.Sprintf("%s %s ✓", msg.verb, msg.name)
		}
		return m, m.fetch()
	case tailMsg:
		if msg.id == m.logID {
			m.logs = append(msg.lines, m.logs...)
			m.trimLogs()
			m.loading = false
		}
		return m, nil
	case feedMsg:
		if msg.feed != m.feed {
			return m, nil // a feed of an app no longer selected
		}
		for _, ev := range msg.events {
			switch ev.Type {
			case api.EventLog:
				if ev.PMID == m.logID {
					m.logs = append(m.logs, logLine{err: ev.Stream == "err", text: ev.Data})
				}
			case api.EventProcess:
				m.applyEvent(ev)
			}
		}
		if msg.missed > 0 {
			m.logs = append(m.logs, logLine{err: true, text: fmt.Sprintf("[tend] %d lines not shown (the app writes faster than the screen shows)", msg.missed)})
		}
		m.trimLogs()
		if msg.err != nil {
			m.feed = nil // the stream ended; the next good refresh reopens it
			return m, nil
		}
		return m, m.feed.next()
	}
	return m, nil
}

func (m *model) applyEvent(ev api.Event) {
	for i := range m.procs {
		if m.procs[i].PMID == ev.PMID {
			m.procs[i].PM2Env.Status = ev.Status
			return
		}
	}
}

func (m *model) trimLogs() {
	if len(m.logs) > logKeep {
		m.logs = append([]logLine(nil), m.logs[len(m.logs)-logKeep:]...)
	}
}

func (m *model) setProcs(ps []api.Process) {
	sort.Slice(ps, func(i, j int) bool { return ps[i].PMID < ps[j].PMID })
	m.procs = ps
	seen := make(map[int]bool, len(ps))
	for _, p := range ps {
		seen[p.PMID] = true
		h := m.hist[p.PMID]
		if h == nil {
			h = &history{}
			m.hist[p.PMID] = h
		}
		h.add(p.Monit.CPU, p.Monit.Memory)
	}
	for id := range m.hist {
		if !seen[id] {
			delete(m.hist, id)
		}
	}
	m.applyFilter()
}

// applyFilter recomputes the visible rows and keeps the selection on the
// same app when it is still visible.
func (m *model) applyFilter() {
	m.view = m.view[:0]
	f := strings.ToLower(m.filter)
	for i, p := range m.procs {
		if f == "" || strings.Contains(strings.ToLower(p.Name), f) || strings.Contains(strings.ToLower(p.PM2Env.Namespace), f) ||
			strings.Contains(p.PM2Env.Status, f) || strconv.Itoa(p.PMID) == f {
			m.view = append(m.view, i)
		}
	}
	if m.selIndex() < 0 {
		m.selID = -1
		if len(m.view) > 0 {
			m.selID = m.procs[m.view[0]].PMID
		}
	}
	m.scroll()
}

func (m *model) selIndex() int {
	for i, pi := range m.view {
		if m.procs[pi].PMID == m.selID {
			return i
		}
	}
	return -1
}

func (m *model) selected() (api.Process, bool) {
	if i := m.selIndex(); i >= 0 {
		return m.procs[m.view[i]], true
	}
	return api.Process{}, false
}

func (m *model) move(delta int) tea.Cmd {
	if len(m.view) == 0 {
		return nil
	}
	i := m.selIndex() + delta
	i = max(0, min(i, len(m.view)-1))
	m.selID = m.procs[m.view[i]].PMID
	m.scroll()
	if m.selID != m.logID {
		return m.follow()
	}
	return nil
}

func (m *model) tableRows() int {
	// Header (1) + column titles (1) + rows + log title (1) + logs + footer (1).
	avail := m.height - 4
	rows := max(3, avail*11/20)
	return min(rows, max(1, len(m.view)))
}

func (m *model) scroll() {
	rows := m.tableRows()
	i := m.selIndex()
	if i < 0 {
		m.top = 0
		return
	}
	if i < m.top {
		m.top = i
	}
	if i >= m.top+rows {
		m.top = i - rows + 1
	}
	m.top = max(0, min(m.top, max(0, len(m.view)-rows)))
}

func (m *model) key(k tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	if rs := []rune(k.Text); len(rs) > 1 && !m.filtering {
		// Keys typed faster than they are read arrive together: one at a time.
		var cmds []tea.Cmd
		for i, r := range rs {
			if m.filtering { // "/" switched to the filter: the rest is its text
				m.filter += string(rs[i:])
				m.applyFilter()
				break
			}
			_, c := m.key(tea.KeyPressMsg{Code: r, Text: string(r), Mod: k.Mod})
			cmds = append(cmds, c)
		}
		if m.selID != m.logID {
			cmds = append(cmds, m.follow())
		}
		return m, tea.Batch(cmds...)
	}
	if m.filtering {
		switch {
		case k.String() == "ctrl+c":
			return m, tea.Quit
		case k.Code == tea.KeyEnter:
			m.filtering = false
		case k.Code == tea.KeyEscape:
			m.filtering, m.filter = false, ""
		case k.Code == tea.KeyBackspace:
			if r := []rune(m.filter); len(r) > 0 {
				m.filter = string(r[:len(r)-1])
			}
		case k.Text != "":
			m.filter += k.Text
		}
		m.applyFilter()
		if m.selID != m.logID {
			return m, m.follow()
		}
		return m, nil
	}
	if m.confirm != "" {
		p, ok := m.selected()
		m.confirm = ""
		if ok && (k.String() == "y" || k.String() == "Y") {
			return m, m.act(api.ActionDelete, "delete", p)
		}
		m.message = "delete cancelled"
		return m, nil
	}
	switch k.String() {
	case "q", "ctrl+c":
		return m, tea.Quit
	case "esc":
		if m.filter != "" {
			m.filter = ""
			m.applyFilter()
		}
		return m, nil
	case "up", "k":
		return m, m.move(-1)
	case "down", "j":
		return m, m.move(1)
	case "pgup":
		return m, m.move(-m.tableRows())
	case "pgdown", "space", " ":
		return m, m.move(m.tableRows())
	case "home", "g":
		return m, m.move(-len(m.view))
	case "end", "G":
		return m, m.move(len(m.view))
	case "/":
		m.filtering = true
		return m, nil
	}
	p, ok := m.selected()
	if !ok {
		return m, nil
	}
	switch k.String() {
	case "r":
		return m, m.act(api.ActionRestart, "restart", p)
	case "R":
		return m, m.act(api.ActionReload, "reload", p)
	case "s":
		return m, m.act(api.ActionStop, "stop", p)
	case "d", "delete":
		m.confirm = "delete"
		return m, nil
	case "c":
		m.logs = nil
	}
	return m, nil
}

func (m *model) act(a api.Action, verb string, p api.Process) tea.Cmd {
	m.message = fmt.Sprintf("%s %s…", verb, p.Name)
	id := strconv.Itoa(p.PMID)
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(m.ctx, time.Minute)
		defer cancel()
		_, err := m.c.Act(ctx, api.ActionRequest{Action: a, Target: api.Target{Names: []string{id}}})
		return actionMsg{verb: verb, name: p.Name, err: err}
	}
}

// follow switches the live log to the selected app: its last lines from
// the files, then its lines as they come.
func (m *model) follow() tea.Cmd {
	m.stopLogs()
	m.logID, m.logs = m.selID, nil
	p, ok := m.selected()
	m.feed = newLogFeed(m.ctx, m.c, m.selID)
	cmds := []tea.Cmd{m.feed.next()}
	if ok {
		m.loading = true
		paths := []string{p.PM2Env.PMOutLogPath, p.PM2Env.PMErrLogPath}
		id := p.PMID
		cmds = append(cmds, func() tea.Msg {
			var lines []logLine
			for i, path := range paths {
				if path == "" || path == "/dev/null" || (i == 1 && path == paths[0]) {
					continue
				}
				for _, l := range logs.Tail(path, tailOnShow) {
					lines = append(lines, logLine{err: i == 1, text: l})
				}
			}
			return tailMsg{id: id, lines: lines}
		})
	}
	return tea.Batch(cmds...)
}

func (m *model) stopLogs() {
	if m.feed != nil {
		m.feed.stop()
		m.feed = nil
	}
}

// logFeed follows the daemon's events for one app. A goroutine reads the
// stream into a bounded buffer; the UI takes what has accumulated at most
// every 50 ms, so a chatty app costs the dashboard one redraw per batch.
type logFeed struct {
	cancel context.CancelFunc
	mu     sync.Mutex
	buf    []api.Event
	missed int64
	err    error
	wake   chan struct{}
}

func newLogFeed(parent context.Context, c *client.Client, id int) *logFeed {
	ctx, cancel := context.WithCancel(parent)
	f := &logFeed{cancel: cancel, wake: make(chan struct{}, 1)}
	go func() {
		ev, err := c.EventsOf(ctx, []int{id})
		if err != nil {
			f.push(api.Event{}, err)
			return
		}
		defer ev.Close()
		go func() { <-ctx.Done(); ev.Close() }()
		for {
			e, err := ev.Next()
			if err != nil {
				f.push(api.Event{}, err)
				return
			}
			f.push(e, nil)
		}
	}()
	return f
}

func (f *logFeed) push(e api.Event, err error) {
	f.mu.Lock()
	if err != nil {
		f.err = err
	} else {
		f.missed += e.Missed
		if e.Type != api.EventMissed {
			if len(f.buf) >= maxLogBatch && e.Type == api.EventLog {
				f.missed++
			} else {
				f.buf = append(f.buf, e)
			}
		}
	}
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *logFeed) stop() { f.cancel() }

// next waits for events and returns them as one message.
func (f *logFeed) next() tea.Cmd {
	return func() tea.Msg {
		<-f.wake
		time.Sleep(50 * time.Millisecond) // let a burst accumulate: one redraw per batch
		f.mu.Lock()
		msg := feedMsg{feed: f, events: f.buf, missed: f.missed, err: f.err}
		f.buf, f.missed = nil, 0
		f.mu.Unlock()
		return msg
	}
}

// View draws the screen.
func (m *model) View() tea.View {
	v := tea.NewView(m.screen())
	v.AltScreen = true
	return v
}

// screen draws the whole dashboard.
func (m *model) screen() string {
	w := max(m.width, 40)
	var b strings.Builder
	online, errored, stopped := 0, 0, 0
	var cpu float64
	var mem int64
	for _, p := range m.procs {
		switch p.PM2Env.Status {
		case api.StatusOnline:
			online++
		case api.StatusErrored:
			errored++
		case api.StatusStopped:
			stopped++
		}
		cpu += p.Monit.CPU
		mem += p.Monit.Memory
	}
	head := fmt.Sprintf(" tend monit  %d apps: %d online, %d errored, %d stopped  cpu %.1f%%  mem %s", len(m.procs), online, errored, stopped, cpu, fmtBytes(mem))
	if m.filter != "" || m.filtering {
		head += fmt.Sprintf("  filter: %s (%d shown)", m.filter, len(m.view))
	}
	if m.daemonGone {
		head = " tend monit  the daemon does not answer: " + errString(m.err)
	}
	b.WriteString(sTitle.Render(pad(head, w)))
	b.WriteByte('\n')

	cols := fmt.Sprintf(" %-4s %-22s %-15s %4s %7s %-*s %9s %-*s", "id", "name", "status", "↺", "cpu", sparkWidth, "", "mem", sparkWidth, "")
	b.WriteString(sHead.Render(pad(cols, w)))
	b.WriteByte('\n')
	rows := m.tableRows()
	sel := m.selIndex()
	for r := 0; r < rows; r++ {
		i := m.top + r
		if i >= len(m.view) {
			b.WriteString(strings.Repeat(" ", w))
			b.WriteByte('\n')
			continue
		}
		p := m.procs[m.view[i]]
		h := m.hist[p.PMID]
		status := p.PM2Env.Status
		line := fmt.Sprintf(" %-4d %-22s %-15s %4d %6.1f%% %s %9s %s", p.PMID, clip(p.Name, 22), statusStyle(status).Render(fmt.Sprintf("%-15s", status)),
			p.PM2Env.RestartTime, p.Monit.CPU, spark(h.cpuOr(), 100), fmtBytes(p.Monit.Memory), spark(h.memOr(), 0))
		if i == sel {
			b.WriteString(sSel.Render(pad(ansi.Strip(line), w)))
		} else {
			b.WriteString(pad(line, w))
		}
		b.WriteByte('\n')
	}

	logRows := max(1, m.height-rows-4)
	title := " logs"
	if p, ok := m.selected(); ok {
		title = fmt.Sprintf(" logs of %d|%s (%s)", p.PMID, p.Name, p.PM2Env.PMOutLogPath)
	}
	if m.loading {
		title += " …"
	}
	b.WriteString(sHead.Render(pad(title, w)))
	b.WriteByte('\n')
	start := max(0, len(m.logs)-logRows)
	for r := 0; r < logRows; r++ {
		i := start + r
		if i >= len(m.logs) {
			b.WriteByte('\n')
			continue
		}
		l := m.logs[i]
		text := clip(sanitize(l.text), w-1)
		if l.err {
			text = sErr.Render(text)
		}
		b.WriteString(" " + text)
		b.WriteByte('\n')
	}

	foot := " ↑↓ select  r restart  R reload  s stop  d delete  / filter  c clear log  q quit"
	switch {
	case m.filtering:
		foot = " filter: " + m.filter + "█   (enter: keep, esc: clear)"
	case m.confirm != "":
		p, _ := m.selected()
		foot = fmt.Sprintf(" delete %d|%s? y/n", p.PMID, p.Name)
	case m.message != "":
		foot = " " + m.message + "   |" + foot
	}
	b.WriteString(sFoot.Render(pad(clip(foot, w), w)))
	return b.String()
}

func (h *history) cpuOr() []float64 {
	if h == nil {
		return nil
	}
	return h.cpu
}

func (h *history) memOr() []float64 {
	if h == nil {
		return nil
	}
	return h.mem
}

var sparks = []rune("▁▂▃▄▅▆▇█")

// spark draws the last sparkWidth values; top is the value of a full bar
// (0: the largest value shown).
func spark(vals []float64, top float64) string {
	if len(vals) > sparkWidth {
		vals = vals[len(vals)-sparkWidth:]
	}
	if top == 0 {
		for _, v := range vals {
			top = max(top, v)
		}
	}
	var b strings.Builder
	for i := len(vals); i < sparkWidth; i++ {
		b.WriteByte(' ')
	}
	for _, v := range vals {
		i := 0
		if top > 0 {
			i = int(v / top * float64(len(sparks)-1))
		}
		b.WriteRune(sparks[max(0, min(i, len(sparks)-1))])
	}
	return b.String()
}

var (
	sTitle = lipgloss.NewStyle().Bold(true).Reverse(true)
	sHead  = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("6"))
	sSel   = lipgloss.NewStyle().Reverse(true)
	sFoot  = lipgloss.NewStyle().Faint(true)
	sErr   = lipgloss.NewStyle().Foreground(lipgloss.Color("1"))
	sOK    = lipgloss.NewStyle().Foreground(lipgloss.Color("2")).Bold(true)
	sBad   = lipgloss.NewStyle().Foreground(lipgloss.Color("1")).Bold(true)
	sWarn  = lipgloss.NewStyle().Foreground(lipgloss.Color("3"))
)

func statusStyle(s string) lipgloss.Style {
	switch s {
	case api.StatusOnline:
		return sOK
	case api.StatusErrored, api.StatusStopped:
		return sBad
	}
	return sWarn
}

// pad makes s exactly w cells wide.
func pad(s string, w int) string {
	s = ansi.Truncate(s, w, "")
	if n := ansi.StringWidth(s); n < w {
		s += strings.Repeat(" ", w-n)
	}
	return s
}

func clip(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if ansi.StringWidth(s) <= w {
		return s
	}
	return ansi.Truncate(s, w, "…")
}

// sanitize removes what would break the screen: escape sequences and
// control characters in an app's output.
func sanitize(s string) string {
	s = ansi.Strip(s)
	return strings.Map(func(r rune) rune {
		if r == '\t' {
			return ' '
		}
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func fmtBytes(b int64) string { return display.Bytes(b) }
