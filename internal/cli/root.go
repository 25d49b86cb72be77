// Package cli holds nixvm's commands, one file per verb. Commands parse
// flags, call planning code and executors, and print; they hold no logic of
// their own beyond that.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/nixvm/nixvm/internal/spec"
	"github.com/nixvm/nixvm/internal/vm"
)

// Streams are the standard streams a command talks to.
type Streams struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// exitError carries a specific exit code up to Run.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// withCode makes err exit the process with code.
func withCode(code int, err error) error { return &exitError{code: code, err: err} }

// SignalError is the cause of the context of SignalContext once a signal
// arrived.
type SignalError struct{ Signal syscall.Signal }

func (e *SignalError) Error() string { return "got " + e.Signal.String() }

// Is makes a SignalError a context.Canceled: code that reports
// context.Cause(ctx) instead of ctx.Err() still reads as cancelled.
func (e *SignalError) Is(target error) bool { return target == context.Canceled }

// SignalContext returns a context that is cancelled, with a *SignalError
// as its cause, on the first SIGINT or SIGTERM. Later signals are ignored
// until stop is called, so that the command can finish undoing what it did.
func SignalContext(parent context.Context) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-ch:
			s, _ := sig.(syscall.Signal)
			cancel(&SignalError{Signal: s})
		case <-done:
		}
	}()
	return ctx, func() {
		close(done)
		signal.Stop(ch)
		cancel(nil)
	}
}

// Run executes nixvm with args and returns the process exit code. A command
// cut short by ctx (Ctrl-C, SIGTERM) exits 128+signal (130 for Ctrl-C)
// with one line that says what was undone.
func Run(ctx context.Context, args []string, s Streams) int {
	root := newRootCommand(s)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	if code, line, ok := interruptExit(ctx, err); ok {
		fmt.Fprintln(s.Err, "nixvm:", line)
		return code
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && ee.err.Error() != "" {
			fmt.Fprintln(s.Err, "nixvm:", explain(ee.err))
		}
		return ee.code
	}
	fmt.Fprintln(s.Err, "nixvm:", explain(err))
	return 1
}

func newRootCommand(s Streams) *cobra.Command {
	root := &cobra.Command{
		Use:           "nixvm",
		Short:         "A NixOS machine in QEMU, in one command",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// Flag errors name the flag and what is valid (spec.FlagError).
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return spec.FlagError(err) })
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	root.AddCommand(
		newDoctorCommand(),
		newCreateCommand(),
		newPlanCommand(),
		newStartCommand(),
		newStopCommand(),
		newStatusCommand(),
		newListCommand(),
		newConsoleCommand(),
		newLogsCommand(),
		newRmCommand(),
		newImageCommand(),
		newSSHCommand(),
		newSSHConfigCommand(),
		newVersionCommand(),
		newAgentCommand(),
		newDiskCommand(),
		newScreenshotCommand(),
		newDisplayCommand(),
		newCloneCommand(),
		newProtectCommand(),
		newSnapshotCommand(),
	)
	return root
}

// interruptExit says how nixvm exits when err is the end of a command cut
// short by ctx: 128+signal (130 without a known signal), and one line,
// what the operation says it undid, else that it stopped before changing a
// VM. ok is false for any other error.
func interruptExit(ctx context.Context, err error) (code int, line string, ok bool) {
	if ctx.Err() == nil || !errors.Is(err, context.Canceled) {
		return 0, "", false
	}
	code = 130
	var se *SignalError
	if errors.As(context.Cause(ctx), &se) && se.Signal != 0 {
		code = 128 + int(se.Signal)
	}
	line = "interrupted before any VM was changed"
	var ie *vm.InterruptedError
	if errors.As(err, &ie) {
		line, _, _ = strings.Cut(ie.Msg, "\n")
		line += stepHint(ie.Step)
	}
	return code, line, true
}
