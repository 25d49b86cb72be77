// Package qemuimg runs qemu-img: it makes disk images and reads their facts.
// It holds no decisions; callers say what to make.
package qemuimg

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// Create makes a qcow2 image of size bytes at path. The file must not exist.
func Create(ctx context.Context, qemuImg, path string, size int64) error {
	return run(ctx, qemuImg, "create", "-q", "-f", "qcow2", path, strconv.FormatInt(size, 10))
}

func run(ctx context.Context, bin string, args ...string) error {
	cmd := exec.CommandContext(ctx, bin, args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%s %s: %w", bin, strings.Join(args, " "), ctx.Err())
		}
		msg := strings.TrimSpace(out.String())
		if msg == "" {
			msg = err.Error()
		}
		return fmt.Errorf("%s %s: %s", bin, args[0], msg)
	}
	return nil
}
