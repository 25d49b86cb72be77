package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/nixvm/nixvm/internal/images"
	"github.com/nixvm/nixvm/internal/store"
	"github.com/nixvm/nixvm/internal/vm"
)

func newStatusCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:               "status NAME",
		Short:             "Show a VM's state",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeVMNames,
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		in, err := store.Lookup(args[0])
		if err != nil {
			return err
		}
		info := vm.Status(in)
		if asJSON {
			return writeJSON(cmd.OutOrStdout(), info)
		}
		w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
		fmt.Fprintf(w, "Name:\t%s\n", info.Name)
		fmt.Fprintf(w, "State:\t%s\n", info.State)
		if info.Reason != "" {
			fmt.Fprintf(w, "Reason:\t%s\n", info.Reason)
		}
		if info.PID != 0 {
			fmt.Fprintf(w, "PID:\t%d\n", info.PID)
		}
		if info.CPUs != 0 {
			fmt.Fprintf(w, "Machine:\t%s, %s, %d CPUs, %s memory\n", info.Arch, info.Firmware, info.CPUs, info.Memory)
		}
		fmt.Fprintf(w, "Disk use:\t%s\n", images.HumanBytes(info.DiskBytes))
		if info.SSHPort != 0 {
			fmt.Fprintf(w, "SSH port:\t127.0.0.1:%d\n", info.SSHPort)
		}
		fmt.Fprintf(w, "Directory:\t%s\n", info.Dir)
		return w.Flush()
	}
	return cmd
}
