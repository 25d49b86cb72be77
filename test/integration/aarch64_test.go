package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nixvm/nixvm/internal/iso"
)

// The aarch64 e2e: a foreign guest under TCG on an x86_64 host, installed
// from the arm64 stand-in (scripts/build-standin-iso --arch aarch64). It is
// slow (an install takes many times the x86_64 one), so it runs only when
// asked: NIXVM_TEST_AARCH64=1 (the stand-in is built, cached like the
// x86_64 one) or NIXVM_TEST_AARCH64_ISO=PATH (a built arm64 stand-in).
// scripts/test-aarch64 runs it; CI does so in a step of its own.

func aarch64ISO(t *testing.T) string {
	t.Helper()
	isoPath := os.Getenv("NIXVM_TEST_AARCH64_ISO")
	if isoPath == "" && os.Getenv("NIXVM_TEST_AARCH64") != "1" {
		t.Skip("aarch64 e2e: set NIXVM_TEST_AARCH64=1 or NIXVM_TEST_AARCH64_ISO=PATH (scripts/test-aarch64)")
	}
	needIntegration(t)
	if _, err := exec.LookPath("qemu-system-aarch64"); err != nil {
		t.Fatalf("aarch64 e2e needs qemu-system-aarch64 (apt-get install qemu-system-arm qemu-efi-aarch64): %v", err)
	}
	if isoPath != "" {
		if _, err := os.Stat(isoPath); err != nil {
			t.Fatalf("NIXVM_TEST_AARCH64_ISO: %v", err)
		}
		return isoPath
	}
	isoPath = filepath.Join(t.TempDir(), "standin-aarch64.iso")
	cmd := exec.Command(filepath.Join(repoRoot(), "scripts", "build-standin-iso"), isoPath, "--arch", "aarch64")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build-standin-iso --arch aarch64: %v\n%s", err, tail(string(b), 20))
	}
	return isoPath
}

// checkAArch64Layout: the stand-in is laid out like the real aarch64
// minimal ISO (docs/aarch64.md): label nixos-minimal-<release>-aarch64,
// GRUB's removable EFI boot file and its grub.cfg, whose default entry
// boots a kernel named Image, and no isolinux.
func checkAArch64Layout(t *testing.T, path string) {
	t.Helper()
	info, err := iso.Inspect(path)
	if err != nil {
		t.Fatalf("arm64 stand-in: %v", err)
	}
	if !strings.HasPrefix(info.Label, "nixos-minimal-") || info.Arch != "aarch64" {
		t.Errorf("arm64 stand-in: label %q, want nixos-minimal-<release>-aarch64", info.Label)
	}
	if filepath.Base(info.Kernel) != "Image" {
		t.Errorf("arm64 stand-in: the default entry's kernel is %s, want one named Image", info.Kernel)
	}
	out, err := exec.Command("xorriso", "-indev", path, "-find", "/", "-type", "f").Output()
	if err != nil {
		t.Fatalf("xorriso -find on %s: %v", path, err)
	}
	files := map[string]bool{}
	for _, l := range strings.Split(string(out), "\n") {
		files[strings.Trim(l, "'")] = true
	}
	for _, want := range []string{"/EFI/BOOT/BOOTAA64.EFI", "/EFI/BOOT/grub.cfg"} {
		if !files[want] {
			t.Errorf("arm64 stand-in has no %s", want)
		}
	}
	for f := range files {
		if strings.Contains(strings.ToLower(f), "isolinux") || strings.HasSuffix(f, "/BOOTX64.EFI") {
			t.Errorf("arm64 stand-in has %s, which the aarch64 ISO has not", f)
		}
	}
	if t.Failed() {
		t.FailNow() // not worth an install
	}
}

// stopClean stops name and fails unless the guest powered off on the
// ACPI power button (internal/cli/stop.go's wording), not by QEMU's quit
// or a kill.
func stopClean(t *testing.T, e *env, name string) {
	t.Helper()
	if out := e.ok("stop", name); !strings.Contains(out, "powered off (ACPI shutdown") {
		t.Errorf("nixvm stop %s: %q, want an ACPI shutdown", name, strings.TrimSpace(out))
	}
}

// The time the install may take: until the test binary's -timeout less what
// the rest of the test needs (a boot to SSH, two stops), so that on a hung
// install this test fails, and its cleanup removes the VM, before go test
// panics and leaves a daemonized QEMU behind.
const aarch64AfterInstall = 25 * time.Minute

func aarch64InstallBound(t *testing.T) time.Duration {
	d, ok := t.Deadline()
	if !ok {
		return 150 * time.Minute
	}
	bound := time.Until(d) - aarch64AfterInstall
	if bound < 20*time.Minute {
		t.Fatalf("go test -timeout leaves %s for the aarch64 install (want >= 20m after %s for the rest): use scripts/test-aarch64 or a larger -timeout", bound.Round(time.Second), aarch64AfterInstall)
	}
	return bound
}

