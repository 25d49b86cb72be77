package cli

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// TestPlanAArch64 pins nixvm plan --arch aarch64: the configuration names
// the PL011 console (ttyAMA0), never x86's ttyS0, and the installer is
// booted as the virt machine with the ISO's kernel Image and the same
// console. The QEMU commands are golden-tested with the host's paths and
// the free ports replaced.
func TestPlanAArch64(t *testing.T) {
	_, data := planEnv(t, true)
	root := filepath.Dir(data)
	out, err := runPlan(t, "lab", "--arch", "aarch64", "--firmware", "uefi", "--partition-table", "gpt", "--swap", "1G", "--release", "25.11")
	if err != nil {
		t.Fatal(err)
	}
	files, qemuCmds, ok := strings.Cut(out, "\n==> qemu-commands.sh <==\n")
	if !ok {
		t.Fatalf("plan printed no QEMU commands:\n%s", out)
	}
	doctorGolden(t, "plan-aarch64-uefi-gpt-swap.golden", files)
	for _, want := range []string{`boot.kernelParams = [ "console=tty0" "console=ttyAMA0,115200n8" ];`, "boot.loader.systemd-boot.enable = true;"} {
		if !strings.Contains(files, want) {
			t.Errorf("configuration.nix lacks %q:\n%s", want, files)
		}
	}
	for _, want := range []string{"-machine virt", "/Image \\\n  -initrd ", "console=ttyAMA0,115200n8'", "efivars.qcow2", "scsi-cd,bus=scsi0.0,drive=cd0"} {
		if !strings.Contains(qemuCmds, want) {
			t.Errorf("plan's QEMU commands lack %q:\n%s", want, qemuCmds)
		}
	}
	if strings.Contains(out, "ttyS0") || strings.Contains(out, "bzImage") {
		t.Errorf("aarch64 plan names x86's console or kernel:\n%s", out)
	}

	// The QEMU commands depend on the host: golden only where aarch64 runs
	// under TCG with Debian's AAVMF (this project's machines and CI).
	bin, err := exec.LookPath("qemu-system-aarch64")
	if err != nil || runtime.GOARCH == "arm64" {
		t.Skipf("QEMU command golden needs qemu-system-aarch64 on a non-arm64 host (%v)", err)
	}
	if !strings.Contains(qemuCmds, "/usr/share/AAVMF/AAVMF_CODE.fd") {
		t.Skipf("QEMU command golden needs Debian's AAVMF pair:\n%s", qemuCmds)
	}
	norm := strings.ReplaceAll(qemuCmds, root, "ROOT")
	norm = strings.ReplaceAll(norm, bin, "QEMU-SYSTEM-AARCH64")
	norm = regexp.MustCompile(`127\.0\.0\.1:\d+-:22`).ReplaceAllString(norm, "127.0.0.1:PORT-:22")
	doctorGolden(t, "plan-aarch64-uefi-gpt-swap.qemu.golden", norm)
}

// TestPlanAArch64BIOS: a combination aarch64 cannot boot is refused with
// one line naming the field, before anything is made.
func TestPlanAArch64BIOS(t *testing.T) {
	planEnv(t, true)
	_, err := runPlan(t, "lab", "--arch", "aarch64", "--firmware", "bios")
	if err == nil {
		t.Fatal("plan --arch aarch64 --firmware bios succeeded")
	}
	if msg := err.Error(); strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "firmware: bios is not available on aarch64") {
		t.Errorf("error %q: want one line starting with \"firmware: bios is not available on aarch64\"", msg)
	}
}
