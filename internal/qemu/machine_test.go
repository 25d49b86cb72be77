package qemu

import (
	"reflect"
	"strings"
	"testing"

	"github.com/nixvm/nixvm/internal/spec"
)

// TestBuild checks the typed model: the block node names (the snapshot
// code names images by them), the firmware attached to the machine's
// pflash properties, and the guest device of every drive.
func TestBuild(t *testing.T) {
	const iso, seed, kernel = "/c/nixos.iso", "/v/seed.iso", "/c/bzImage"
	type drive struct {
		node   string
		device DeviceKind
		bus    string
		boot   int // -1: not in the boot order
	}
	tests := []struct {
		arch, fw          string
		iso, seed, kernel bool
		disks             int
		wantMachine       string
		wantFirmware      []string
		wantDrives        []drive
	}{
		{arch: "x86_64", fw: "bios", disks: 1, wantMachine: "pc",
			wantDrives: []drive{{"disk0", VirtioBlk, "", 0}}},
		{arch: "x86_64", fw: "bios", iso: true, seed: true, kernel: true, disks: 2, wantMachine: "pc",
			wantDrives: []drive{{"cd0", IDECD, "", 1}, {"disk0", VirtioBlk, "", 2}, {"disk1", VirtioBlk, "", 3}, {"seed", IDECD, "ide.1", -1}}},
		{arch: "x86_64", fw: "uefi", disks: 1, wantMachine: "q35,pflash0=efi-code,pflash1=efi-vars",
			wantFirmware: []string{EFICodeNode, EFIVarsNode},
			wantDrives:   []drive{{"disk0", VirtioBlk, "", 0}}},
		{arch: "x86_64", fw: "uefi", iso: true, disks: 1, wantMachine: "q35,pflash0=efi-code,pflash1=efi-vars",
			wantFirmware: []string{EFICodeNode, EFIVarsNode},
			wantDrives:   []drive{{"cd0", IDECD, "", 0}, {"disk0", VirtioBlk, "", 1}}},
		{arch: "aarch64", fw: "uefi", disks: 1, wantMachine: "virt,gic-version=max,pflash0=efi-code,pflash1=efi-vars",
			wantFirmware: []string{EFICodeNode, EFIVarsNode},
			wantDrives:   []drive{{"disk0", VirtioBlk, "", 0}}},
		{arch: "aarch64", fw: "uefi", seed: true, kernel: true, disks: 1, wantMachine: "virt,gic-version=max,pflash0=efi-code,pflash1=efi-vars",
			wantFirmware: []string{EFICodeNode, EFIVarsNode},
			wantDrives:   []drive{{"disk0", VirtioBlk, "", 1}, {"seed", SCSICD, "scsi0.0", -1}}},
		{arch: "aarch64", fw: "uefi", iso: true, seed: true, disks: 2, wantMachine: "virt,gic-version=max,pflash0=efi-code,pflash1=efi-vars",
			wantFirmware: []string{EFICodeNode, EFIVarsNode},
			wantDrives:   []drive{{"cd0", SCSICD, "scsi0.0", 0}, {"disk0", VirtioBlk, "", 1}, {"disk1", VirtioBlk, "", 2}, {"seed", SCSICD, "scsi0.0", -1}}},
	}
	for _, tt := range tests {
		name := tt.arch + "-" + tt.fw
		p := base(tt.arch, tt.fw, "tcg", "none")
		p.Spec.Disks = make([]spec.Disk, tt.disks)
		for i := range p.Spec.Disks {
			p.Spec.Disks[i].Size = spec.GiB
		}
		if tt.iso {
			p.ISO, name = iso, name+"-iso"
		}
		if tt.seed {
			p.Seed, name = seed, name+"-seed"
		}
		if tt.kernel {
			p.Kernel, name = kernel, name+"-kernel"
		}
		t.Run(name, func(t *testing.T) {
			m, err := Build(p)
			if err != nil {
				t.Fatal(err)
			}
			var fw []string
			for _, f := range m.Firmware {
				fw = append(fw, f.Node)
			}
			if !reflect.DeepEqual(fw, tt.wantFirmware) {
				t.Errorf("firmware nodes %q, want %q", fw, tt.wantFirmware)
			}
			if len(m.Firmware) == 2 {
				code, vars := m.Firmware[0], m.Firmware[1]
				if code.File != p.UEFICode || !code.ReadOnly || code.Format != "raw" {
					t.Errorf("firmware code %+v: want %s, read-only, raw", code, p.UEFICode)
				}
				if vars.File != p.Instance.EFIVars() || vars.ReadOnly || vars.Format != p.Instance.EFIVarsFormat() {
					t.Errorf("firmware vars %+v: want %s, writable, %s", vars, p.Instance.EFIVars(), p.Instance.EFIVarsFormat())
				}
			}
			var got []drive
			for _, d := range m.Drives {
				b := -1
				if d.Boot {
					b = d.BootIndex
				}
				got = append(got, drive{d.Node, d.Device, d.Bus, b})
				disk := d.Device == VirtioBlk
				if d.ReadOnly == disk || d.Discard != disk {
					t.Errorf("drive %s: read-only %v, discard %v; want a disk writable with discard, a CD read-only", d.Node, d.ReadOnly, d.Discard)
				}
			}
			if !reflect.DeepEqual(got, tt.wantDrives) {
				t.Errorf("drives\n got %v\nwant %v", got, tt.wantDrives)
			}
			for i := 0; i < tt.disks; i++ {
				if d := m.Drives[indexOf(m, DiskNode(i))]; d.File != p.Instance.Disk(i) || d.Format != "qcow2" {
					t.Errorf("disk %d: %+v", i, d)
				}
			}

			argv := m.Argv()
			if v := after(argv, "-machine"); v != tt.wantMachine {
				t.Errorf("-machine %q, want %q", v, tt.wantMachine)
			}
			if has(argv, "-drive") {
				t.Errorf("argv has -drive: %q", argv)
			}
			line := strings.Join(argv, " ")
			for _, n := range append(append([]string{}, fw...), nodes(m)...) {
				for _, want := range []string{"node-name=" + FileNode(n) + ",", "node-name=" + n + ",file=" + FileNode(n)} {
					if !strings.Contains(line, want) {
						t.Errorf("argv lacks %q: %s", want, line)
					}
				}
			}
			for _, d := range m.Drives {
				if !strings.Contains(line, string(d.Device)+",") || !strings.Contains(line, "drive="+d.Node) {
					t.Errorf("argv has no %s device for node %s: %s", d.Device, d.Node, line)
				}
			}
			if n := strings.Count(line, "virtio-scsi-pci"); n > 1 || (n == 1) != (tt.arch == "aarch64" && (tt.iso || tt.seed)) {
				t.Errorf("%d virtio-scsi controllers: %s", n, line)
			}
		})
	}
}

