package daemon

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/tend-dev/tend/internal/api"
	"github.com/tend-dev/tend/internal/pm2wire"
	"github.com/tend-dev/tend/internal/spec"
	"github.com/tend-dev/tend/internal/version"
)

// pm2Backend gives PM2's protocol (package pm2wire) the operations of the
// HTTP API.
type pm2Backend struct{ d *Daemon }

func (b pm2Backend) List() []api.Process { return b.d.sup.List() }

func (b pm2Backend) Start(ctx context.Context, apps []spec.App) ([]api.Process, error) {
	return b.d.sup.Start(ctx, apps)
}

func (b pm2Backend) Act(ctx context.Context, req api.ActionRequest) ([]api.Process, error) {
	return b.d.sup.Act(ctx, req)
}

func (b pm2Backend) Scale(ctx context.Context, name, count string) ([]api.Process, error) {
	return b.d.sup.Scale(ctx, name, count)
}

func (b pm2Backend) Send(ctx context.Context, req api.SendRequest) error {
	return b.d.sup.Send(ctx, req)
}

func (b pm2Backend) ReloadLogs() error { return b.d.sup.Files().Reopen() }

func (b pm2Backend) Subscribe(logs bool) (<-chan api.Event, func()) {
	sub := b.d.sup.Bus.Subscribe(4096, logs)
	return sub.C, sub.Close
}

func (b pm2Backend) Kill() { b.d.quitOnce.Do(func() { close(b.d.quit) }) }

// servePM2 serves PM2's rpc.sock and pub.sock beside tend.sock.
func (d *Daemon) servePM2() *pm2wire.Server {
	s, err := pm2wire.Listen(pm2Backend{d}, pm2wire.Options{Home: d.opts.Home, Version: version.String(), AllowUID: d.opts.AllowUID, Logf: d.log.Printf})
	if err != nil {
		d.log.Printf("PM2's sockets are not served: %v", err)
		return nil
	}
	return s
}

func (d *Daemon) send(w http.ResponseWriter, r *http.Request) {
	var req api.SendRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeErr(w, api.BadInputf("decode send request: %v", err))
		return
	}
	if err := d.sup.Send(r.Context(), req); err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, map[string]bool{"ok": true})
}

func (d *Daemon) trigger(w http.ResponseWriter, r *http.Request) {
	var req api.TriggerRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeErr(w, api.BadInputf("decode trigger request: %v", err))
		return
	}
	out, err := d.sup.Trigger(r.Context(), req)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, out)
}
