package vm

import (
	"context"
	"fmt"
	"time"

	"github.com/nixvm/nixvm/internal/arch"
	"github.com/nixvm/nixvm/internal/host"
)

// InterruptedError is the error of an operation cut short by its context
// (Ctrl-C, SIGTERM). Its message is one line that says what was undone and
// in what state the VM was left; errors.Is(err, context.Canceled) holds.
type InterruptedError struct {
	Err  error // the context's error
	Msg  string
	Step Step // what the user can do next, if anything
}

func (e *InterruptedError) Error() string { return e.Msg }
func (e *InterruptedError) Unwrap() error { return e.Err }

// interrupted returns an *InterruptedError for ctx, whose message is
// "interrupted: " + what.
func interrupted(ctx context.Context, what string) error {
	err := ctx.Err()
	if err == nil {
		err = context.Canceled
	}
	return &InterruptedError{Err: err, Msg: "interrupted: " + what}
}

// interruptedStep is interrupted with the step that helps.
func interruptedStep(ctx context.Context, what string, next Next, name, tag string) error {
	err := interrupted(ctx, what).(*InterruptedError)
	err.Step = Step{Next: next, Name: name, Tag: tag}
	return err
}

// TCGFactor is how much longer waits on the guest or on QEMU get under TCG
// (software emulation, 10-50x slower than KVM, and on a loaded host QEMU's
// own set-up slows down with it).
const TCGFactor = 5

// Scaled returns base, multiplied by TCGFactor under TCG.
func Scaled(base time.Duration, accel host.Accel) time.Duration {
	if accel.Name == "tcg" {
		return base * TCGFactor
	}
	return base
}

// qmpUpDeadline is how long a started QEMU gets to answer on QMP (scaled).
const qmpUpDeadline = 30 * time.Second

// bootDeadline is how long a started VM's guest gets to answer SSH under
// KVM/HVF (the install's first-boot deadline); see BootDeadline.
const bootDeadline = 5 * time.Minute

// BootDeadline is how long a started guest of arch gets to answer SSH,
// with the machine's deadline factor under TCG.
func BootDeadline(archName string, accel host.Accel) time.Duration {
	return bootDeadline * time.Duration(arch.MustFor(archName).DeadlineFactor(accel.Name))
}

// Next names what a user can do about an error or a warning, by what it
// does; only the CLI words it as a command (internal/cli's hint).
type Next int

const (
	NextNone                  Next = iota
	NextRemove                     // remove the VM
	NextStatus                     // look at the VM's status
	NextLogs                       // read the VM's logs
	NextForceStop                  // quit the VM's QEMU at once
	NextRetryInstall               // create the VM again, or remove it
	NextSnapshotRm                 // remove the snapshot Tag (what is left of it)
	NextSnapshotList               // list the VM's snapshots (what is left)
	NextSnapshotRestore            // restore the snapshot Tag (the state before)
	NextPickTag                    // pick another tag, or remove the snapshot Tag
	NextSnapshotRAM                // snapshot the VM with its RAM state, or stopped
	NextRestoreOrForceStop         // restore again, or quit the VM at once
	NextForceStopThenRestore       // quit the VM at once, then restore again
	NextStopThenRestore            // stop the VM, then restore
	NextThaw                       // thaw the guest's file systems through its agent
	NextCloneWithoutSnapshots      // remove the VM's snapshots, or make a full copy
	NextPullArch                   // get an installer ISO for the architecture Tag
	NextStop                       // stop the VM
	NextRecreate                   // remove the VM and create it again (with this nixvm)
	NextRemoveSnapshots            // remove the VM's snapshots
)

// Step is the step that helps, for the VM Name and, where it is about one,
// the snapshot (or architecture) Tag.
type Step struct {
	Next Next
	Name string
	Tag  string
}

// StepError is an error with the step that helps. Its message is Err's: the
// fact, without a command.
type StepError struct {
	Err error
	Step
}

func (e *StepError) Error() string { return e.Err.Error() }
func (e *StepError) Unwrap() error { return e.Err }

// withStep returns err with the step next for VM name (and tag).
func withStep(err error, next Next, name, tag string) error {
	if next == NextNone {
		return err
	}
	return &StepError{Err: err, Step: Step{Next: next, Name: name, Tag: tag}}
}

// StateError is an operation refused because of the state the VM is in
// (StateRunning, StateInstalling, StateFailed, StateIncomplete, ...).
type StateError struct {
	Name  string
	State string
	PID   int    // of its QEMU or installer, if known
	Op    string // what was refused: "started", "removed", "cloned", "loaded"
	Why   string // more of the fact, if any
	Err   error  // the cause, if any
}

func (e *StateError) Error() string {
	s := "VM " + e.Name + " is " + e.State
	switch {
	case e.State == StateInstalling:
		s = "VM " + e.Name + " is being installed"
	case e.State == StateRunning && e.Op == "started":
		s = "VM " + e.Name + " is already running"
	}
	if e.PID != 0 {
		s += fmt.Sprintf(" (pid %d)", e.PID)
	}
	if e.Why != "" {
		s += ": " + e.Why
	}
	return s
}

func (e *StateError) Unwrap() error { return e.Err }

// ExistsError is the error of making a VM whose name is taken.
type ExistsError struct{ Name string }

func (e *ExistsError) Error() string { return fmt.Sprintf("VM %q already exists", e.Name) }
