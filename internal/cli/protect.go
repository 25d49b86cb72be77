package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/nixvm/nixvm/internal/host"
	"github.com/nixvm/nixvm/internal/vm"
)

func newProtectCommand() *cobra.Command {
	var off bool
	cmd := &cobra.Command{
		Use:   "protect NAME [--off]",
		Short: "Keep a VM as a golden base: it is not started or removed, VMs are made from it with create --from",
		Long: `Keep a stopped VM as a golden base. A protected VM is neither started,
removed (not even with rm --force), snapshotted nor restored, so it stays
exactly as it was installed; make working VMs from it in the time of a
boot (a VM with snapshots cannot be protected: remove them first):

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
		var facts *host.Facts // only protecting looks at the disks
		if !off {
			if facts, err = detectHost(cmd.Context()); err != nil {
				return err
			}
		}
		if err := vm.Protect(cmd.Context(), facts, lock, !off); err != nil {
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
