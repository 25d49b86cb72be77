package cli

import (
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/nixvm/nixvm/internal/images"
	"github.com/nixvm/nixvm/internal/store"
	"github.com/nixvm/nixvm/internal/vm"
)

func newListCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List VMs",
		Args:    cobra.NoArgs,
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		ins, err := store.List()
		if err != nil {
			return err
		}
		infos := make([]vm.Info, 0, len(ins))
		for _, in := range ins {
			infos = append(infos, vm.Status(in))
		}
		if asJSON {
			return writeJSON(cmd.OutOrStdout(), infos)
		}
		if len(infos) == 0 {
			fmt.Fprintln(cmd.OutOrStdout(), "No VMs. Create one with: nixvm create NAME")
			return nil
		}
		w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "NAME\tSTATE\tARCH\tFIRMWARE\tCPUS\tMEMORY\tDISK\tSSH\tCLONE OF")
		for _, i := range infos {
			ssh := "-"
			if i.SSHPort != 0 {
				ssh = "127.0.0.1:" + strconv.Itoa(i.SSHPort)
			}
			base := "-"
			if i.CloneOf != "" {
				base = i.CloneOf
			}
			state := i.State
			if i.Protected {
				state += " (protected)"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", i.Name, state, i.Arch, i.Firmware, i.CPUs, i.Memory, images.HumanBytes(i.DiskBytes), ssh, base)
		}
		return w.Flush()
	}
	return cmd
}
