// Command acdbridge bridges a remote-support service and a contact center.
package main

import (
	"os"

	"github.com/acdbridge/acdbridge/bridge/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
