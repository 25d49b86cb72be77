package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/nixvm/nixvm/internal/console"
	"github.com/nixvm/nixvm/internal/store"
	"github.com/nixvm/nixvm/internal/vm"
)

func newConsoleCommand() *cobra.Command {
	return &cobra.Command{
		Use:               "console NAME",
		Short:             "Attach to a VM's serial console (Ctrl-] detaches)",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeVMNames,
		RunE: func(cmd *cobra.Command, args []string) error {
			in, err := store.Lookup(args[0])
			if err != nil {
				return err
			}
			if info := vm.Status(in); info.PID == 0 {
				return fmt.Errorf("VM %s is %s: start it first (nixvm start %s)", in.Name, info.State, in.Name)
			}
			return console.Attach(cmd.Context(), in.SerialSocket(), cmd.InOrStdin(), cmd.OutOrStdout(), in.Name)
		},
	}
}
