// Command tend is a process manager and a drop-in replacement for PM2.
package main

import (
	"os"

	"github.com/tend-dev/tend/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:]))
}
