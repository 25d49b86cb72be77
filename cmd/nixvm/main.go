// Command nixvm makes a NixOS machine in QEMU one command.
package main

import (
	"context"
	"os"

	"github.com/nixvm/nixvm/internal/cli"
)

func main() {
	ctx, stop := cli.SignalContext(context.Background())
	code := cli.Run(ctx, os.Args[1:], cli.Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	stop()
	os.Exit(code)
}
