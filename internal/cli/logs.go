package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/tend-dev/tend/internal/api"
	"github.com/tend-dev/tend/internal/client"
	"github.com/tend-dev/tend/internal/display"
	"github.com/tend-dev/tend/internal/lazyre"
	"github.com/tend-dev/tend/internal/logs"
)

// PM2's defaults for `logs --timestamp` and `logs --format`.
const (
	defaultLogTimestamp = "YYYY-MM-DD-HH:mm:ss"
	formatTimestamp     = "YYYY-MM-DD-HH:mm:ssZZ"
	// noValue is what --highlight holds when given without text; PM2's
	// parser gives it true then, and highlights nothing.
	noValue = "true"
)

type logsFlags struct {
	lines                                 int
	err, out, raw, nostream, json, format bool
	timestamp, highlight                  string
}

func (a *app) logsCmd() *cobra.Command {
	var f logsFlags
	cmd := &cobra.Command{
		Use:   "logs [name|id|namespace|all]",
		Short: "Print the last lines of apps' logs, then follow them",
		Long: `Print the last lines of each selected app's log files, then follow them live
until Ctrl-C. The target is a name, an id, a namespace, all (the default) or a
comma-separated list of those.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			args = optionalValues(cmd, args, &f)
			if len(args) > 1 {
				return fmt.Errorf("logs takes one target (name, id, namespace, all or a list a,b), not %q", args)
			}
			return a.logs(args, &f)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&f.lines, "lines", 15, "how many past lines to print per file")
	fl.BoolVar(&f.err, "err", false, "only the error log")
	fl.BoolVar(&f.out, "out", false, "only the output log")
	fl.BoolVar(&f.raw, "raw", false, "lines as the app wrote them, without the id|name prefix (errors on stderr)")
	fl.BoolVar(&f.nostream, "nostream", false, "print the past lines and exit")
	fl.BoolVar(&f.json, "json", false, "one JSON object per line (log lines and process events)")
	fl.BoolVar(&f.format, "format", false, "key=value lines: timestamp= app= id= type= message=")
	fl.StringVar(&f.timestamp, "timestamp", "", "prefix live lines with the time they were written (default format "+defaultLogTimestamp+")")
	fl.Lookup("timestamp").NoOptDefVal = defaultLogTimestamp
	fl.StringVar(&f.highlight, "highlight", "", "highlight this text in the lines (--highlight TEXT or --highlight=TEXT)")
	fl.Lookup("highlight").NoOptDefVal = noValue
	return cmd
}

var formatLike = lazyre.New(`^[YMDdHhmsSAaZXxo\-:/ .,_T\[\]]+$`)

// optionalValues gives --timestamp and --highlight their value when it was
// written as a separate word (`--highlight ERROR api`), as PM2's parser does:
// pflag takes optional values only as --flag=value. --highlight takes the
// next word, like PM2; --timestamp takes it only when it looks like a date
// format, so `tend logs --timestamp api` still follows api.
func optionalValues(cmd *cobra.Command, args []string, f *logsFlags) []string {
	raw := os.Args[1:]
	take := func(i int) {
		word := raw[i+1]
		for j, a := range args {
			if a == word {
				args = append(args[:j:j], args[j+1:]...)
				return
			}
		}
	}
	for i := 0; i+1 < len(raw); i++ {
		next := raw[i+1]
		if strings.HasPrefix(next, "-") {
			continue
		}
		switch raw[i] {
		case "--highlight":
			if f.highlight == noValue {
				f.highlight = next
				take(i)
			}
		case "--timestamp":
			if f.timestamp == defaultLogTimestamp && formatLike().MatchString(next) && strings.ContainsAny(next, "YMDHhms") {
				f.timestamp = next
				take(i)
			}
		}
	}
	if f.highlight == noValue {
		f.highlight = ""
	}
	return args
}

// logTarget selects processes: names, ids, namespaces, or all.
type logTarget struct {
	all   bool
	words []string
	ids   map[int]bool
	names map[string]bool
}

func parseLogTarget(args []string) *logTarget {
	t := &logTarget{ids: map[int]bool{}, names: map[string]bool{}}
	if len(args) == 0 {
		t.all = true
		return t
	}
	for _, w := range strings.Split(args[0], ",") {
		w = strings.TrimSpace(w)
		switch {
		case w == "":
		case w == "all":
			t.all = true
		default:
			t.words = append(t.words, w)
			if n, err := strconv.Atoi(w); err == nil {
				t.ids[n] = true
			} else {
				t.names[w] = true // a name or a namespace
			}
		}
	}
	if len(t.words) == 0 {
		t.all = true
	}
	return t
}

func (t *logTarget) match(p api.Process) bool {
	if t.all || t.ids[p.PMID] || t.names[p.Name] || t.names[p.PM2Env.Namespace] {
		return true
	}
	for w := range t.names {
		if re, ok, err := api.TargetRegexp(w); ok && err == nil && re.MatchString(p.Name) {
			return true // PM2's /regexp/ target
		}
	}
	return false
}

// regexpFound tells whether w is a /regexp/ target that some of sel matched.
func regexpFound(w string, sel []api.Process) bool {
	re, ok, err := api.TargetRegexp(w)
	if !ok || err != nil {
		return false
	}
	for _, p := range sel {
		if re.MatchString(p.Name) {
			return true
		}
	}
	return false
}

// logPrinter writes log lines and events in the format the flags ask for.
type logPrinter struct {
	f      *logsFlags
	out    *bufio.Writer
	errw   *bufio.Writer
	color  bool
	safe   bool // stdout is a terminal: neutralize the app's escapes
	width  int
	stamp  *logs.Stamper
	fstamp *logs.Stamper
	now    func() time.Time
}

var appPalette = []string{"\x1b[36m", "\x1b[32m", "\x1b[35m", "\x1b[33m", "\x1b[34m", "\x1b[96m", "\x1b[92m", "\x1b[95m", "\x1b[93m", "\x1b[94m"}

// logColors reports whether to colour the output of logs: FORCE_COLOR wins,
// then NO_COLOR, TERM=dumb and whether w is a terminal.
func logColors(w io.Writer) bool {
	if v := os.Getenv("FORCE_COLOR"); v != "" && v != "0" && v != "false" {
		return true
	}
	return colors(w)
}

func (lp *logPrinter) prefixOf(ev api.Event) string {
	return strconv.Itoa(ev.PMID) + "|" + ev.Name
}

func (lp *logPrinter) flush() {
	lp.out.Flush()
	lp.errw.Flush()
}

// clean makes an app's line harmless for a terminal (display.Neutralize)
// when stdout is one; --raw and --json never come here (--raw is byte-exact,
// JSON escapes control characters).
func (lp *logPrinter) clean(s string) string {
	if !lp.safe || !display.NeedsNeutralizing(s) {
		return s
	}
	return string(display.Neutralize(nil, s, lp.color))
}

func (lp *logPrinter) highlight(s string) string {
	if lp.f.highlight == "" || !lp.color {
		return s
	}
	return strings.ReplaceAll(s, lp.f.highlight, "\x1b[100m"+lp.f.highlight+"\x1b[49m")
}

// jsonTime renders an event time as PM2's JSON output does (ISO 8601, UTC).
func jsonTime(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z")
}

// line prints one log line. Lines read from the files (history) have no
// time: they get no timestamp.
func (lp *logPrinter) line(ev api.Event) {
	f := lp.f
	typ := "out"
	if ev.Stream == "err" {
		typ = "err"
	}
	switch {
	case f.json:
		m := map[string]any{"message": ev.Data, "type": typ, "process_id": ev.PMID, "app_name": ev.Name}
		if ev.Time != 0 {
			m["timestamp"] = jsonTime(ev.Time)
		}
		b, _ := json.Marshal(m)
		lp.out.Write(b)
		lp.out.WriteByte('\n')
	case f.format:
		var b []byte
		if ev.Time != 0 {
			b = append(b, "timestamp="...)
			b = lp.fstamp.Append(b, time.UnixMilli(ev.Time))
			b = append(b, ' ')
		}
		if typ == "err" {
			typ = "error"
		}
		b = fmt.Appendf(b, "app=%s id=%d type=%s message=%s\n", ev.Name, ev.PMID, typ, lp.highlight(lp.clean(ev.Data)))
		lp.out.Write(b)
	case f.raw:
		w := lp.out
		if typ == "err" {
			w = lp.errw
		}
		w.WriteString(ev.Data)
		w.WriteByte('\n')
	default:
		var b []byte
		if lp.stamp != nil && ev.Time != 0 {
			ts := lp.stamp.Append(nil, time.UnixMilli(ev.Time))
			if lp.color {
				b = append(b, "\x1b[2m"...)
				b = append(b, ts...)
				b = append(b, "\x1b[0m "...)
			} else {
				b = append(append(b, ts...), ' ')
			}
		}
		name := lp.prefixOf(ev)
		if len(name) > lp.width {
			lp.width = len(name)
		}
		pad := name + strings.Repeat(" ", lp.width-len(name))
		if lp.color {
			c := appPalette[(ev.PMID%len(appPalette)+len(appPalette))%len(appPalette)]
			bar := "|"
			if typ == "err" {
				bar = cRed + "|" + cReset
			}
			b = append(b, c+pad+cReset+" "+bar+" "...)
		} else {
			b = append(b, pad+" | "...)
		}
		b = append(b, lp.highlight(lp.clean(ev.Data))...)
		b = append(b, '\n')
		lp.out.Write(b)
	}
}

// event prints a process event (only --json shows them, as PM2 does).
func (lp *logPrinter) event(ev api.Event) {
	if !lp.f.json {
		return
	}
	m := map[string]any{"timestamp": jsonTime(ev.Time), "type": "process_event", "status": ev.Status, "app_name": ev.Name, "process_id": ev.PMID}
	if ev.Reason != "" {
		m["reason"] = ev.Reason
	}
	b, _ := json.Marshal(m)
	lp.out.Write(b)
	lp.out.WriteByte('\n')
}

// missed tells the user that n events were dropped because this follower
// read too slowly.
func (lp *logPrinter) missed(n int64, at int64) {
	lp.out.Flush()
	if lp.f.json {
		if at == 0 {
			at = lp.now().UnixMilli()
		}
		b, _ := json.Marshal(map[string]any{"timestamp": jsonTime(at), "type": "missed", "missed": n})
		lp.out.Write(b)
		lp.out.WriteByte('\n')
		lp.out.Flush()
	}
	lp.errw.Flush()
	fmt.Fprintf(lp.errw, "[tend] this follower read too slowly: %d log lines or events were not shown (the log files have every line)\n", n)
	lp.errw.Flush()
}

type tailFile struct {
	path   string
	stream string
	p      api.Process
	mtime  time.Time
}

func (a *app) logs(args []string, f *logsFlags) error {
	if f.lines < 0 {
		f.lines = -f.lines // PM2
	}
	var ctx context.Context
	var cancel context.CancelFunc
	if f.nostream {
		ctx, cancel = a.ctx()
	} else {
		ctx, cancel = signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	}
	defer cancel()
	target := parseLogTarget(args)
	var all []api.Process
	c, err := a.call(ctx, func(c *client.Client) (err error) { all, err = c.List(ctx); return err })
	if err != nil {
		return err
	}
	found := map[string]bool{}
	var sel []api.Process
	for _, p := range all {
		if target.match(p) {
			sel = append(sel, p)
			found[p.Name], found[strconv.Itoa(p.PMID)], found[p.PM2Env.Namespace] = true, true, true
		}
	}
	for _, w := range target.words {
		if !found[w] && !regexpFound(w, sel) {
			return fmt.Errorf("process or namespace %s not found (see `tend ls`)", w)
		}
	}
	wantOut, wantErr := !f.err || f.out, !f.out || f.err

	lp := &logPrinter{f: f, out: bufio.NewWriterSize(a.stdout, 64<<10), errw: bufio.NewWriterSize(a.stderr, 4<<10),
		color: logColors(a.stdout), safe: isTerminal(a.stdout), width: 3, now: time.Now}
	if f.timestamp != "" {
		lp.stamp = logs.NewStamper(f.timestamp)
	}
	lp.fstamp = logs.NewStamper(formatTimestamp)
	for _, p := range sel {
		lp.width = max(lp.width, len(lp.prefixOf(api.Event{PMID: p.PMID, Name: p.Name})))
	}
	defer lp.flush()

	var events *client.Events
	if !f.nostream {
		// Subscribe before reading the files so that no line falls between them.
		if events, err = c.Events(ctx, true); err != nil {
			return err
		}
		defer events.Close()
	}

	// History: the last lines of each file, oldest file first (PM2's order).
	var files []tailFile
	seen := map[string]bool{}
	for _, p := range sel {
		for _, s := range []struct {
			want   bool
			path   string
			stream string
		}{{wantOut, p.PM2Env.PMOutLogPath, "out"}, {wantErr, p.PM2Env.PMErrLogPath, "err"}} {
			if !s.want || s.path == "" || s.path == logs.Null || seen[s.path] {
				continue
			}
			seen[s.path] = true
			tf := tailFile{path: s.path, stream: s.stream, p: p}
			if st, err := os.Stat(s.path); err == nil {
				tf.mtime = st.ModTime()
			} else {
				continue
			}
			files = append(files, tf)
		}
	}
	sort.SliceStable(files, func(i, j int) bool { return files[i].mtime.Before(files[j].mtime) })
	plain := !f.raw && !f.json && !f.format
	if f.lines > 0 && plain {
		what := "[" + strings.Join(target.words, ",") + "]"
		if target.all {
			what = "[all]"
		}
		fmt.Fprintf(a.stderr, "[TAILING] Tailing last %d lines for %s process%s (change the value with --lines option)\n", f.lines, what, map[bool]string{true: "es", false: ""}[target.all || len(sel) > 1])
	}
	for _, tf := range files {
		if f.lines <= 0 {
			break
		}
		lines := logs.Tail(tf.path, f.lines)
		if plain {
			h := fmt.Sprintf("%s last %d lines:", tf.path, f.lines)
			if lp.color {
				h = cGrey + h + cReset
			}
			lp.out.WriteString(h + "\n")
		}
		for _, line := range lines {
			lp.line(api.Event{Type: api.EventLog, PMID: tf.p.PMID, Name: tf.p.Name, Stream: tf.stream, Data: line})
		}
		if plain && len(lines) > 0 {
			lp.out.WriteByte('\n')
		}
	}
	lp.flush()
	if f.nostream {
		return nil
	}

	// Live: events come from a reader goroutine so output is flushed only
	// when no more is waiting.
	type item struct {
		ev  api.Event
		err error
	}
	ch := make(chan item, 1024)
	go func() {
		defer close(ch)
		for {
			ev, err := events.Next()
			select {
			case ch <- item{ev, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	namespaces := map[int]string{}
	for _, p := range all {
		namespaces[p.PMID] = p.PM2Env.Namespace
	}
	matchEvent := func(ev api.Event) bool {
		if target.all || target.ids[ev.PMID] || target.names[ev.Name] {
			return true
		}
		ns, ok := namespaces[ev.PMID]
		if !ok { // a process started since: learn its namespace once
			lctx, lcancel := a.ctx()
			if ps, err := c.List(lctx); err == nil {
				for _, p := range ps {
					namespaces[p.PMID] = p.PM2Env.Namespace
				}
			}
			lcancel()
			ns = namespaces[ev.PMID]
			namespaces[ev.PMID] = ns
		}
		return target.names[ns]
	}
	for {
		var it item
		var ok bool
		select {
		case it, ok = <-ch:
		case <-ctx.Done():
			return nil
		}
		if !ok {
			return nil
		}
		if it.err != nil {
			lp.flush()
			if ctx.Err() != nil {
				return nil
			}
			if it.err == io.EOF {
				fmt.Fprintln(a.stderr, "[tend] the daemon stopped: no more logs to follow")
				return nil
			}
			return it.err
		}
		ev := it.ev
		if ev.Missed > 0 {
			lp.missed(ev.Missed, ev.Time)
		}
		switch ev.Type {
		case api.EventLog:
			if matchEvent(ev) && ((ev.Stream == "err" && wantErr) || (ev.Stream != "err" && wantOut)) {
				lp.line(ev)
			}
		case api.EventProcess:
			if matchEvent(ev) {
				lp.event(ev)
			}
		}
		if len(ch) == 0 {
			lp.flush()
		}
	}
}
