package supervisor

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/tend-dev/tend/internal/api"
)

// What apps say to PM2 over their IPC channel, beyond readiness:
//
//   - @pm2/io's {type: 'axm:monitor', data: {metric: {value, unit, …}}}, sent
//     every second, and {type: 'axm:action', data: {action_name, …}} once per
//     action: kept per process (axm_monitor, axm_actions in jlist), never
//     published;
//   - {type: 'axm:reply', data: {return, action_name}}, an action's answer,
//     and every other message: published on the bus (EventMessage).
//
// Messages to an app (PM2's sendDataToProcessId, an action's name for
// trigger) are written to the same channel.

// axmState is guarded by the Proc's mu.
type axmState struct {
	monitor map[string]any
	actions []any // each a map[string]any with its action_name
	options map[string]any
}

// copy returns what jlist shows: never nil, as PM2's pm2_env.
func (a *axmState) copy() (map[string]any, []any, map[string]any) {
	mon := maps.Clone(a.monitor)
	if mon == nil {
		mon = map[string]any{}
	}
	acts := append([]any{}, a.actions...)
	opts := maps.Clone(a.options)
	if opts == nil {
		opts = map[string]any{}
	}
	return mon, acts, opts
}

// clearAxm forgets what the last run reported (with p.mu held), as PM2 does
// when a process stops.
func (p *Proc) clearAxm() { p.axm = axmState{} }

// maxAxmActions and maxAxmMetrics bound what one app can make the daemon keep.
const (
	maxAxmActions = 256
	maxAxmMetrics = 1024
)

// onAxm keeps an @pm2/io message; it reports whether msg was one.
func (p *Proc) onAxm(msg map[string]any) bool {
	t, _ := msg["type"].(string)
	if !strings.HasPrefix(t, "axm:") || t == "axm:reply" {
		return false
	}
	data, _ := msg["data"].(map[string]any)
	p.mu.Lock()
	defer p.mu.Unlock()
	switch t {
	case "axm:monitor":
		if p.axm.monitor == nil {
			p.axm.monitor = map[string]any{}
		}
		for k, v := range data {
			if _, ok := p.axm.monitor[k]; ok || len(p.axm.monitor) < maxAxmMetrics {
				p.axm.monitor[k] = v
			}
		}
	case "axm:action":
		name, _ := data["action_name"].(string)
		if name == "" {
			return true
		}
		if hasAxmAction(p.axm.actions, name) {
			return true
		}
		if len(p.axm.actions) < maxAxmActions {
			p.axm.actions = append(p.axm.actions, data)
		}
	case "axm:option:configuration":
		if p.axm.options == nil {
			p.axm.options = map[string]any{}
		}
		for k, v := range data {
			p.axm.options[k] = v
		}
	}
	return true
}

// sendMessage writes c.data (JSON) to the serving run's IPC channel, from
// the loop; the write itself runs apart so an app that does not read cannot
// stall the loop.
func (p *Proc) sendMessage(cur *run, c command) {
	if cur == nil || cur.exited || cur.ipc == nil {
		c.reply <- api.BadInputf("process %d is not running (or has no IPC channel: it was started by an earlier daemon)", p.id)
		return
	}
	f := cur.ipc
	go func() {
		f.SetWriteDeadline(time.Now().Add(5 * time.Second))
		err := sendIPC(f, json.RawMessage(c.data), -1)
		if err != nil {
			err = fmt.Errorf("process %d: write to its IPC channel: %w", p.id, err)
		}
		c.reply <- err
	}()
}

// Send writes one JSON message to a process's IPC channel, where Node's
// process.on('message') receives it.
func (s *Supervisor) Send(ctx context.Context, req api.SendRequest) error {
	s.mu.Lock()
	p := s.procs[req.PMID]
	s.mu.Unlock()
	if p == nil {
		return api.NotFoundf("process %d not found", req.PMID)
	}
	if !json.Valid(req.Data) {
		return api.BadInputf("the message to process %d is not JSON", req.PMID)
	}
	return p.do(command{op: opSend, data: req.Data})
}

// hasAxmAction reports whether actions (PM2's axm_actions) has one named name.
func hasAxmAction(actions []any, name string) bool {
	for _, a := range actions {
		if m, ok := a.(map[string]any); ok && m["action_name"] == name {
			return true
		}
	}
	return false
}

// triggerTimeout is how long Trigger waits for the apps' answers.
const triggerTimeout = 10 * time.Second

// Trigger runs an @pm2/io action in the running processes of a target that
// declared it, and returns their answers (axm:reply).
func (s *Supervisor) Trigger(ctx context.Context, req api.TriggerRequest) ([]api.TriggerReply, error) {
	procs, err := s.Resolve(req.Target)
	if err != nil {
		return nil, err
	}
	var todo []*Proc
	var known []string
	for _, p := range procs {
		p.mu.Lock()
		has := hasAxmAction(p.axm.actions, req.Action)
		for _, a := range p.axm.actions {
			if n, ok := a.(map[string]any)["action_name"].(string); ok && len(known) < 20 {
				known = append(known, n)
			}
		}
		running := p.pid > 0 && (p.status == Online || p.status == Launching)
		p.mu.Unlock()
		if has && running {
			todo = append(todo, p)
		}
	}
	if len(todo) == 0 {
		list := "none"
		if len(known) > 0 {
			list = strings.Join(known, ", ")
		}
		return nil, api.NotFoundf("no running process of %s declared the action %q (actions declared with @pm2/io: %s)",
			strings.Join(req.Target.Names, ","), req.Action, list)
	}
	var msg any = req.Action
	if req.Param != nil {
		msg = map[string]any{"msg": req.Action, "opts": req.Param}
	}
	data, _ := json.Marshal(msg)
	sub := s.Bus.Subscribe(256, false)
	defer sub.Close()
	waiting := map[int]string{}
	for _, p := range todo {
		if err := s.Send(ctx, api.SendRequest{PMID: p.id, Data: data}); err != nil {
			return nil, err
		}
		waiting[p.id] = p.snapshotName()
	}
	var out []api.TriggerReply
	timer := time.NewTimer(triggerTimeout)
	defer timer.Stop()
	for len(waiting) > 0 {
		select {
		case <-ctx.Done():
			return out, ctx.Err()
		case <-timer.C:
			return out, fmt.Errorf("action %s: no answer from %d process(es) within %v", req.Action, len(waiting), triggerTimeout)
		case ev := <-sub.C:
			name, ok := waiting[ev.PMID]
			if ev.Type != api.EventMessage || !ok {
				continue
			}
			var m struct {
				Type string `json:"type"`
				Data struct {
					Return     any    `json:"return"`
					ActionName string `json:"action_name"`
				} `json:"data"`
			}
			if json.Unmarshal([]byte(ev.Data), &m) != nil || m.Type != "axm:reply" || (m.Data.ActionName != "" && m.Data.ActionName != req.Action) {
				continue
			}
			out = append(out, api.TriggerReply{PMID: ev.PMID, Name: name, Return: m.Data.Return})
			delete(waiting, ev.PMID)
		}
	}
	return out, nil
}
