// Package arch is the one place that knows how the guest architectures
// differ: QEMU's machine type and CPU model, the UEFI firmware pairs, the
// serial console's device name (ttyS0 on x86's 16550, ttyAMA0 on the
// virt machine's PL011), the installer kernel's file name, the boot loader
// per firmware and partition table, the default display device and how much
// slower emulation is. The QEMU planner, the installer boot and the
// generated configuration.nix all read it; nothing else names a console.
//
// It is pure: tables and functions of their arguments.
package arch

import (
	"fmt"
	"strconv"
	"strings"
)

// Names of the guest architectures, as NixOS and the ISO labels spell them.
const (
	X86_64  = "x86_64"
	AArch64 = "aarch64"
)

// Names lists the architectures, default first.
var Names = []string{X86_64, AArch64}

// Boot loaders, as configuration.nix configures them.
const (
	GrubBIOS    = "grub (BIOS)"
	SystemdBoot = "systemd-boot"
	// GrubEFI is GRUB installed to the ESP at the removable path: UEFI on
	// an MBR disk, where systemd-boot's bootctl refuses the ESP.
	GrubEFI = "grub (UEFI)"
)

// UEFIPair is a firmware CODE image (read-only pflash) and the VARS
// template each VM copies, as paths relative to a search root.
type UEFIPair struct{ Code, Vars string }

// TCG is how QEMU's emulator runs a guest of this architecture.
type TCG struct {
	// CPU is the -cpu model under TCG. "max" enables every feature QEMU
	// emulates, including the costly ones (aarch64 pointer authentication
	// with the architected QARMA5 hash); a named core has only its own.
	CPU string
	// MultiThread runs one host thread per vCPU (-accel tcg,thread=multi)
	// when the VM has more than one.
	MultiThread bool
	// TBSizeMiB is the translation block cache (-accel tcg,tb-size=N);
	// 0 leaves QEMU's default (1 GiB since QEMU 5.0 for system emulation).
	TBSizeMiB int
	// DeadlineFactor multiplies the install's waits on the guest, which are
	// sized for KVM/HVF.
	DeadlineFactor int
}

// Machine describes one guest architecture.
type Machine struct {
	Name string // X86_64 | AArch64
	// Console is the serial console's device name in the guest, the one
	// QEMU's first -serial is wired to.
	Console string
	// GrubSerial is GRUB's command that opens that serial port: the
	// 16550 at COM1 on x86 (BIOS and EFI alike), the firmware's serial
	// protocol (GRUB's efi0) on aarch64, which has no port I/O.
	GrubSerial string
	// KernelFile is the installer's kernel file name on the NixOS ISO.
	KernelFile string
	// EFIBoot is the removable-media boot file under /EFI/BOOT.
	EFIBoot string
	// BIOS says whether the machine can boot without UEFI (SeaBIOS).
	BIOS bool
	// UEFI lists the CODE/VARS pairs distributions ship, relative to
	// /usr/share, best first. 4M images come first (the 2M ones cannot hold
	// enough variables for some guests). Secure-boot CODE images are left
	// out on purpose: they need their own enrolled VARS, and an installer
	// booting unsigned kernels must not run under them.
	UEFI []UEFIPair
	// BundledUEFI is the pair QEMU installs itself (make install, Nix,
	// Homebrew), relative to <prefix>/share/qemu.
	BundledUEFI UEFIPair
	// IDE says whether the machine has an IDE/AHCI controller for CD-ROMs
	// (pc, q35); virt has none, CD-ROMs go on virtio-scsi.
	IDE bool
	// Display is the graphics device (DisplayArgs): x86's -vga type,
	// aarch64's virtio-gpu device. SpiceDisplay is x86's -vga type with
	// --display spice, one the viewer can resize.
	Display, SpiceDisplay string
	TCG                   TCG
}

