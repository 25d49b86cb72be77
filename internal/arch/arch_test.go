package arch

import (
	"strings"
	"testing"
)

func TestMachines(t *testing.T) {
	for _, tc := range []struct {
		arch, console, kernel, efi, tcgMachine, kvmMachine string
		bios                                               bool
	}{
		{X86_64, "console=ttyS0,115200n8", "bzImage", "BOOTX64.EFI", "q35", "q35", true},
		{AArch64, "console=ttyAMA0,115200n8", "Image", "BOOTAA64.EFI", "virt,gic-version=max", "virt,gic-version=host", false},
	} {
		m, err := For(tc.arch)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.SerialConsole(); got != tc.console {
			t.Errorf("%s: console %q, want %q", tc.arch, got, tc.console)
		}
		if m.KernelFile != tc.kernel || m.EFIBoot != tc.efi || m.BIOS != tc.bios {
			t.Errorf("%s: kernel %q efi %q bios %v, want %q %q %v", tc.arch, m.KernelFile, m.EFIBoot, m.BIOS, tc.kernel, tc.efi, tc.bios)
		}
		if got := m.MachineType("tcg", "uefi"); got != tc.tcgMachine {
			t.Errorf("%s: tcg machine %q, want %q", tc.arch, got, tc.tcgMachine)
		}
		if got := m.MachineType("kvm", "uefi"); got != tc.kvmMachine {
			t.Errorf("%s: kvm machine %q, want %q", tc.arch, got, tc.kvmMachine)
		}
		if m.CPU("kvm") != "host" || m.CPU("tcg") == "host" || m.CPU("tcg") == "" {
			t.Errorf("%s: cpu kvm %q tcg %q", tc.arch, m.CPU("kvm"), m.CPU("tcg"))
		}
		if m.Accel("kvm", 4) != "kvm" || !strings.HasPrefix(m.Accel("tcg", 1), "tcg") || strings.Contains(m.Accel("tcg", 1), "thread=multi") {
			t.Errorf("%s: accel kvm %q, tcg with 1 cpu %q", tc.arch, m.Accel("kvm", 4), m.Accel("tcg", 1))
		}
		if m.DeadlineFactor("kvm") != 1 || m.DeadlineFactor("tcg") < 5 {
			t.Errorf("%s: deadline factors kvm %d tcg %d", tc.arch, m.DeadlineFactor("kvm"), m.DeadlineFactor("tcg"))
		}
		if len(m.UEFI) == 0 || m.BundledUEFI.Code == "" {
			t.Errorf("%s: no UEFI firmware pairs", tc.arch)
		}
		if err := m.CheckFirmware("bios"); (err == nil) != tc.bios {
			t.Errorf("%s: CheckFirmware(bios) = %v", tc.arch, err)
		}
		if err := m.CheckFirmware("uefi"); err != nil {
			t.Errorf("%s: CheckFirmware(uefi) = %v", tc.arch, err)
		}
	}
	if MustFor(X86_64).MachineType("tcg", "bios") != "pc" {
		t.Error("x86_64 bios is not the pc machine")
	}
}

func TestUnknownArch(t *testing.T) {
	_, err := For("riscv64")
	if err == nil || !strings.HasPrefix(err.Error(), `arch: "riscv64" is not one of x86_64, aarch64`) {
		t.Errorf("For(riscv64) = %v", err)
	}
}

func TestBIOSErrorIsOneLineNamingTheField(t *testing.T) {
	err := MustFor(AArch64).CheckFirmware("bios")
	if err == nil || strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), "firmware: ") {
		t.Errorf("CheckFirmware(bios) = %v", err)
	}
}

func TestBootLoader(t *testing.T) {
	for _, a := range Names {
		m := MustFor(a)
		for _, tc := range []struct{ fw, table, want string }{
			{"uefi", "gpt", SystemdBoot}, {"uefi", "mbr", GrubEFI}, {"bios", "mbr", GrubBIOS}, {"bios", "gpt", GrubBIOS},
		} {
			if got := m.BootLoader(tc.fw, tc.table); got != tc.want {
				t.Errorf("%s %s %s: %q, want %q", a, tc.fw, tc.table, got, tc.want)
			}
		}
	}
}
