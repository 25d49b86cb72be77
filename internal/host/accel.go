package host

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
)

// TCGWarning is the Warning of every TCG Accel.
const TCGWarning = "no hardware acceleration: TCG software emulation is 10-50x slower"

// Accelerator decides how a guestArch guest runs here: kvm on Linux and hvf
// on macOS when the guest matches the host and the host really offers it,
// else tcg, with the reason why.
func (f *Facts) Accelerator(ctx context.Context, guestArch string) Accel {
	// Decided once per Facts (once per command): the probe runs QEMU.
	f.accelMu.Lock()
	defer f.accelMu.Unlock()
	if a, ok := f.accels[guestArch]; ok {
		return a
	}
	a := f.accelerator(ctx, guestArch)
	if ctx.Err() == nil { // an interrupted probe decides nothing
		if f.accels == nil {
			f.accels = map[string]Accel{}
		}
		f.accels[guestArch] = a
	}
	return a
}

func (f *Facts) accelerator(ctx context.Context, guestArch string) Accel {
	e := f.env
	if e == nil {
		e = realEnv()
	}
	tcg := func(format string, args ...any) Accel {
		return Accel{Name: "tcg", Reason: fmt.Sprintf(format, args...), Warning: TCGWarning}
	}
	if err := checkArch(guestArch); err != nil {
		return tcg("%v", err)
	}
	if guestArch != f.Arch {
		return tcg("guest %s on %s host", guestArch, f.Arch)
	}
	bin, ok := f.QEMU[guestArch]
	if !ok {
		return tcg("%s not found", ItemQEMU(guestArch))
	}
	var want, why string
	switch f.OS {
	case "linux":
		if err := e.openKVM(); err != nil {
			return tcg("%s", kvmReason(err))
		}
		// A paravirtual /dev/kvm (kvm_pvm, found in some sandboxes) opens
		// and passes QEMU's checks, but hangs stock guest kernels at
		// boot. Real KVM on x86 needs VT-x or AMD-V in the CPU flags.
		if guestArch == "x86_64" && !hasVirtFlags(e.cpuinfo) {
			return tcg("/dev/kvm exists but the CPU has no vmx or svm flag (nested or paravirtual KVM cannot boot stock guest kernels)")
		}
		want, why = "kvm", "/dev/kvm is usable"
	case "darwin":
		want, why = "hvf", "Hypervisor.framework"
	default:
		return tcg("no hardware accelerator supported on %s", f.OS)
	}
	out, err := run(ctx, bin.Path, "-accel", "help")
	if err != nil {
		return tcg("cannot list accelerators: %v", err)
	}
	accels := parseAccelHelp(string(out))
	if !slices.Contains(accels, want) {
		return tcg("%s does not support %s (its -accel help lists: %s)", bin.Path, want, strings.Join(accels, ", "))
	}
	return Accel{Name: want, Reason: fmt.Sprintf("%s and %s supports %s", why, bin.Path, want)}
}

// kvmReason explains why /dev/kvm could not be opened.
func kvmReason(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "/dev/kvm does not exist (enable virtualization in the firmware settings and load kvm_intel or kvm_amd)"
	case errors.Is(err, fs.ErrPermission):
		return "/dev/kvm: permission denied (add your user to the kvm group)"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return "/dev/kvm: " + err.Error()
}

// hasVirtFlags reports whether an x86 cpuinfo lists vmx or svm. When the
// file cannot be read or has no flags line, it does not block KVM.
func hasVirtFlags(cpuinfo string) bool {
	f, err := os.Open(cpuinfo)
	if err != nil {
		return true
	}
	defer f.Close()
	sawFlags := false
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(k) != "flags" {
			continue
		}
		sawFlags = true
		for _, fl := range strings.Fields(v) {
			if fl == "vmx" || fl == "svm" {
				return true
			}
		}
	}
	return !sawFlags
}

// parseAccelHelp reads the output of `qemu-system-* -accel help`:
//
//	Accelerators supported in QEMU binary:
//	tcg
//	kvm
func parseAccelHelp(out string) []string {
	var accels []string
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.Contains(line, " ") || strings.HasSuffix(line, ":") {
			continue
		}
		accels = append(accels, line)
	}
	return accels
}
