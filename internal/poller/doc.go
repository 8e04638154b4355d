// Package poller waits for many file descriptors to become readable on one
// goroutine (Linux: one epoll instance), so that an idle app's pipes,
// sockets and pidfd cost the daemon no goroutine each. When a descriptor is
// ready, its function runs in a goroutine of its own that lives only while
// there is something to read; the descriptor is then armed again.
//
// Elsewhere (macOS, the BSDs) the package is empty and its callers keep a
// goroutine per descriptor.
package poller
