package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/tend-dev/tend/internal/api"
)

type logsFlags struct {
	lines                         int
	err, out, raw, nostream, json bool
}

func (a *app) logsCmd() *cobra.Command {
	var f logsFlags
	cmd := &cobra.Command{
		Use:   "logs [name|id|namespace|all]",
		Short: "Print the last lines of apps' logs, then follow them",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.logs(args, &f)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&f.lines, "lines", 15, "how many past lines to print per file")
	fl.BoolVar(&f.err, "err", false, "only the error log")
	fl.BoolVar(&f.out, "out", false, "only the output log")
	fl.BoolVar(&f.raw, "raw", false, "lines without the id|name prefix")
	fl.BoolVar(&f.nostream, "nostream", false, "print the past lines and exit")
	fl.BoolVar(&f.json, "json", false, "one JSON object per line")
	return cmd
}

func (a *app) logs(args []string, f *logsFlags) error {
	ctx, cancel := a.ctx()
	defer cancel()
	if f.nostream {
		defer cancel()
	} else {
		ctx, cancel = contextNoTimeout()
		defer cancel()
	}
	c, err := a.connect(ctx)
	if err != nil {
		return err
	}
	target := "all"
	if len(args) == 1 {
		target = args[0]
	}
	all, err := c.List(ctx)
	if err != nil {
		return err
	}
	sel := map[int]bool{}
	for _, p := range all {
		if target == "all" || p.Name == target || strconv.Itoa(p.PMID) == target || p.PM2Env.Namespace == target {
			sel[p.PMID] = true
		}
	}
	if len(sel) == 0 && target != "all" {
		return fmt.Errorf("process or namespace %s not found (see `tend ls`)", target)
	}
	wantOut, wantErr := !f.err || f.out, !f.out || f.err
	var events interface {
		Next() (api.Event, error)
		Close() error
	}
	if !f.nostream {
		// Subscribe before reading the files so no line falls between them.
		ev, err := c.Events(ctx, true)
		if err != nil {
			return err
		}
		events = ev
		defer ev.Close()
	}
	for _, p := range all {
		if !sel[p.PMID] || f.lines <= 0 {
			continue
		}
		for _, s := range []struct {
			want   bool
			path   string
			stream string
		}{{wantOut, p.PM2Env.PMOutLogPath, "out"}, {wantErr, p.PM2Env.PMErrLogPath, "err"}} {
			if !s.want || s.path == "" || s.path == "/dev/null" {
				continue
			}
			if !f.raw && !f.json {
				fmt.Fprintf(a.stdout, "%s last %d lines of %s:\n", s.path, f.lines, p.Name)
			}
			for _, line := range tailLines(s.path, f.lines) {
				a.printLog(api.Event{Type: "log", PMID: p.PMID, Name: p.Name, Stream: s.stream, Data: line}, f)
			}
		}
	}
	if f.nostream {
		return nil
	}
	for {
		ev, err := events.Next()
		if err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		if ev.Missed > 0 {
			fmt.Fprintf(a.stderr, "[tend] this follower was too slow: %d lines were not shown (they are in the log files)\n", ev.Missed)
		}
		if ev.Type != "log" {
			continue
		}
		if !(target == "all" || sel[ev.PMID] || ev.Name == target) {
			continue
		}
		if (ev.Stream == "out" && !wantOut) || (ev.Stream == "err" && !wantErr) {
			continue
		}
		a.printLog(ev, f)
	}
}

func (a *app) printLog(ev api.Event, f *logsFlags) {
	switch {
	case f.json:
		t := ev.Time
		if t == 0 {
			t = time.Now().UnixMilli()
		}
		typ := "out"
		if ev.Stream == "err" {
			typ = "err"
		}
		b, _ := json.Marshal(map[string]any{"message": ev.Data, "timestamp": time.UnixMilli(t).Format(time.RFC3339Nano), "type": typ, "process_id": ev.PMID, "app_name": ev.Name})
		fmt.Fprintf(a.stdout, "%s\n", b)
	case f.raw:
		fmt.Fprintln(a.stdout, ev.Data)
	default:
		fmt.Fprintf(a.stdout, "%d|%-10s| %s\n", ev.PMID, ev.Name, ev.Data)
	}
}

// tailLines returns the last n lines of a file.
func tailLines(path string, n int) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil
	}
	size := st.Size()
	var buf []byte
	const block = 64 << 10
	for off := size; off > 0 && bytes.Count(buf, []byte{'\n'}) <= n; {
		step := min(int64(block), off)
		off -= step
		chunk := make([]byte, step)
		if _, err := f.ReadAt(chunk, off); err != nil && err != io.EOF {
			return nil
		}
		buf = append(chunk, buf...)
	}
	buf = bytes.TrimSuffix(buf, []byte{'\n'})
	if len(buf) == 0 {
		return nil
	}
	lines := bytes.Split(buf, []byte{'\n'})
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = string(l)
	}
	return out
}