var machines = map[string]Machine{
	X86_64: {
		Name:       X86_64,
		Console:    "ttyS0",
		GrubSerial: "serial --unit=0 --speed=115200",
		KernelFile: "bzImage",
		EFIBoot:    "BOOTX64.EFI",
		BIOS:       true,
		UEFI: []UEFIPair{
			{"OVMF/OVMF_CODE_4M.fd", "OVMF/OVMF_VARS_4M.fd"},                 // Debian, Ubuntu
			{"edk2/x64/OVMF_CODE.4m.fd", "edk2/x64/OVMF_VARS.4m.fd"},         // Arch
			{"qemu/ovmf-x86_64-4m-code.bin", "qemu/ovmf-x86_64-4m-vars.bin"}, // openSUSE
			{"edk2/ovmf/OVMF_CODE.fd", "edk2/ovmf/OVMF_VARS.fd"},             // Fedora
			{"edk2-ovmf/x64/OVMF_CODE.fd", "edk2-ovmf/x64/OVMF_VARS.fd"},     // Arch (older edk2-ovmf)
			{"qemu/ovmf-x86_64-code.bin", "qemu/ovmf-x86_64-vars.bin"},       // openSUSE
			{"OVMF/OVMF_CODE.fd", "OVMF/OVMF_VARS.fd"},                       // Debian, Ubuntu (2M)
		},
		BundledUEFI: UEFIPair{"edk2-x86_64-code.fd", "edk2-i386-vars.fd"},
		IDE:         true,
		Display:     "std",
		// QXL: "Recommended choice when using the spice protocol" (QEMU's
		// -vga documentation); its size follows the viewer's window.
		SpiceDisplay: "qxl",
		TCG:          TCG{CPU: "max", MultiThread: true, DeadlineFactor: 5},
	},
	AArch64: {
		Name:       AArch64,
		Console:    "ttyAMA0",
		GrubSerial: "serial --speed=115200 efi0",
		KernelFile: "Image",
		EFIBoot:    "BOOTAA64.EFI",
		BIOS:       false,
		// Debian's /usr/share/qemu-efi-aarch64/QEMU_EFI.fd is not listed: it
		// has no VARS and is not padded for pflash; the same package ships
		// the AAVMF pair.
		UEFI: []UEFIPair{
			{"AAVMF/AAVMF_CODE.fd", "AAVMF/AAVMF_VARS.fd"},                                // Debian, Ubuntu
			{"edk2/aarch64/QEMU_EFI-pflash.raw", "edk2/aarch64/vars-template-pflash.raw"}, // Fedora
			{"edk2/aarch64/QEMU_CODE.fd", "edk2/aarch64/QEMU_VARS.fd"},                    // Arch
			{"qemu/aavmf-aarch64-code.bin", "qemu/aavmf-aarch64-vars.bin"},                // openSUSE
		},
		BundledUEFI: UEFIPair{"edk2-aarch64-code.fd", "edk2-arm-vars.fd"},
		IDE:         false,
		Display:     "virtio-gpu-pci",
		// A foreign guest: every instruction is translated. A named core
		// rather than "max": max adds pointer authentication (QARMA5 in
		// QEMU 7.2, pauth-impdef no cheaper there), SVE and the rest, which
		// Debian's and NixOS's arm64 code (built with branch protection)
		// pays for on every call. With cortex-a72 (ARMv8.0) the installer
		// reached its prompt 2.4x faster than with QEMU's defaults (median
		// of 3 interleaved rounds of bench/aarch64-tcg.sh, ratio 0.42; the
		// same user-mode binaries 1.2-1.5x faster; docs/aarch64.md).
		TCG: TCG{CPU: "cortex-a72", MultiThread: true, DeadlineFactor: 12},
	},
}

// For returns the description of arch, or an error naming the field.
func For(arch string) (Machine, error) {
	m, ok := machines[arch]
	if !ok {
		return Machine{}, fmt.Errorf("arch: %q is not one of %s", arch, strings.Join(Names, ", "))
	}
	return m, nil
}

// MustFor is For for architectures that were validated already (a spec
// after Validate); an unknown name is a programming error.
func MustFor(arch string) Machine {
	m, err := For(arch)
	if err != nil {
		panic(err)
	}
	return m
}

