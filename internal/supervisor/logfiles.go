package supervisor

import (
	"github.com/tend-dev/tend/internal/api"
	"github.com/tend-dev/tend/internal/logs"
	"github.com/tend-dev/tend/internal/spec"
)

// AppRotation is the rotation of an app's log files: its own log_* options
// over the daemon's defaults (global).
func AppRotation(app spec.App, global logs.Rotation) (logs.Rotation, error) {
	r := global
	if app.LogMaxSize > 0 {
		r.MaxSize = app.LogMaxSize
	}
	if app.LogRotateInterval != "" {
		r.Interval = app.LogRotateInterval
	}
	if app.LogRetain != nil {
		r.Retain = *app.LogRetain
	}
	if app.LogCompress != nil {
		r.Compress = *app.LogCompress
	}
	if _, err := logs.ParseInterval(r.Interval); err != nil {
		return r, api.BadInputf("app %s: %v", app.Name, err)
	}
	return r, nil
}

// checkRotation refuses apps whose log rotation cannot work, before any of
// them starts.
func (s *Supervisor) checkRotation(apps []spec.App) error {
	for _, app := range apps {
		if _, err := AppRotation(app, s.logRotation()); err != nil {
			return err
		}
	}
	return nil
}

// openLogs opens a run's log files (out, error, combined) after setting
// their rotation from the app's options. Every run opens its files here —
// started by this daemon or watched again after an earlier one died or was
// replaced — so no way of getting a process leaves its logs unrotated.
// A file that cannot be opened is nil in the result, and the first such
// error is returned with the files that did open.
func (s *Supervisor) openLogs(app spec.App, paths [3]string) ([3]*logs.File, error) {
	rot, err := AppRotation(app, s.logRotation())
	if err != nil {
		// Checked when the app was started: only a record written by
		// another version of tend gets here. Its files are still written.
		s.logf("app %s: %v: its logs are not rotated", app.Name, err)
		rot = logs.Rotation{}
	}
	var files [3]*logs.File
	var first error
	for i, lp := range paths {
		s.files.SetRotation(lp, rot)
		f, err := s.files.Open(lp)
		if err != nil && first == nil {
			first = err
		}
		files[i] = f
	}
	return files, first
}

// logRotation is the rotation of every app's log files that have none of
// their own.
func (s *Supervisor) logRotation() logs.Rotation {
	s.rotMu.Lock()
	defer s.rotMu.Unlock()
	return s.opts.LogRotation
}

// SetLogRotation changes the rotation of every app's log files while they
// are written (tend.json or pm2-logrotate's settings changed); an app's own
// log_* options still win. It applies from each file's next write.
func (s *Supervisor) SetLogRotation(r logs.Rotation) {
	s.rotMu.Lock()
	s.opts.LogRotation = r
	s.rotMu.Unlock()
	s.files.SetDefaultRotation(r)
	for _, p := range s.sorted() {
		p.mu.Lock()
		app, paths := p.app, p.logPaths
		p.mu.Unlock()
		rot, err := AppRotation(*app, r)
		if err != nil {
			continue // checked when the app started
		}
		for _, lp := range paths {
			if lp != "" {
				s.files.SetRotation(lp, rot)
			}
		}
	}
}
