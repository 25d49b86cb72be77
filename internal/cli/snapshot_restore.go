package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/nixvm/nixvm/internal/vm"
)

func newSnapshotRestoreCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "restore NAME TAG",
		Short: "Revert a VM to a snapshot",
		Long: `Revert VM NAME to snapshot TAG: every disk and the UEFI variables, together.

A snapshot with RAM state is loaded into a running VM, which resumes exactly
where it was when the snapshot was taken; a stopped VM is started from it.
A snapshot without RAM state (taken stopped, or --disk-only) needs the VM
stopped. A tag missing on any image changes nothing.`,
		Args:              cobra.ExactArgs(2),
		ValidArgsFunction: completeVMNames,
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		ctx := cmd.Context()
		in, lock, facts, err := snapshotVM(cmd, args[0], "snapshot-restore")
		if err != nil {
			return err
		}
		defer lock.Unlock()
		s, err := vm.LoadSpec(in)
		if err != nil {
			return err
		}
		// How the VM starts when a RAM snapshot is loaded into it while
		// it is stopped: as nixvm start NAME would (nothing is downloaded).
		start, err := vm.ResolveBoot(ctx, in, s, vm.BootRequest{NoDownload: true})
		if err != nil {
			return err
		}
		start.HostDisplay = os.Getenv("DISPLAY") != "" || os.Getenv("WAYLAND_DISPLAY") != ""
		r, err := vm.SnapshotRestore(ctx, facts, lock, args[1], vm.SnapshotOptions{
			Start: start,
			Logf:  logfTo(cmd.ErrOrStderr()),
		})
		if err != nil {
			return err
		}
		printWarnings(cmd.ErrOrStderr(), &r)
		if asJSON {
			return writeJSON(cmd.OutOrStdout(), r)
		}
		out := cmd.OutOrStdout()
		switch {
		case r.Started:
			fmt.Fprintf(out, "VM %s started from snapshot %s (its RAM state: it resumes where it was) in %.1fs\n", in.Name, r.Tag, r.Seconds)
		case r.Running:
			fmt.Fprintf(out, "VM %s restored to snapshot %s and resumed where it was then (%.1fs)\n", in.Name, r.Tag, r.Seconds)
		default:
			fmt.Fprintf(out, "VM %s restored to snapshot %s (its disks and UEFI variables; it is stopped) in %.1fs\n", in.Name, r.Tag, r.Seconds)
		}
		return nil
	}
	return cmd
}