// SerialConsole is the kernel parameter that puts the kernel's console,
// and with it systemd's serial getty, on the serial port.
func (m Machine) SerialConsole() string { return "console=" + m.Console + ",115200n8" }

// MachineType is QEMU's -machine value for accel ("kvm", "hvf", "tcg") and
// firmware ("bios", "uefi").
func (m Machine) MachineType(accel, firmware string) string {
	if m.Name == AArch64 {
		switch accel {
		case "kvm":
			return "virt,gic-version=host"
		case "tcg":
			return "virt,gic-version=max"
		default:
			// hvf: QEMU picks the GIC the accelerator supports; "host" is
			// KVM-only and "max" is not accepted by every hvf release.
			return "virt"
		}
	}
	if firmware == "uefi" {
		return "q35"
	}
	return "pc"
}

// Accel is QEMU's -accel value for accel and the VM's vCPU count.
func (m Machine) Accel(accel string, cpus int) string {
	if accel != "tcg" {
		return accel
	}
	a := "tcg"
	if m.TCG.MultiThread && cpus > 1 {
		a += ",thread=multi"
	}
	if m.TCG.TBSizeMiB > 0 {
		a += ",tb-size=" + strconv.Itoa(m.TCG.TBSizeMiB)
	}
	return a
}

// CPU is QEMU's -cpu value for accel: the host's CPU with a hypervisor,
// the emulated model under TCG.
func (m Machine) CPU(accel string) string {
	if accel == "tcg" {
		return m.TCG.CPU
	}
	return "host"
}

// DeadlineFactor scales the install's waits for accel.
func (m Machine) DeadlineFactor(accel string) int {
	if accel == "tcg" {
		return m.TCG.DeadlineFactor
	}
	return 1
}

// CheckFirmware says whether the machine boots with firmware, as a
// one-line error naming the field.
func (m Machine) CheckFirmware(firmware string) error {
	if firmware == "bios" && !m.BIOS {
		return fmt.Errorf("firmware: bios is not available on %s (QEMU's virt machine boots UEFI only; use firmware: uefi)", m.Name)
	}
	return nil
}

// DisplayArgs are the QEMU arguments of the graphics device and its input
// devices for display mode (none, gtk, sdl, spice, vnc) of a VM whose
// guest runs a desktop or not.
//
// x86 always has a VGA, so the installer's framebuffer console has
// somewhere to go and nixvm screenshot works headless: the standard VGA
// (bochs-drm in the guest), or with SPICE the QXL card, which QEMU's
// manual recommends for SPICE and whose size the viewer's window sets (the
// SPICE agent in the guest's X session applies it). aarch64's virt machine
// has no legacy VGA: a virtio-gpu comes with a display, and with a desktop
// even headless (its X server needs a screen, nixvm screenshot takes it).
// The USB tablet (an absolute pointer, so the viewer does not grab the
// mouse) and keyboard come only with a display.
func (m Machine) DisplayArgs(mode string, desktop bool) []string {
	graphic := mode != "none"
	if m.Name == AArch64 {
		var a []string
		if graphic || desktop {
			a = append(a, "-device", m.Display)
		}
		if graphic {
			a = append(a, "-device", "qemu-xhci", "-device", "usb-kbd", "-device", "usb-tablet")
		}
		return a
	}
	vga := m.Display
	if mode == "spice" {
		vga = m.SpiceDisplay
	}
	a := []string{"-vga", vga}
	if graphic {
		a = append(a, "-usb", "-device", "usb-tablet")
	}
	return a
}

// BootLoader is the boot loader configuration.nix sets up for firmware
// ("bios", "uefi") on a partition table ("gpt", "mbr").
func (m Machine) BootLoader(firmware, table string) string {
	switch {
	case firmware != "uefi":
		return GrubBIOS
	case table == "gpt":
		return SystemdBoot
	default:
		return GrubEFI
	}
}