func nodes(m Machine) []string {
	var n []string
	for _, d := range m.Drives {
		n = append(n, d.Node)
	}
	return n
}

func indexOf(m Machine, node string) int {
	for i, d := range m.Drives {
		if d.Node == node {
			return i
		}
	}
	return -1
}

func after(argv []string, flag string) string {
	for i, a := range argv {
		if a == flag && i+1 < len(argv) {
			return argv[i+1]
		}
	}
	return ""
}

// TestBuildDisplay: the graphics and input devices of each display mode, on
// VMs with and without a desktop.
func TestBuildDisplay(t *testing.T) {
	x86Input := []string{"-usb", "-device", "usb-tablet"}
	armInput := []string{"-device", "qemu-xhci", "-device", "usb-kbd", "-device", "usb-tablet"}
	tests := []struct {
		arch, display, desktop string
		want                   []string
	}{
		{"x86_64", "none", "none", []string{"-vga", "std"}},
		{"x86_64", "none", "i3", []string{"-vga", "std"}},
		{"x86_64", "gtk", "i3", append([]string{"-vga", "std"}, x86Input...)},
		{"x86_64", "vnc", "none", append([]string{"-vga", "std"}, x86Input...)},
		{"x86_64", "spice", "dwm", append([]string{"-vga", "qxl"}, x86Input...)},
		{"x86_64", "spice", "none", append([]string{"-vga", "qxl"}, x86Input...)},
		{"aarch64", "none", "none", nil},
		{"aarch64", "none", "i3", []string{"-device", "virtio-gpu-pci"}},
		{"aarch64", "none", "dwm", []string{"-device", "virtio-gpu-pci"}},
		{"aarch64", "sdl", "none", append([]string{"-device", "virtio-gpu-pci"}, armInput...)},
		{"aarch64", "spice", "i3", append([]string{"-device", "virtio-gpu-pci"}, armInput...)},
	}
	for _, tt := range tests {
		t.Run(tt.arch+"-"+tt.display+"-"+tt.desktop, func(t *testing.T) {
			p := base(tt.arch, "uefi", "tcg", tt.display)
			p.Spec.Desktop = tt.desktop
			m, err := Build(p)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(m.Display.Devices, tt.want) {
				t.Errorf("display devices %q, want %q", m.Display.Devices, tt.want)
			}
		})
	}
}
