// Package display formats figures the way PM2 shows them, for the CLI and
// the dashboard alike.
package display

import (
	"fmt"
	"time"
)

// Bytes formats memory as PM2 does: 512b, 12.0kb, 41.2mb, 1.5gb.
func Bytes(b int64) string {
	switch {
	case b < 1024:
		return fmt.Sprintf("%db", b)
	case b < 1024*1024:
		return fmt.Sprintf("%.1fkb", float64(b)/1024)
	case b < 1024*1024*1024:
		return fmt.Sprintf("%.1fmb", float64(b)/1024/1024)
	}
	return fmt.Sprintf("%.1fgb", float64(b)/1024/1024/1024)
}

// Uptime formats a duration as PM2 does: 12s, 5m, 3h, 2D.
func Uptime(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dD", int(d.Hours()/24))
}
