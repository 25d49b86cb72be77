package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/nixvm/nixvm/internal/vm"
)

func newSnapshotCreateCommand() *cobra.Command {
	var (
		diskOnly bool
		asJSON   bool
	)
	cmd := &cobra.Command{
		Use:   "create NAME [TAG]",
		Short: "Take a snapshot of a VM (with its RAM state when it runs)",
		Long: `Take snapshot TAG (default snap-YYYYMMDD-HHMMSS, UTC) of VM NAME: of every disk
and of the UEFI variables. A running VM is saved with its RAM state (the
guest pauses for the time it takes); with --disk-only its file systems are
frozen through the guest agent instead and only the disks are taken, in one
step. A failure or Ctrl-C part way leaves no snapshot behind.`,
		Args:              cobra.RangeArgs(1, 2),
		ValidArgsFunction: completeVMNames,
	}
	cmd.Flags().BoolVar(&diskOnly, "disk-only", false, "a running VM: no RAM state; freeze the guest's file systems (guest agent) while the disks are taken")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		tag := vm.DefaultTag(time.Now())
		if len(args) == 2 {
			tag = args[1]
		}
		if err := vm.ValidateTag(tag); err != nil {
			return err
		}
		in, lock, facts, err := snapshotVM(cmd, args[0], "snapshot-create")
		if err != nil {
			return err
		}
		defer lock.Unlock()
		r, err := vm.SnapshotCreate(cmd.Context(), facts, lock, tag, vm.SnapshotOptions{
			DiskOnly: diskOnly,
			Logf:     logfTo(cmd.ErrOrStderr()),
		})
		if err != nil {
			return err
		}
		printWarnings(cmd.ErrOrStderr(), &r)
		if asJSON {
			return writeJSON(cmd.OutOrStdout(), r)
		}
		how := "stopped"
		switch {
		case r.Running && r.RAM:
			how = "running; it ran on"
		case r.Running:
			how = fmt.Sprintf("running, %d file system(s) frozen meanwhile", r.Frozen)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "Snapshot %s of VM %s taken (%s; %s; VM %s) in %.1fs\n",
			r.Tag, in.Name, strings.Join(r.Images, ", "), ramNote(r.RAM, r.RAMBytes), how, r.Seconds)
		return nil
	}
	return cmd
}
