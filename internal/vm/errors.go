package vm

import (
	"context"
	"time"

	"github.com/nixvm/nixvm/internal/arch"
	"github.com/nixvm/nixvm/internal/host"
)

// InterruptedError is the error of an operation cut short by its context
// (Ctrl-C, SIGTERM). Its message is one line that says what was undone and
// in what state the VM was left; errors.Is(err, context.Canceled) holds.
type InterruptedError struct {
	Err error // the context's error
	Msg string
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
