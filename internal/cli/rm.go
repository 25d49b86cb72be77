package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/nixvm/nixvm/internal/vm"
)

func newRmCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:               "rm NAME",
		Aliases:           []string{"remove", "delete"},
		Short:             "Remove a VM and its disks",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeVMNames,
	}
	cmd.Flags().BoolVar(&force, "force", false, "stop the VM first if it is running")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		in, lock, err := lockVM(args[0], "rm")
		if err != nil {
			return err
		}
		defer lock.Unlock()
		if err := vm.Remove(cmd.Context(), lock, vm.RemoveOptions{Force: force, Logf: logfTo(cmd.ErrOrStderr())}); err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "Removed VM %s\n", in.Name)
		return nil
	}
	return cmd
}
