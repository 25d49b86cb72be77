package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/nixvm/nixvm/internal/store"
	"github.com/nixvm/nixvm/internal/vm"
)

func newProtectCommand() *cobra.Command {
	var off bool
	cmd := &cobra.Command{
		Use:   "protect NAME [--off]",
		Short: "Keep a VM as a golden base: it is not started or removed, VMs are made from it with create --from",
		Long: `Keep a stopped VM as a golden base. A protected VM is neither started nor
removed (not even with rm --force), so it stays exactly as it was
installed; make working VMs from it in the time of a boot:

    nixvm create dev1 --from NAME

--off lifts the protection.`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeVMNames,
	}
	cmd.Flags().BoolVar(&off, "off", false, "lift the protection")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		in, lock, err := lockVM(args[0], "protect")
		if err != nil {
			return err
		}
		defer lock.Unlock()
		if info := vm.Status(in); !off && info.State != vm.StateStopped {
			return fmt.Errorf("VM %s is %s: only a stopped VM can be protected as a base", in.Name, info.State)
		}
		if err := lock.UpdateState(func(st *store.State) { st.Protected = !off }); err != nil {
			return err
		}
		if off {
			fmt.Fprintf(cmd.OutOrStdout(), "VM %s is no longer protected\n", in.Name)
		} else {
			fmt.Fprintf(cmd.OutOrStdout(), "VM %s is protected: make VMs from it with nixvm create NEW --from %s\n", in.Name, in.Name)
		}
		return nil
	}
	return cmd
}
