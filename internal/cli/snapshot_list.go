package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/nixvm/nixvm/internal/vm"
)

func newSnapshotListCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list NAME",
		Short: "List a VM's snapshots",
		Long: `List VM NAME's snapshots: tag, date (UTC), whether it holds RAM state and
how large that is, and whether it is on every image (incomplete: a snapshot
command was killed part way; restore refuses it, rm removes it).

qcow2 snapshots share clusters with each other and with the current state,
so no per-snapshot disk size is shown: the total is what the VM's images
take on the host, all snapshots included (docs/snapshots.md).`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeVMNames,
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the listing as JSON")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		in, lock, facts, err := snapshotVM(cmd, args[0], "snapshot-list")
		if err != nil {
			return err
		}
		defer lock.Unlock()
		l, err := vm.SnapshotList(cmd.Context(), facts, lock)
		if err != nil {
			return err
		}
		if asJSON {
			return writeJSON(cmd.OutOrStdout(), l)
		}
		out := cmd.OutOrStdout()
		if len(l.Snapshots) == 0 {
			fmt.Fprintf(out, "VM %s has no snapshots. Take one with: nixvm snapshot create %s [TAG]\n", in.Name, in.Name)
		} else {
			w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "TAG\tDATE (UTC)\tRAM STATE\tIMAGES\tSTATUS")
			for _, e := range l.Snapshots {
				ram := "-"
				if e.RAM {
					ram = humanBytes(e.RAMBytes)
				}
				status := "complete"
				switch {
				case !e.Complete:
					status = "INCOMPLETE (missing on " + strings.Join(e.Missing, ", ") + "): nixvm snapshot rm"
				case e.Internal:
					status = "left by a killed restore: nixvm snapshot rm"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", e.Tag, e.Date.Format("2006-01-02 15:04:05"), ram, strings.Join(e.Images, ","), status)
			}
			if err := w.Flush(); err != nil {
				return err
			}
		}
		var parts []string
		for _, u := range l.Images {
			parts = append(parts, u.Label+" "+humanBytes(u.Bytes))
		}
		fmt.Fprintf(out, "On disk: %s for the current state and all snapshots together (%s); RAM states are inside disk0\n", humanBytes(l.DiskBytes), strings.Join(parts, ", "))
		return nil
	}
	return cmd
}
