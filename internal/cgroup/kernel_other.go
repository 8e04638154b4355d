//go:build !linux || tend_portable

package cgroup

import (
	"errors"
	"fmt"
	"os/exec"
	"runtime"
)

// Elsewhere than on Linux (and on Linux with -tags tend_portable, which
// tests the path macOS and the BSDs take) there are no cgroups: Open
// reports None and these are never reached with a group.

func openV2(host, string) (*Manager, error) {
	return nil, fmt.Errorf("%w on %s", ErrUnavailable, runtime.GOOS)
}

func openV1(host, string) (*Manager, error) {
	return nil, fmt.Errorf("%w on %s", ErrUnavailable, runtime.GOOS)
}

// Start never starts cmd: there is no group to start it in.
func (g *Group) Start(cmd *exec.Cmd) error {
	return fmt.Errorf("%w on %s", ErrUnavailable, runtime.GOOS)
}

// Spare is never made where there are no cgroups.
type Spare struct{}

// Prepare returns nil: there is nothing to prepare.
func (m *Manager) Prepare(name string) *Spare { return nil }

// Start is never called on a nil Spare.
func (s *Spare) Start(cmd *exec.Cmd) (*Group, error) {
	return nil, fmt.Errorf("%w on %s", ErrUnavailable, runtime.GOOS)
}

// Discard does nothing.
func (s *Spare) Discard() {}

// Kill does nothing: no group holds a process.
func (g *Group) Kill() {}

// Notify is unsupported; the caller samples.
func (g *Group) Notify(threshold int64, fn func()) (stop func(), err error) {
	return nil, errors.ErrUnsupported
}
