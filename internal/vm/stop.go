package vm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nixvm/nixvm/internal/qemu"
	"github.com/nixvm/nixvm/internal/qmp"
	"github.com/nixvm/nixvm/internal/store"
)

// How a stop ended.
const (
	StoppedACPI   = "acpi"   // the guest powered off after the ACPI power button
	StoppedQuit   = "quit"   // QEMU was told to quit over QMP
	StoppedKilled = "killed" // QEMU was sent SIGKILL
	StoppedNone   = "none"   // it was not running
)

// StopOptions say how patiently to stop.
type StopOptions struct {
	Force   bool          // skip the ACPI request: quit at once
	Timeout time.Duration // how long the guest gets to power off
}

// quitGrace is how long QEMU gets to exit after quit before SIGKILL.
const quitGrace = 10 * time.Second

// Stop stops a running VM: ACPI power button, wait up to Timeout for the
// guest to power off, then QMP quit, then SIGKILL. It returns which of them
// ended the VM. The caller must hold the VM's lock.
func Stop(ctx context.Context, in store.Instance, opts StopOptions) (string, error) {
	info := Status(in)
	if info.PID == 0 { // not running (nor installing)
		// A crashed QEMU left its pidfile; clear it so the VM reads stopped.
		if info.State == StateCrashed {
			os.Remove(in.PIDFile())
		}
		return StoppedNone, nil
	}
	pid := info.PID
	defer os.Remove(in.PIDFile())

	if !opts.Force {
		if err := qmpDo(ctx, in, func(c *qmp.Client) error { return c.SystemPowerdown(ctx) }); err == nil {
			wctx, cancel := context.WithTimeout(ctx, opts.Timeout)
			err := qemu.WaitExit(wctx, pid)
			cancel()
			if err == nil {
				return StoppedACPI, nil
			}
			if ctx.Err() != nil {
				return "", ctx.Err()
			}
		}
	}
	if err := qmpDo(ctx, in, func(c *qmp.Client) error { return c.Quit(ctx) }); err == nil {
		wctx, cancel := context.WithTimeout(ctx, quitGrace)
		err := qemu.WaitExit(wctx, pid)
		cancel()
		if err == nil {
			return StoppedQuit, nil
		}
	}
	if err := qemu.Kill(pid); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return "", fmt.Errorf("kill QEMU (pid %d): %w", pid, err)
	}
	wctx, cancel := context.WithTimeout(ctx, quitGrace)
	defer cancel()
	if err := qemu.WaitExit(wctx, pid); err != nil {
		return "", fmt.Errorf("QEMU (pid %d) did not exit after SIGKILL: %w", pid, err)
	}
	return StoppedKilled, nil
}

func qmpDo(ctx context.Context, in store.Instance, f func(*qmp.Client) error) error {
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := qmp.Dial(dctx, in.QMPSocket())
	if err != nil {
		return err
	}
	defer c.Close()
	return f(c)
}

// Remove deletes the VM's instance directory (and its socket directory when
// that lives elsewhere). A running VM is refused unless force, which stops it
// first. The caller must hold the VM's lock.
func Remove(ctx context.Context, in store.Instance, force bool) error {
	if info := Status(in); info.PID != 0 {
		if !force {
			return fmt.Errorf("VM %s is running (pid %d): stop it first (nixvm stop %s) or use --force", in.Name, info.PID, in.Name)
		}
		if _, err := Stop(ctx, in, StopOptions{Force: true}); err != nil {
			return err
		}
	}
	if sd := in.SocketDir(); sd != in.Dir {
		os.RemoveAll(sd)
	}
	if err := os.RemoveAll(in.Dir); err != nil {
		return fmt.Errorf("remove %s: %w", in.Dir, err)
	}
	return nil
}
