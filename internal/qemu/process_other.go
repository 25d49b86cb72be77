//go:build !linux

package qemu

import (
	"context"
	"errors"
	"syscall"
)

// alive cannot check the command line portably; a live PID is trusted.
func alive(pid int, pidFile string) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// exited cannot tell a zombie from a live process portably.
func exited(pid int) bool { return !alive(pid, "") }

func waitExit(ctx context.Context, pid int) error { return pollExit(ctx, pid) }

// findByPidfile cannot read other processes' command lines portably.
func findByPidfile(pidFile string) int { return 0 }
