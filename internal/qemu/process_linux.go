package qemu

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

func alive(pid int, pidFile string) bool {
	// A zombie or a kernel thread has an empty cmdline and counts as dead.
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return false
	}
	for _, arg := range bytes.Split(b, []byte{0}) {
		if string(arg) == pidFile {
			return true
		}
	}
	return false
}

// exited reports whether pid is gone or a zombie (a daemonized QEMU is
// reparented, and in a container nobody may reap it).
func exited(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	// Format: pid (comm) state ...; comm may contain spaces and parens.
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] == 'Z' || b[i+2] == 'X'
}

// waitExit waits on a pidfd, which becomes readable when the process exits
// (zombie included), through Go's poller so that ctx can interrupt it.
// Kernels without pidfd_open (< 5.3) or seccomp filters denying it fall back
// to polling.
func waitExit(ctx context.Context, pid int) error {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if errors.Is(err, unix.ESRCH) {
		return nil
	}
	if err != nil {
		return pollExit(ctx, pid)
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return pollExit(ctx, pid)
	}
	if err := f.SetReadDeadline(time.Time{}); err != nil {
		return pollExit(ctx, pid) // not pollable: ctx could not interrupt a wait
	}
	stop := context.AfterFunc(ctx, func() { _ = f.SetReadDeadline(time.Now()) })
	defer stop()
	err = rc.Read(func(fd uintptr) bool {
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 0)
		return err == nil && n > 0
	})
	if ctx.Err() != nil {
		return fmt.Errorf("wait for QEMU (pid %d) to exit: %w", pid, ctx.Err())
	}
	if err != nil {
		return fmt.Errorf("wait for QEMU (pid %d) to exit: %w", pid, err)
	}
	return nil
}

// findByPidfile scans /proc for a live process whose command line names
// pidFile: the QEMU of an instance whose pidfile was deleted under it.
func findByPidfile(pidFile string) int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if alive(pid, pidFile) && !exited(pid) {
			return pid
		}
	}
	return 0
}
