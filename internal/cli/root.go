// Package cli holds nixvm's commands, one file per verb. Commands parse
// flags, call planning code and executors, and print; they hold no logic of
// their own beyond that.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/nixvm/nixvm/internal/spec"
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

// Run executes nixvm with args and returns the process exit code.
func Run(ctx context.Context, args []string, s Streams) int {
	root := newRootCommand(s)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && ee.err.Error() != "" {
			fmt.Fprintln(s.Err, "nixvm:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(s.Err, "nixvm:", err)
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
	)
	return root
}
