// Package config reads PM2 ecosystem files (JS, JSON, YAML) and command-line
// options into tend's model of an app (package spec), interpreting every
// option as PM2 does.
package config

import "github.com/tend-dev/tend/internal/spec"

// The model lives in package spec; these names keep config's callers short.
type (
	App        = spec.App
	Probe      = spec.Probe
	Dependency = spec.Dependency
)

// Dependency conditions (spec).
const (
	CondStarted   = spec.CondStarted
	CondHealthy   = spec.CondHealthy
	CondCompleted = spec.CondCompleted
)

// Defaults (spec).
const (
	DefaultMinUptime     = spec.DefaultMinUptime
	DefaultMaxRestarts   = spec.DefaultMaxRestarts
	DefaultKillTimeout   = spec.DefaultKillTimeout
	DefaultNamespace     = spec.DefaultNamespace
	DefaultKillSignal    = spec.DefaultKillSignal
	DefaultInstanceVar   = spec.DefaultInstanceVar
	DefaultReloadTimeout = spec.DefaultReloadTimeout
	DefaultListenTimeout = spec.DefaultListenTimeout
	DefaultProbeInterval = spec.DefaultProbeInterval
	DefaultProbeTimeout  = spec.DefaultProbeTimeout
	DefaultProbeFailures = spec.DefaultProbeFailures
)

// IsNode reports whether an interpreter is Node.js (spec.IsNode).
func IsNode(interp string) bool { return spec.IsNode(interp) }
