package integration

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestInstallerBoot boots fixture installers of both ISO layouts by direct
// kernel boot (start --installer) under SeaBIOS and OVMF, and checks that
// the default entry's parameters arrive in the guest with the serial
// console added.
func TestInstallerBoot(t *testing.T) {
	cases := []struct{ layout, firmware string }{
		{"old", "bios"},
		{"new", "uefi"},
	}
	for _, c := range cases {
		t.Run(c.layout+"-"+c.firmware, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			isoPath := filepath.Join(t.TempDir(), "installer.iso")
			build := exec.Command(filepath.Join(repoRoot(), "scripts", "build-test-iso"), isoPath, "--layout", c.layout)
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("build %s-layout ISO: %v\n%s", c.layout, err, out)
			}
			inspect := e.ok("image", "inspect", isoPath, "--json")
			want := regexp.MustCompile(`"cmdline":\s*"([^"]*)"`).FindStringSubmatch(inspect)
			if want == nil || !strings.Contains(want[1], "root=LABEL=nixos-minimal-25.11-x86_64") {
				t.Fatalf("image inspect --json has no NixOS cmdline:\n%s", inspect)
			}

			name := "inst-" + c.layout
			e.ok("create", name, "--manual", "--iso", testISO, "--firmware", c.firmware, "--memory", "512M", "--disk", "2G")
			dry := e.ok("start", name, "--installer", "--iso", isoPath, "--dry-run")
			for _, w := range []string{"-kernel", "-initrd", "-append", isoPath, "console=ttyS0,115200n8"} {
				if !strings.Contains(dry, w) {
					t.Fatalf("dry run lacks %q:\n%s", w, dry)
				}
			}
			e.ok("start", name, "--installer", "--iso", isoPath)
			e.waitLog(name, guestReady, 3*time.Minute)
			log := e.ok("logs", name)
			booted := regexp.MustCompile(`nixvm-test-guest: booted cmdline=(.*)`).FindStringSubmatch(log)
			if booted == nil || !strings.Contains(booted[1], want[1]+" console=ttyS0,115200n8") {
				t.Fatalf("guest cmdline %q does not carry the default entry's %q plus the serial console", booted, want[1])
			}
			if !strings.Contains(log, "nixvm-test-guest: firmware="+c.firmware) {
				t.Fatalf("guest did not boot through %s:\n%s", c.firmware, tail(log, 10))
			}
			if !strings.Contains(log, "iso=/dev/sr0") {
				t.Fatalf("the ISO is not attached as a CD-ROM in the guest:\n%s", tail(log, 10))
			}
			e.ok("stop", name)
		})
	}
}
