package vm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
	// Logf, if set, is told what stop is waiting for.
	Logf func(format string, args ...any)
}

func (o StopOptions) logf(format string, args ...any) {
	if o.Logf != nil {
		o.Logf(format, args...)
	}
}

// quitGrace is how long QEMU gets to exit after quit before SIGKILL.
const quitGrace = 10 * time.Second

// Stop stops a running VM: ACPI power button, wait up to Timeout for the
// guest to power off, then QMP quit, then SIGKILL. It returns which of them
// ended the VM. lock is the VM's lock, which the caller holds.
//
// The pidfile goes only once the process is known to be gone. If ctx ends
// while the guest is given time to power off, Stop returns an
// *InterruptedError and QEMU keeps running (status says so); once it has
// escalated to quit and kill it finishes regardless of ctx, as that takes
// seconds and a half-done kill would be the worst state to leave.
func Stop(ctx context.Context, lock *store.Lock, opts StopOptions) (how string, err error) {
	in := lock.Instance()
	// Once QEMU is gone (or was not running), its sidecars go too.
	defer func() {
		if how != "" {
			if serr := stopSidecars(in); serr != nil && err == nil {
				err = fmt.Errorf("stop VM %s: QEMU stopped, but %w", in.Name, serr)
			}
		}
	}()
	info := Status(in)
	if info.PID == 0 { // not running (nor installing)
		// A crashed QEMU left its pidfile and no process; clear it so the
		// VM reads stopped.
		if info.State == StateCrashed {
			os.Remove(in.PIDFile())
		}
		return StoppedNone, nil
	}
	pid := info.PID
	if !opts.Force {
		err := qmpDo(ctx, in, func(c *qmp.Client) error { return c.SystemPowerdown(ctx) })
		if ctx.Err() != nil {
			return "", interrupted(ctx, fmt.Sprintf("VM %s is still running (pid %d); it may have been asked to power off", in.Name, pid))
		}
		if err == nil {
			opts.logf("asked VM %s to power off (ACPI); waiting up to %s", in.Name, opts.Timeout)
			wctx, cancel := context.WithTimeout(ctx, opts.Timeout)
			err := qemu.WaitExit(wctx, pid)
			cancel()
			if err == nil {
				qemu.RemovePIDFile(in.PIDFile(), pid)
				return StoppedACPI, nil
			}
			if ctx.Err() != nil {
				return "", interruptedStep(ctx, fmt.Sprintf("VM %s is still running (pid %d): it was asked to power off and may still do so", in.Name, pid), NextForceStop, in.Name, "")
			}
		}
	}
	bctx := context.WithoutCancel(ctx)
	if err := qmpDo(bctx, in, func(c *qmp.Client) error { return c.Quit(bctx) }); err == nil {
		wctx, cancel := context.WithTimeout(bctx, quitGrace)
		err := qemu.WaitExit(wctx, pid)
		cancel()
		if err == nil {
			qemu.RemovePIDFile(in.PIDFile(), pid)
			return StoppedQuit, nil
		}
	}
	if err := qemu.KillWait(pid, in.PIDFile()); err != nil {
		return "", fmt.Errorf("stop VM %s: %w", in.Name, err)
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

// RemoveOptions say how rm goes.
type RemoveOptions struct {
	Force bool // stop a running VM first
	Logf  func(format string, args ...any)
}

// Remove deletes the VM's instance directory (and its socket directory when
// that lives elsewhere). A running VM is refused unless Force, which stops
// it first. lock is the VM's lock, which the caller holds.
//
// The directory is first renamed to a hidden name, so that the VM vanishes
// at once and whole; a signal after that point does not stop the removal.
func Remove(ctx context.Context, lock *store.Lock, opts RemoveOptions) error {
	in := lock.Instance()
	logf := func(format string, args ...any) {
		if opts.Logf != nil {
			opts.Logf(format, args...)
		}
	}
	if st, err := in.ReadState(); err == nil && st.Protected {
		return &ProtectedError{Name: in.Name, Op: "removed"}
	}
	// A base of linked clones goes only after them, --force or not: their
	// disks read from its files.
	deps, err := Dependents(in)
	if err != nil {
		return fmt.Errorf("remove VM %s: find its linked clones: %w", in.Name, err)
	}
	if len(deps) > 0 {
		return &DependentsError{Name: in.Name, Dependents: deps}
	}
	if info := Status(in); info.PID != 0 {
		if !opts.Force {
			return &StateError{Name: in.Name, State: info.State, PID: info.PID, Op: "removed"}
		}
		logf("stopping VM %s (pid %d)", in.Name, info.PID)
		if _, err := Stop(ctx, lock, StopOptions{Force: true}); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return interrupted(ctx, fmt.Sprintf("VM %s is stopped but was not removed", in.Name))
	}
	// A guest that powered off by itself left its sidecars running.
	if err := stopSidecars(in); err != nil {
		return fmt.Errorf("remove VM %s: %w", in.Name, err)
	}
	logf("removing VM %s", in.Name)
	sweepLeftovers(filepath.Dir(in.Dir))
	dir := in.Dir
	if tmp, err := os.MkdirTemp(filepath.Dir(in.Dir), "."+in.Name+".removing-"); err == nil {
		// rename(2) replaces an empty directory.
		if err := os.Rename(in.Dir, tmp); err == nil {
			dir = tmp
		} else {
			os.Remove(tmp)
		}
	}
	if sd := in.SocketDir(); sd != in.Dir {
		os.RemoveAll(sd)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove %s: %w", dir, err)
	}
	return nil
}

// stopSidecars stops every sidecar the instance records, after QEMU.
func stopSidecars(in store.Instance) error {
	var errs []error
	for _, pf := range in.SidecarPIDs() {
		if err := qemu.StopSidecar(pf); err != nil {
			errs = append(errs, fmt.Errorf("sidecar %s: %w", filepath.Base(pf), err))
		}
	}
	return errors.Join(errs...)
}
