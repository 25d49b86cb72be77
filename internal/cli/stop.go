package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/nixvm/nixvm/internal/vm"
)

func newStopCommand() *cobra.Command {
	var opts vm.StopOptions
	cmd := &cobra.Command{
		Use:   "stop NAME",
		Short: "Stop a VM: ACPI power off, then quit, then kill",
		Long: `Stop a VM. nixvm presses the ACPI power button and waits up to --timeout
for the guest to power off; then it tells QEMU to quit, and kills it as a
last resort. It says which of these ended the VM.`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeVMNames,
	}
	cmd.Flags().BoolVar(&opts.Force, "force", false, "do not wait for the guest: quit QEMU at once (like pulling the plug)")
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", 2*time.Minute, "how long the guest gets to power off before QEMU is told to quit")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if opts.Timeout <= 0 {
			return fmt.Errorf("--timeout: must be positive, e.g. 30s or 2m")
		}
		in, lock, err := lockVM(args[0], "stop")
		if err != nil {
			return err
		}
		defer lock.Unlock()
		start := time.Now()
		opts.Logf = logfTo(cmd.ErrOrStderr())
		how, err := vm.Stop(cmd.Context(), lock, opts)
		if err != nil {
			return err
		}
		took := time.Since(start).Round(100 * time.Millisecond)
		out := cmd.OutOrStdout()
		switch how {
		case vm.StoppedNone:
			fmt.Fprintf(out, "VM %s is not running\n", in.Name)
		case vm.StoppedACPI:
			fmt.Fprintf(out, "VM %s powered off (ACPI shutdown, %s)\n", in.Name, took)
		case vm.StoppedQuit:
			if opts.Force {
				fmt.Fprintf(out, "VM %s stopped (QEMU quit at once, --force)\n", in.Name)
			} else {
				fmt.Fprintf(out, "VM %s did not power off within %s: QEMU was told to quit\n", in.Name, opts.Timeout)
			}
		case vm.StoppedKilled:
			fmt.Fprintf(out, "VM %s did not stop: QEMU was killed\n", in.Name)
		}
		return nil
	}
	return cmd
}
