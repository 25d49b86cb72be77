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
)

// The aarch64 e2e: a foreign guest under TCG on an x86_64 host, installed
// from the arm64 stand-in (scripts/build-standin-iso --arch aarch64). It is
// slow (an install takes many times the x86_64 one), so it runs only when
// asked: NIXVM_TEST_AARCH64=1 (the stand-in is built, cached like the
// x86_64 one) or NIXVM_TEST_AARCH64_ISO=PATH (a built arm64 stand-in).
// scripts/test-aarch64 runs it; CI does so in a step of its own.

func aarch64ISO(t *testing.T) string {
	t.Helper()
	iso := os.Getenv("NIXVM_TEST_AARCH64_ISO")
	if iso == "" && os.Getenv("NIXVM_TEST_AARCH64") != "1" {
		t.Skip("aarch64 e2e: set NIXVM_TEST_AARCH64=1 or NIXVM_TEST_AARCH64_ISO=PATH (scripts/test-aarch64)")
	}
	needIntegration(t)
	if _, err := exec.LookPath("qemu-system-aarch64"); err != nil {
		t.Fatalf("aarch64 e2e needs qemu-system-aarch64 (apt-get install qemu-system-arm qemu-efi-aarch64): %v", err)
	}
	if iso != "" {
		if _, err := os.Stat(iso); err != nil {
			t.Fatalf("NIXVM_TEST_AARCH64_ISO: %v", err)
		}
		return iso
	}
	iso = filepath.Join(t.TempDir(), "standin-aarch64.iso")
	cmd := exec.Command(filepath.Join(repoRoot(), "scripts", "build-standin-iso"), iso, "--arch", "aarch64")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build-standin-iso --arch aarch64: %v\n%s", err, tail(string(b), 20))
	}
	return iso
}

// TestInstallAArch64: uefi, gpt, swap; installs, reboots from its disk,
// says aarch64 over SSH, and stops cleanly.
func TestInstallAArch64(t *testing.T) {
	iso := aarch64ISO(t)
	e := newEnv(t)
	name := "arm"
	cache := startBinaryCache(t)
	start := time.Now()
	args := append([]string{"create", name, "--arch", "aarch64", "--iso", iso, "--json",
		"--firmware", "uefi", "--partition-table", "gpt", "--swap", "512M", "--disk", "6G"}, installArgs(cache)...)
	r := runLong(e, 150*time.Minute, args...)
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
	// powerdown, the guest powers off, no SIGKILL, state stopped.
	e.ok("stop", name)
	e.ok("start", name)
	waitSSH(t, e, name, 15*time.Minute)
	expectOut(t, guest(t, e, name, "uname -m"), "aarch64")
	check()
	stopStart := time.Now()
	e.ok("stop", name)
	if st := e.status(name); st.State != "stopped" {
		t.Errorf("after stop the VM is %q, want stopped", st.State)
	}
	t.Logf("aarch64 under TCG: create (install + first boot to SSH) %s, stop %s", installed.Round(time.Second), time.Since(stopStart).Round(time.Second))
	fmt.Fprintf(os.Stderr, "aarch64 e2e: create took %s\n", installed.Round(time.Second))
}

// runLong is env.run with a longer bound for a hung command: an aarch64
// install emulated on a loaded 2-core x86_64 machine can pass env.run's
// 30 minutes. The driver's own deadlines (scaled for a foreign guest in
// internal/arch) are what fail a stuck install; this only bounds nixvm.
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