// TestInstallAArch64: uefi, gpt, swap; installs, reboots from its disk,
// says aarch64 over SSH, and stops cleanly.
func TestInstallAArch64(t *testing.T) {
	isoPath := aarch64ISO(t)
	bound := aarch64InstallBound(t)
	checkAArch64Layout(t, isoPath)
	e := newEnv(t)
	name := "arm"
	cache := startBinaryCache(t)
	start := time.Now()
	args := append([]string{"create", name, "--arch", "aarch64", "--iso", isoPath, "--json",
		"--firmware", "uefi", "--partition-table", "gpt", "--swap", "512M", "--disk", "6G"}, installArgs(cache)...)
	r := runLong(e, bound, args...)
	if r.code != 0 {
		t.Fatalf("create %s: exit %d\n%s\n%s", name, r.code, tail(r.out, 30), r.err)
	}
	installed := time.Since(start)
	checkEvents(t, r.out)
	if cache.Hits() == 0 {
		t.Errorf("the install never asked the binary cache %s", cache.URL)
	}
	// The installer ran on the PL011 console (the install was driven over
	// it); the installed system's kernel uses it too.
	cmdline, err := os.ReadFile(filepath.Join(e.vmDir(name), "cmdline"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"qemu-system-aarch64", "-machine virt", "-cpu "} {
		if !strings.Contains(string(cmdline), want) {
			t.Errorf("cmdline of the installed system lacks %q:\n%s", want, cmdline)
		}
	}
	checkCommon(t, e, name)
	check := func() {
		expectOut(t, guest(t, e, name, "uname -m"), "aarch64")
		expectOut(t, guest(t, e, name, "sudo blkid -o value -s PTTYPE /dev/vda"), "gpt")
		expectOut(t, guest(t, e, name, "test -d /sys/firmware/efi && echo uefi || echo bios"), "uefi")
		expectOut(t, guest(t, e, name, "tail -n +2 /proc/swaps | wc -l"), "1")
		expectOut(t, guest(t, e, name, "sudo test -f /boot/EFI/BOOT/BOOTAA64.EFI && echo present"), "present")
		kcmd := guest(t, e, name, "cat /proc/cmdline")
		if !strings.Contains(kcmd, "console=ttyAMA0,115200n8") || strings.Contains(kcmd, "ttyS0") {
			t.Errorf("installed kernel's command line: %q, want console=ttyAMA0 and no ttyS0", kcmd)
		}
	}
	check()

	// Reboot from its disk (a fresh QEMU), then stop cleanly: QMP
	// powerdown, the guest powers off, no quit or kill, state stopped.
	stopClean(t, e, name)
	e.ok("start", name)
	waitSSH(t, e, name, 15*time.Minute)
	expectOut(t, guest(t, e, name, "uname -m"), "aarch64")
	check()
	stopStart := time.Now()
	stopClean(t, e, name)
	if st := e.status(name); st.State != "stopped" {
		t.Errorf("after stop the VM is %q, want stopped", st.State)
	}
	t.Logf("aarch64 under TCG: create (install + first boot to SSH) %s, stop %s", installed.Round(time.Second), time.Since(stopStart).Round(time.Second))
	fmt.Fprintf(os.Stderr, "aarch64 e2e: create took %s\n", installed.Round(time.Second))
}

// runLong is env.run with a longer bound for a hung command: an aarch64
// install emulated on a loaded 2-core x86_64 machine can pass env.run's
// 30 minutes. The driver's own deadlines (scaled for a foreign guest in
// internal/arch) are what fail a stuck install; this only bounds nixvm,
// within go test's -timeout (aarch64InstallBound).
func runLong(e *env, bound time.Duration, args ...string) result {
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	cmd := exec.CommandContext(ctx, nixvmBin, args...)
	cmd.Env = e.vars
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		code = -1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
	}
	return result{out.String(), errb.String(), code}
}

// TestCreateAArch64BIOSRefused: a combination aarch64 cannot boot is
// refused in one line naming the field, before any download or file.
func TestCreateAArch64BIOSRefused(t *testing.T) {
	e := newEnv(t)
	r := e.run("create", "arm", "--arch", "aarch64", "--firmware", "bios")
	if r.code == 0 {
		t.Fatal("create --arch aarch64 --firmware bios succeeded")
	}
	msg := strings.TrimSpace(r.err)
	if strings.Contains(msg, "\n") || !strings.Contains(msg, "firmware: bios is not available on aarch64") {
		t.Errorf("stderr %q: want one line naming firmware", r.err)
	}
	root := filepath.Dir(e.data)
	for _, d := range []string{e.data, filepath.Join(root, "c", "nixvm")} {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("create made %s before refusing", d)
		}
	}
}
