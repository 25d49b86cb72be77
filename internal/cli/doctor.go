package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/nixvm/nixvm/internal/host"
)

// doctorProbe gathers the host facts and each guest arch's accelerator.
// A seam so tests can give fixed facts.
type doctorProbe func(ctx context.Context) (*host.Facts, map[string]host.Accel, error)

func newDoctorCommand() *cobra.Command { return newDoctorCommandWith(probeHost) }

func probeHost(ctx context.Context) (*host.Facts, map[string]host.Accel, error) {
	f, err := host.Detect(ctx)
	if err != nil {
		return nil, nil, err
	}
	accels := map[string]host.Accel{}
	for _, arch := range host.Arches {
		accels[arch] = f.Accelerator(ctx, arch)
	}
	return f, accels, nil
}

func newDoctorCommandWith(probe doctorProbe) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check that this host can run VMs: QEMU, qemu-img, firmware, accelerator",
		Long: `Check that this host can run VMs: QEMU, qemu-img, firmware, accelerator.

For each missing item, doctor lists where it looked and the package to
install. It exits non-zero only when no VM can run at all (no QEMU for the
host's architecture, or no qemu-img); a missing aarch64 QEMU or missing UEFI
firmware is a warning.`,
		Args: cobra.NoArgs,
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		f, accels, err := probe(cmd.Context())
		if err != nil {
			return fmt.Errorf("inspect host: %w", err)
		}
		r := newDoctorReport(f, accels)
		out := cmd.OutOrStdout()
		if asJSON {
			b, err := json.MarshalIndent(r, "", "  ")
			if err != nil {
				return err
			}
			if _, err := out.Write(append(b, '\n')); err != nil {
				return err
			}
		} else if err := r.write(out); err != nil {
			return err
		}
		if !r.OK {
			return withCode(1, fmt.Errorf("no VM can run on this host: %s missing", strings.Join(r.fatal, ", ")))
		}
		return nil
	}
	return cmd
}

// doctorReport is what doctor prints; its JSON form is stable output.
type doctorReport struct {
	OS     string `json:"os"`
	Arch   string `json:"arch"`
	Distro string `json:"distro"`
	// Accelerator is the host arch's accelerator (x86_64's on a host of
	// another arch): what a native VM will get.
	Accelerator  string                    `json:"accelerator"`
	Accelerators map[string]host.Accel     `json:"accelerators"`
	QEMU         map[string]host.Binary    `json:"qemu"`
	QEMUImg      *host.Binary              `json:"qemuImg"`
	UEFI         map[string]*host.UEFIPair `json:"uefi"` // the pair VMs will use; null if none
	SeaBIOS      string                    `json:"seabios"`
	// Runnable lists, per guest arch, the firmware its VMs can boot with.
	Runnable map[string][]string `json:"runnable"`
	Problems []string            `json:"problems"`
	OK       bool                `json:"ok"`

	missing []*host.MissingError
	fatal   []string // items without which no VM can run
}

func newDoctorReport(f *host.Facts, accels map[string]host.Accel) *doctorReport {
	native := f.Arch
	if !slices.Contains(host.Arches, native) {
		native = "x86_64"
	}
	r := &doctorReport{
		OS: f.OS, Arch: f.Arch, Distro: f.Distro,
		Accelerator:  accels[native].Name,
		Accelerators: accels,
		QEMU:         f.QEMU,
		QEMUImg:      f.QEMUImg,
		UEFI:         map[string]*host.UEFIPair{},
		SeaBIOS:      f.SeaBIOS,
		Runnable:     map[string][]string{},
		Problems:     []string{},
	}
	if r.QEMU == nil {
		r.QEMU = map[string]host.Binary{}
	}
	note := func(err error, fatal bool) bool {
		var me *host.MissingError
		if err == nil {
			return true
		}
		if errors.As(err, &me) {
			r.missing = append(r.missing, me)
			if fatal {
				r.fatal = append(r.fatal, me.What)
			}
		}
		r.Problems = append(r.Problems, err.Error())
		return false
	}
	hasQEMU := map[string]bool{}
	for _, arch := range host.Arches {
		_, err := f.QEMUFor(arch)
		hasQEMU[arch] = note(err, arch == native)
	}
	hasImg := note(second(f.RequireQEMUImg()), true)
	hasUEFI := map[string]bool{}
	for _, arch := range host.Arches {
		p, err := f.UEFIFor(arch)
		if hasUEFI[arch] = note(err, false); hasUEFI[arch] {
			r.UEFI[arch] = &p
		} else {
			r.UEFI[arch] = nil
		}
	}
	hasBIOS := note(second(f.RequireSeaBIOS()), false)
	if a := accels[native]; a.Name == "tcg" {
		r.Problems = append(r.Problems, fmt.Sprintf("%s guests run without hardware acceleration: %s", native, a.Reason))
	}

	for _, arch := range host.Arches {
		if !hasQEMU[arch] || !hasImg {
			continue
		}
		fw := []string{}
		if arch == "x86_64" && hasBIOS {
			fw = append(fw, "bios")
		}
		if hasUEFI[arch] {
			fw = append(fw, "uefi")
		}
		r.Runnable[arch] = fw
	}
	r.OK = len(r.fatal) == 0
	return r
}

