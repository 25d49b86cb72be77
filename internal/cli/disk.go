package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/nixvm/nixvm/internal/diskview"
	"github.com/nixvm/nixvm/internal/store"
)

func newDiskCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "disk NAME|IMAGE",
		Short: "Show the partitions of a VM's disks, or of a qcow2 or raw image",
		Long: `Show the partition table of every disk of VM NAME (or of one .qcow2 or raw
image file) and what each partition holds: file system, label and UUID,
swap, LVM physical volume with its volume group and logical volumes, md
RAID member with its array. Like GParted or lsblk, but read straight from
the image on the host: nothing is booted and no root is needed.

It works on a running VM too. The image is read without a lock and
without a snapshot, so what is shown is what the guest last wrote out:
consistent enough to show the layout, not a backup.`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeVMNames,
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON: a list of disks")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		paths, err := diskPaths(args[0])
		if err != nil {
			return err
		}
		disks := make([]*diskview.Disk, 0, len(paths))
		for _, p := range paths {
			d, err := diskview.InspectFile(cmd.Context(), p)
			if err != nil {
				return err
			}
			disks = append(disks, d)
		}
		out := cmd.OutOrStdout()
		if asJSON {
			return writeJSON(out, disks)
		}
		for i, d := range disks {
			if i > 0 {
				fmt.Fprintln(out)
			}
			renderDisk(out, d)
		}
		return nil
	}
	return cmd
}

// diskPaths resolves the argument: an existing file or anything that looks
// like a path is an image; otherwise it names a VM, whose disks are
// disk0.qcow2, disk1.qcow2, ...
func diskPaths(arg string) ([]string, error) {
	if fi, err := os.Stat(arg); err == nil && !fi.IsDir() {
		return []string{arg}, nil
	}
	if strings.ContainsRune(arg, '/') || strings.HasSuffix(arg, ".qcow2") || strings.HasSuffix(arg, ".raw") || strings.HasSuffix(arg, ".img") {
		return nil, fmt.Errorf("disk image %s: no such file (give a VM name or an existing .qcow2 or raw image)", arg)
	}
	in, err := store.Lookup(arg)
	if err != nil {
		return nil, err
	}
	var paths []string
	for i := 0; i < 64; i++ {
		p := in.Disk(i)
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("VM %s: %w", in.Name, err)
		}
		paths = append(paths, p)
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("VM %s has no disk image yet (%s is missing; was its create interrupted? see nixvm status %s)", in.Name, in.Disk(0), in.Name)
	}
	return paths, nil
}

// renderDisk prints one disk as a compact table, GParted's columns.
func renderDisk(w io.Writer, d *diskview.Disk) {
	id := ""
	if d.ID != "" {
		id = " " + d.ID
	}
	fmt.Fprintf(w, "%s: %s, %s, %s%s\n", d.Path, d.Format, humanBytes(d.Size), tableName(d.Table), id)
	for _, warn := range d.Warnings {
		fmt.Fprintf(w, "  warning: %s\n", warn)
	}
	if d.Table == diskview.TableNone {
		fmt.Fprintf(w, "  whole disk: %s\n", contentLine(d.Content))
		for _, l := range contentDetail(d.Content, "    ") {
			fmt.Fprintln(w, l)
		}
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  #\tSTART\tEND\tSIZE\tTYPE\tNAME\tFLAGS\tCONTENT")
	for _, p := range d.Partitions {
		typ := p.TypeName
		if d.Table == diskview.TableMBR {
			typ = p.Type + " " + p.TypeName
		}
		if p.Kind == "logical" {
			typ += " (" + p.Kind + ")"
		}
		fmt.Fprintf(tw, "  %d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\n", p.Number, p.Start, p.End, humanBytes(p.Size),
			typ, dash(p.Name), dash(strings.Join(p.Flags, ",")), contentLine(p.Content))
	}
	tw.Flush()
	for _, p := range d.Partitions {
		if det := contentDetail(p.Content, "      "); len(det) > 0 {
			fmt.Fprintf(w, "  partition %d:\n", p.Number)
			for _, l := range det {
				fmt.Fprintln(w, l)
			}
		}
	}
}

func tableName(t string) string {
	switch t {
	case diskview.TableGPT:
		return "GPT"
	case diskview.TableMBR:
		return "MBR (dos)"
	}
	return "no partition table"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// contentLine is the one-cell summary: type, version, label, UUID.
func contentLine(c *diskview.Content) string {
	if c == nil {
		return "-"
	}
	parts := []string{c.Type}
	switch {
	case c.MD != nil:
		parts = append(parts, "md "+c.MD.Name, c.MD.Level, fmt.Sprintf("role %d of %d", c.MD.Role, c.MD.RaidDisks))
	case c.LVM != nil:
		if c.LVM.VG != "" {
			parts = append(parts, "vg "+c.LVM.VG)
		}
	default:
		if c.Version != "" && c.Type == "vfat" {
			parts = append(parts, c.Version)
		}
		if c.Label != "" {
			parts = append(parts, fmt.Sprintf("%q", c.Label))
		}
		if c.UUID != "" {
			parts = append(parts, c.UUID)
		}
	}
	return strings.Join(parts, " ")
}

// contentDetail lists what a container holds: an md array's content, a
// VG's logical volumes and theirs.
func contentDetail(c *diskview.Content, indent string) []string {
	if c == nil {
		return nil
	}
	var ls []string
	if c.MD != nil {
		ls = append(ls, fmt.Sprintf("%sarray %s uuid %s: %s", indent, c.MD.Name, c.MD.UUID, contentLine(c.MD.Content)))
		ls = append(ls, contentDetail(c.MD.Content, indent+"  ")...)
	}
	if c.LVM != nil {
		ls = append(ls, fmt.Sprintf("%sPV %s in VG %s", indent, c.LVM.PVUUID, dash(c.LVM.VG)))
		for _, lv := range c.LVM.LVs {
			ls = append(ls, fmt.Sprintf("%s  LV %-12s %9s  %s", indent, lv.Name, humanBytes(lv.Size), contentLine(lv.Content)))
			ls = append(ls, contentDetail(lv.Content, indent+"    ")...)
		}
	}
	return ls
}

// humanBytes prints a size in binary units with at most one decimal.
func humanBytes(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	f := float64(n)
	i := 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d B", n)
	}
	s := fmt.Sprintf("%.1f", f)
	s = strings.TrimSuffix(s, ".0")
	return s + " " + units[i]
}
