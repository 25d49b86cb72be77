package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/nixvm/nixvm/internal/host"
	"github.com/nixvm/nixvm/internal/store"
	"github.com/nixvm/nixvm/internal/vm"
)

// nixvm snapshot: the parent of create, list, restore and rm (one file per
// verb: snapshot_create.go, ...). docs/snapshots.md says what they do.
func newSnapshotCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "snapshot",
		Short: "Snapshots of a VM: create, list, restore, rm",
		Long: `Snapshots of a VM's disks and UEFI variables (internal qcow2 snapshots).

A stopped VM is snapshotted and restored image by image, all or nothing. A
running VM is snapshotted with its RAM state (restoring it resumes the VM
exactly where it was), or with --disk-only while the guest agent keeps its
file systems frozen. Read-only drives (installer ISO, seed) are not part of
a snapshot. See docs/snapshots.md.`,
	}
	cmd.AddCommand(
		newSnapshotCreateCommand(),
		newSnapshotListCommand(),
		newSnapshotRestoreCommand(),
		newSnapshotRmCommand(),
	)
	return cmd
}

// snapshotVM looks up and locks VM name for op and finds the host's tools.
func snapshotVM(cmd *cobra.Command, name, op string) (store.Instance, *store.Lock, *host.Facts, error) {
	in, lock, err := lockVM(name, op)
	if err != nil {
		return in, nil, nil, err
	}
	facts, err := detectHost(cmd.Context())
	if err != nil {
		lock.Unlock()
		return in, nil, nil, err
	}
	return in, lock, facts, nil
}

// printWarnings prints what a snapshot command could not tidy up, and
// words into each warning's message the command that tidies it (so that
// --json shows it too).
func printWarnings(w io.Writer, r *vm.SnapshotResult) {
	for i, warn := range r.Warnings {
		r.Warnings[i].Msg = warn.Msg + stepHint(warn.Step)
		fmt.Fprintln(w, "warning:", r.Warnings[i].Msg)
	}
}

// ramNote describes a snapshot's RAM state for a message.
func ramNote(ram bool, size int64) string {
	if !ram {
		return "disks only"
	}
	if size > 0 {
		return "with RAM state, " + humanBytes(size)
	}
	return "with RAM state"
}
