package cli

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/nixvm/nixvm/internal/vm"
)

func TestInterruptExit(t *testing.T) {
	cancelled := func(cause error) context.Context {
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(cause)
		return ctx
	}
	undone := &vm.InterruptedError{Err: context.Canceled, Msg: "interrupted: VM a is still running\nmore"}
	stepped := &vm.InterruptedError{Err: context.Canceled, Msg: "interrupted: VM a is still running (pid 7): it was asked to power off and may still do so",
		Step: vm.Step{Next: vm.NextForceStop, Name: "a"}}
	tests := []struct {
		name     string
		ctx      context.Context
		err      error
		ok       bool
		code     int
		wantLine string
	}{
		{"SIGINT, says what was undone", cancelled(&SignalError{syscall.SIGINT}), fmt.Errorf("stop: %w", undone), true, 130, "interrupted: VM a is still running"},
		{"with the step that helps", cancelled(&SignalError{syscall.SIGINT}), stepped, true, 130,
			"interrupted: VM a is still running (pid 7): it was asked to power off and may still do so; nixvm stop --force a quits it at once"},
		{"SIGTERM", cancelled(&SignalError{syscall.SIGTERM}), undone, true, 143, "interrupted: VM a is still running"},
		{"no VM touched", cancelled(&SignalError{syscall.SIGINT}), fmt.Errorf("get the installer: %w", context.Canceled), true, 130, "interrupted before any VM was changed"},
		{"cancelled without a signal", cancelled(nil), context.Canceled, true, 130, "interrupted before any VM was changed"},
		{"an error while not cancelled", context.Background(), context.Canceled, false, 0, ""},
		{"another error after a signal", cancelled(&SignalError{syscall.SIGINT}), errors.New("disk full"), false, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, line, ok := interruptExit(tt.ctx, tt.err)
			if ok != tt.ok || code != tt.code || line != tt.wantLine {
				t.Errorf("interruptExit = %d, %q, %v; want %d, %q, %v", code, line, ok, tt.code, tt.wantLine, tt.ok)
			}
		})
	}
}

// TestSignalContext: a real SIGINT to this process cancels the context with
// the signal as its cause.
func TestSignalContext(t *testing.T) {
	ctx, stop := SignalContext(context.Background())
	defer stop()
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	<-ctx.Done()
	var se *SignalError
	if !errors.As(context.Cause(ctx), &se) || se.Signal != syscall.SIGINT {
		t.Fatalf("cause = %v, want SIGINT", context.Cause(ctx))
	}
}

func TestSignalErrorIsCanceled(t *testing.T) {
	err := fmt.Errorf("download failed: %w", &SignalError{syscall.SIGINT})
	if !errors.Is(err, context.Canceled) {
		t.Fatal("a SignalError cause does not read as context.Canceled")
	}
}
