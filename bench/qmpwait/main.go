// Command qmpwait (benchmark helper) waits until QEMU answers query-status
// on a QMP socket, polling every millisecond, and exits 0; or exits 1 at the
// deadline. It is what "QEMU is up" means for bench/start-overhead.sh's
// direct runs, the same condition nixvm start waits for.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/nixvm/nixvm/internal/qmp"
)

func main() {
	deadline := flag.Duration("deadline", time.Minute, "give up after this long")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: qmpwait [-deadline D] QMP_SOCKET")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *deadline)
	defer cancel()
	for {
		c, err := qmp.Dial(ctx, flag.Arg(0))
		if err == nil {
			_, _, err = c.QueryStatus(ctx)
			c.Close()
			if err == nil {
				return
			}
		}
		select {
		case <-ctx.Done():
			fmt.Fprintf(os.Stderr, "qmpwait: %s: %v\n", flag.Arg(0), err)
			os.Exit(1)
		case <-time.After(time.Millisecond):
		}
	}
}
