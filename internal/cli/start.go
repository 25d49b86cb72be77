package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/nixvm/nixvm/internal/qemu"
	"github.com/nixvm/nixvm/internal/spec"
	"github.com/nixvm/nixvm/internal/store"
	"github.com/nixvm/nixvm/internal/vm"
)

func newStartCommand() *cobra.Command {
	var (
		iso     string
		noISO   bool
		display string
		dryRun  bool
	)
	cmd := &cobra.Command{
		Use:               "start NAME",
		Short:             "Start a VM",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeVMNames,
	}
	cmd.Flags().StringVar(&iso, "iso", "", "attach this ISO as a CD-ROM and boot it first")
	cmd.Flags().BoolVar(&noISO, "no-iso", false, "boot from disk: detach the installer ISO of a --manual VM for good")
	cmd.Flags().StringVar(&display, "display", "", "display for this start: none (serial console), gtk, sdl or vnc (a unix socket)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the QEMU command and start nothing")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if display != "" && !contains(spec.Displays, display) {
			return fmt.Errorf("--display: %q is not valid (use none, gtk, sdl or vnc)", display)
		}
		if iso != "" && noISO {
			return fmt.Errorf("--iso and --no-iso: give at most one")
		}
		ctx := cmd.Context()
		in, err := store.Lookup(args[0])
		if err != nil {
			return err
		}
		facts, err := detectHost(ctx)
		if err != nil {
			return err
		}
		opts := vm.StartOptions{ISO: iso, Display: display}
		if dryRun {
			s, err := vm.LoadSpec(in)
			if err != nil {
				return err
			}
			if st, err := in.ReadState(); err == nil && st.Manual && opts.ISO == "" && !noISO {
				opts.ISO = st.ISO
			}
			plan, err := vm.Plan(ctx, facts, in, s, opts)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), qemu.Shell(plan.Argv))
			return nil
		}
		lock, err := in.TryLock()
		if err != nil {
			return err
		}
		defer lock.Unlock()
		if noISO {
			if err := in.UpdateState(func(st *store.State) { st.Manual, st.ISO = false, "" }); err != nil {
				return err
			}
		}
		started, err := vm.Start(ctx, facts, in, opts)
		if err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		if w := started.Accel.Warning; w != "" {
			fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s\n", w)
		}
		fmt.Fprintf(out, "Started VM %s (pid %d, %s)\n", in.Name, started.PID, started.Accel.Name)
		fmt.Fprintf(out, "Serial console: nixvm console %s   Log: nixvm logs -f %s\n", in.Name, in.Name)
		fmt.Fprintf(out, "SSH forwarded from 127.0.0.1:%d\n", started.SSHPort)
		return nil
	}
	return cmd
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
