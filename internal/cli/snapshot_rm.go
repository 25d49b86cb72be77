package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nixvm/nixvm/internal/vm"
)

func newSnapshotRmCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:               "rm NAME TAG",
		Short:             "Remove a snapshot from every image of a VM",
		Args:              cobra.ExactArgs(2),
		ValidArgsFunction: completeVMNames,
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		in, lock, facts, err := snapshotVM(cmd, args[0], "snapshot-rm")
		if err != nil {
			return err
		}
		defer lock.Unlock()
		r, err := vm.SnapshotDelete(cmd.Context(), facts, lock, args[1])
		if err != nil {
			return err
		}
		if asJSON {
			return writeJSON(cmd.OutOrStdout(), r)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "Snapshot %s of VM %s removed (%s)\n", r.Tag, in.Name, strings.Join(r.Images, ", "))
		return nil
	}
	return cmd
}
