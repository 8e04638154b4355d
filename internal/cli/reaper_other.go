//go:build !linux

package cli

import "errors"

// becomeSubreaper: only Linux has PR_SET_CHILD_SUBREAPER; elsewhere the
// orphans of the apps go to init unless tend run is PID 1.
func becomeSubreaper() error {
	return errors.New("PR_SET_CHILD_SUBREAPER is Linux only")
}
