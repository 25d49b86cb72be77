package vm

import (
	"testing"

	"github.com/nixvm/nixvm/internal/iso"
)

// TestInstallerBoot: the one installer decision (create, start
// --installer, plan): the default entry's kernel and initrd from the boot
// cache, its parameters, plus the arch's serial console once.
func TestInstallerBoot(t *testing.T) {
	tests := []struct {
		name string
		info iso.Info
		want DirectBoot
	}{
		{"x86_64 adds ttyS0", iso.Info{Arch: "x86_64", Kernel: "/boot/bzImage", Cmdline: "init=/nix/store/x/init loglevel=4"},
			DirectBoot{Kernel: "/c/boot/k/bzImage", Initrd: "/c/boot/k/initrd", Append: "init=/nix/store/x/init loglevel=4 console=ttyS0,115200n8"}},
		{"console already there", iso.Info{Arch: "x86_64", Kernel: "/boot/bzImage", Cmdline: "console=ttyS0,115200n8 loglevel=4"},
			DirectBoot{Kernel: "/c/boot/k/bzImage", Initrd: "/c/boot/k/initrd", Append: "console=ttyS0,115200n8 loglevel=4"}},
		{"aarch64 uses its own console", iso.Info{Arch: "aarch64", Kernel: "/boot/Image", Cmdline: "init=/x"},
			DirectBoot{Kernel: "/c/boot/k/Image", Initrd: "/c/boot/k/initrd", Append: "init=/x console=ttyAMA0,115200n8"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := InstallerBoot(&tt.info, "/c/boot/k")
			if err != nil || got != tt.want {
				t.Errorf("InstallerBoot = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}
