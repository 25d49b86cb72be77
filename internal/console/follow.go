package console

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"
)

// followInterval is how often Follow looks for new output. Polling keeps
// Follow portable and simple; a serial log grows slowly enough that a
// fraction of a second of latency does not matter.
const followInterval = 200 * time.Millisecond

// Follow copies the file at path to out, then keeps copying what is appended
// until ctx ends, like tail -f. It waits for the file if it does not exist
// yet, starts over when the file is truncated or replaced (QEMU truncates
// serial.log when the VM starts again), and returns nil when ctx ends.
func Follow(ctx context.Context, path string, out io.Writer) error {
	tick := time.NewTicker(followInterval)
	defer tick.Stop()

	var f *os.File
	var info os.FileInfo
	var off int64
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	for {
		cur, err := os.Stat(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			// Not created yet (or being replaced): keep what is open.
		case err != nil:
			return fmt.Errorf("follow %s: %w", path, err)
		case f == nil || !os.SameFile(info, cur):
			if f != nil {
				if _, err := io.Copy(out, f); err != nil { // rest of the old file
					return fmt.Errorf("follow %s: %w", path, err)
				}
				f.Close()
			}
			if f, err = os.Open(path); err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					f = nil
					break
				}
				return fmt.Errorf("follow %s: %w", path, err)
			}
			// Stat the opened file, not the path: it may have been
			// replaced again in between.
			if info, err = f.Stat(); err != nil {
				return fmt.Errorf("follow %s: %w", path, err)
			}
			off = 0
		case cur.Size() < off:
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return fmt.Errorf("follow %s after truncation: %w", path, err)
			}
			off = 0
		}
		if f != nil {
			n, err := io.Copy(out, f)
			off += n
			if err != nil {
				return fmt.Errorf("follow %s: %w", path, err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
