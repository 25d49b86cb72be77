package qemu

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// maxErrOutput bounds how much of QEMU's output goes into an error.
const maxErrOutput = 4096

// Start runs argv (which must daemonize), waits for the foreground QEMU to
// exit (QEMU's parent exits once the VM is set up), and returns the daemon's
// PID from the pidfile. QEMU's stderr/stdout go to logPath (appended, after a
// header line with time + argv) and when QEMU exits non-zero the returned
// error includes QEMU's own error lines (e.g. "qemu-system-x86_64: -blockdev
// ...: Could not open ...").
//
// If ctx ends while QEMU is still setting up, the foreground process is
// killed, and so is a daemon that already wrote a new PID to pidFile. This
// is best effort: the daemon is in its own session, so one that writes its
// pidfile only after the check survives (Alive/Kill on the pidfile later).
func Start(ctx context.Context, argv []string, pidFile, logPath string) (int, error) {
	if len(argv) == 0 {
		return 0, errors.New("start qemu: empty argv")
	}
	if !hasPair(argv, "-pidfile", pidFile) || !has(argv, "-daemonize") {
		return 0, fmt.Errorf("start qemu: argv must contain -daemonize and -pidfile %s (build it with Params.Daemonize)", pidFile)
	}
	log, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return 0, fmt.Errorf("start qemu: open log: %w", err)
	}
	defer log.Close()
	if _, err := fmt.Fprintf(log, "--- %s nixvm starting: %s\n", time.Now().UTC().Format(time.RFC3339), Shell(argv)); err != nil {
		return 0, fmt.Errorf("start qemu: write log %s: %w", logPath, err)
	}
	start, err := log.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, fmt.Errorf("start qemu: log %s: %w", logPath, err)
	}
	oldPID, _ := ReadPID(pidFile)

	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("start qemu: %w", err)
	}
	// Not CommandContext: killing the foreground QEMU while it daemonizes
	// can leave a daemon that writes its pidfile after we looked. The
	// foreground process exits as soon as the VM is set up, so let it
	// finish and then undo the start if ctx ended meanwhile.
	cmd := exec.Command(argv[0], argv[1:]...)
	// QEMU writes straight into the file (no pipe): the daemon inherits
	// these descriptors until it redirects them, and a pipe would keep
	// Wait blocked on the daemon instead of the foreground process.
	cmd.Stdout, cmd.Stderr = log, log
	runErr := cmd.Run()

	if ctx.Err() != nil {
		// The daemon runs now if it started; only kill a PID that this
		// start wrote, and wait until it is gone.
		if pid, err := ReadPID(pidFile); err == nil && pid != oldPID && Alive(pid, pidFile) {
			if err := KillWait(pid, pidFile); err != nil {
				return 0, fmt.Errorf("start qemu: %w; and undoing the start failed: %v", ctx.Err(), err)
			}
		}
		return 0, fmt.Errorf("start qemu: %w", ctx.Err())
	}
	if runErr != nil {
		out := qemuOutput(logPath, start)
		if out == "" {
			out = "no output"
		}
		return 0, fmt.Errorf("start qemu (%v): %s (log: %s)", runErr, out, logPath)
	}
	pid, err := ReadPID(pidFile)
	if err != nil {
		return 0, fmt.Errorf("start qemu: QEMU exited 0 but: %w (log: %s)", err, logPath)
	}
	return pid, nil
}

// qemuOutput returns what QEMU wrote to the log after offset, as one line.
func qemuOutput(logPath string, offset int64) string {
	f, err := os.Open(logPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	// The tail holds the fatal error; earlier lines are often warnings.
	if fi.Size()-offset > maxErrOutput {
		offset = fi.Size() - maxErrOutput
	}
	b, err := io.ReadAll(io.NewSectionReader(f, offset, fi.Size()-offset))
	if err != nil {
		return ""
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "; ")
}

func has(argv []string, w string) bool {
	for _, a := range argv {
		if a == w {
			return true
		}
	}
	return false
}

func hasPair(argv []string, flag, value string) bool {
	for i := 0; i+1 < len(argv); i++ {
		if argv[i] == flag && argv[i+1] == value {
			return true
		}
	}
	return false
}

// ReadPID reads the PID QEMU wrote to pidFile.
func ReadPID(pidFile string) (int, error) {
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return 0, fmt.Errorf("read QEMU pidfile: %w", err)
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("read QEMU pidfile %s: %q is not a PID", pidFile, bytes.TrimSpace(b))
	}
	return pid, nil
}

// Alive reports whether pid is running AND is a QEMU started for this
// instance: on Linux its command line must contain pidFile, so a PID reused
// by another process after the VM died is not mistaken for the VM. Elsewhere
// it falls back to kill(pid, 0).
func Alive(pid int, pidFile string) bool {
	if pid <= 0 {
		return false
	}
	return alive(pid, pidFile)
}

// WaitExit waits until process pid is gone (exited, zombie included) or
// ctx ends, in which case it returns an error wrapping ctx.Err().
func WaitExit(ctx context.Context, pid int) error {
	if pid <= 0 {
		return fmt.Errorf("wait for QEMU exit: invalid pid %d", pid)
	}
	return waitExit(ctx, pid)
}

// pollExit is the fallback of waitExit: check every 50ms until ctx ends.
func pollExit(ctx context.Context, pid int) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		if exited(pid) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for QEMU (pid %d) to exit: %w", pid, ctx.Err())
		case <-t.C:
		}
	}
}

// Kill sends SIGKILL to pid. A process that is already gone is not an error,
// so stopping is idempotent.
func Kill(pid int) error {
	if pid <= 0 {
		// kill(0) and kill(-1) would signal whole process groups.
		return fmt.Errorf("kill QEMU: invalid pid %d", pid)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill QEMU (pid %d): %w", pid, err)
	}
	return nil
}

// KillGrace is how long KillWait waits for a SIGKILLed process to be gone.
const KillGrace = 10 * time.Second

// KillWait sends SIGKILL to the QEMU pid and waits (up to KillGrace, whatever
// the caller's context says: an interrupted kill would leave the worst
// state) until it is gone; only then it removes pidFile, if that still names
// pid. A QEMU that does not die keeps its pidfile, so that status keeps
// reporting it.
func KillWait(pid int, pidFile string) error {
	if err := Kill(pid); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), KillGrace)
	defer cancel()
	if err := WaitExit(ctx, pid); err != nil {
		return fmt.Errorf("QEMU (pid %d) did not exit after SIGKILL: %w", pid, err)
	}
	RemovePIDFile(pidFile, pid)
	return nil
}

// RemovePIDFile removes pidFile if it names pid, a process known to be gone
// (QEMU removes its pidfile itself on a clean exit, not when killed).
func RemovePIDFile(pidFile string, pid int) {
	if p, err := ReadPID(pidFile); err == nil && p == pid {
		os.Remove(pidFile)
	}
}

// FindByPidfile returns the PID of a live QEMU started with -pidfile
// pidFile even when that file is gone (deleted by hand, or by an older
// nixvm), else 0. Linux only; elsewhere it finds nothing.
func FindByPidfile(pidFile string) int { return findByPidfile(pidFile) }
