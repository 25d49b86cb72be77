package qemu

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Sidecar is a helper process that lives and dies with a VM: virtiofsd
// for a shared directory, a port proxy, swtpm. It is started before QEMU
// (which connects to it), in its own session like the daemonized QEMU, and
// stopped after QEMU is gone, by the same code.
type Sidecar struct {
	Name string   // unique per VM, used in its file names: [a-z0-9-]+
	Argv []string // the command
	// Ready, if set, is a path the sidecar creates once it serves (its
	// socket); StartSidecar waits for it.
	Ready string
}

// SidecarGrace is how long a sidecar gets to exit after SIGTERM.
const SidecarGrace = 5 * time.Second

// StartSidecar starts sc with stdout and stderr appended to logPath,
// records its PID and start time in pidFile (so that a reused PID is never
// taken for it), and waits up to deadline for sc.Ready. A sidecar that
// fails to come up is killed again.
func StartSidecar(ctx context.Context, sc Sidecar, pidFile, logPath string, deadline time.Duration) (int, error) {
	if len(sc.Argv) == 0 {
		return 0, fmt.Errorf("sidecar %s: empty command", sc.Name)
	}
	log, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return 0, fmt.Errorf("sidecar %s: open log: %w", sc.Name, err)
	}
	defer log.Close()
	fmt.Fprintf(log, "--- %s nixvm starting: %s\n", time.Now().UTC().Format(time.RFC3339), Shell(sc.Argv))
	cmd := exec.Command(sc.Argv[0], sc.Argv[1:]...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // not killed with nixvm's terminal
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("sidecar %s: %w", sc.Name, err)
	}
	pid := cmd.Process.Pid
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }() // reap it if it dies while nixvm runs
	start, err := startTime(pid)
	if err == nil {
		err = os.WriteFile(pidFile, []byte(fmt.Sprintf("%d %d\n", pid, start)), 0o600)
	}
	undo := func(cause error) (int, error) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		<-exited
		os.Remove(pidFile)
		return 0, fmt.Errorf("sidecar %s: %w (log: %s)", sc.Name, cause, logPath)
	}
	if err != nil {
		return undo(err)
	}
	if sc.Ready == "" {
		return pid, nil
	}
	wctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := os.Stat(sc.Ready); err == nil {
			return pid, nil
		}
		select {
		case err := <-exited:
			exited <- err // for undo
			return undo(fmt.Errorf("exited before %s appeared: %v", sc.Ready, err))
		case <-wctx.Done():
			return undo(fmt.Errorf("%s did not appear: %w", sc.Ready, wctx.Err()))
		case <-tick.C:
		}
	}
}

// SidecarPID returns the PID recorded in pidFile if that process still
// runs (same PID and the same start time), else 0.
func SidecarPID(pidFile string) int {
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0
	}
	pid, err1 := strconv.Atoi(f[0])
	start, err2 := strconv.ParseUint(f[1], 10, 64)
	if err1 != nil || err2 != nil || pid <= 0 {
		return 0
	}
	if now, err := startTime(pid); err != nil || now != start || exited(pid) {
		return 0
	}
	return pid
}

// StopSidecar ends the sidecar of pidFile: SIGTERM, SidecarGrace, SIGKILL,
// and waits until it is gone; only then the pidfile goes. A sidecar that is
// not running just loses its stale pidfile.
func StopSidecar(pidFile string) error {
	pid := SidecarPID(pidFile)
	if pid == 0 {
		os.Remove(pidFile)
		return nil
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(context.Background(), SidecarGrace)
	err := WaitExit(ctx, pid)
	cancel()
	if err != nil {
		if err := Kill(pid); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), KillGrace)
		defer cancel()
		if err := WaitExit(ctx, pid); err != nil {
			return fmt.Errorf("sidecar (pid %d) did not exit after SIGKILL: %w", pid, err)
		}
	}
	os.Remove(pidFile)
	return nil
}

// startTime is the process's start time in clock ticks since boot (field
// 22 of /proc/PID/stat).
func startTime(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("unreadable /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); starttime is field 22.
	if len(f) < 20 {
		return 0, errors.New("short /proc stat")
	}
	return strconv.ParseUint(f[19], 10, 64)
}