func second[T any](_ T, err error) error { return err }

func (r *doctorReport) write(out io.Writer) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	machine := r.OS + " " + r.Arch
	if r.Distro != "" {
		machine += " (" + r.Distro + ")"
	}
	fmt.Fprintf(w, "Host:\t%s\n", machine)
	binary := func(b *host.Binary) string {
		if b == nil {
			return "missing"
		}
		if b.Version == "" {
			return b.Path
		}
		return b.Path + " (" + b.Version + ")"
	}
	for _, arch := range host.Arches {
		var b *host.Binary
		if q, ok := r.QEMU[arch]; ok {
			b = &q
		}
		fmt.Fprintf(w, "qemu-system-%s:\t%s\n", arch, binary(b))
	}
	fmt.Fprintf(w, "qemu-img:\t%s\n", binary(r.QEMUImg))
	var warnings []string
	for _, arch := range host.Arches {
		a := r.Accelerators[arch]
		fmt.Fprintf(w, "Accelerator %s:\t%s: %s\n", arch, a.Name, a.Reason)
		if a.Warning != "" && !slices.Contains(warnings, a.Warning) {
			warnings = append(warnings, a.Warning)
		}
	}
	for _, arch := range host.Arches {
		s := "missing"
		if p := r.UEFI[arch]; p != nil {
			s = p.Code + " + " + p.Vars
		}
		fmt.Fprintf(w, "UEFI %s:\t%s\n", arch, s)
	}
	seabios := r.SeaBIOS
	if seabios == "" {
		seabios = "missing"
	}
	fmt.Fprintf(w, "SeaBIOS:\t%s\n", seabios)
	if err := w.Flush(); err != nil {
		return err
	}

	for _, warn := range warnings {
		fmt.Fprintf(out, "\nWarning: %s.\n", warn)
	}
	for _, m := range r.missing {
		fmt.Fprintf(out, "\nMissing %s.\n", m.What)
		for i, s := range m.Searched {
			label := "  Searched:"
			if i > 0 {
				label = "           "
			}
			fmt.Fprintf(out, "%s %s\n", label, s)
		}
		if m.Note != "" {
			fmt.Fprintf(out, "  Note: %s\n", m.Note)
		}
		if m.Install != "" {
			fmt.Fprintf(out, "  To fix: %s\n", m.Install)
		}
	}

	fmt.Fprintln(out)
	if !r.OK {
		_, err := fmt.Fprintf(out, "Not ready: no VM can run (%s missing).\n", strings.Join(r.fatal, ", "))
		return err
	}
	var ready []string
	for _, arch := range host.Arches {
		if fw, ok := r.Runnable[arch]; ok {
			if len(fw) == 0 {
				fw = []string{"no firmware found"}
			}
			ready = append(ready, fmt.Sprintf("%s VMs (%s)", arch, strings.Join(fw, ", ")))
		}
	}
	_, err := fmt.Fprintf(out, "Ready: %s.\n", strings.Join(ready, "; "))
	return err
}
