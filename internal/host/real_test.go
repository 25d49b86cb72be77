package host

import (
	"context"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

// need skips the test when the machine lacks something, unless CI asks
// for integration tests to be required (NIXVM_REQUIRE_INTEGRATION=1).
func need(t *testing.T, ok bool, what string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("NIXVM_REQUIRE_INTEGRATION") == "1" {
		t.Fatalf("%s (required: NIXVM_REQUIRE_INTEGRATION=1)", what)
	}
	t.Skip(what)
}

// TestDetectRealHost runs detection against this machine.
func TestDetectRealHost(t *testing.T) {
	_, err := exec.LookPath("qemu-system-x86_64")
	need(t, err == nil, "qemu-system-x86_64 not in PATH (install qemu-system-x86)")
	ctx := context.Background()
	f, err := Detect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("facts: %+v", f)

	q, err := f.QEMUFor("x86_64")
	if err != nil || !strings.HasSuffix(q.Path, "/qemu-system-x86_64") || q.Version == "" {
		t.Errorf("QEMUFor(x86_64) = %+v, %v", q, err)
	}
	if img, err := f.RequireQEMUImg(); err != nil || img.Version == "" {
		t.Errorf("RequireQEMUImg() = %+v, %v", img, err)
	}
	// OVMF and SeaBIOS come in separate packages; CI installs them.
	fw, err := f.UEFIFor("x86_64")
	need(t, err == nil, "no OVMF: "+errString(err))
	if !isFile(fw.Code) || !isFile(fw.Vars) || strings.Contains(fw.Code, "secboot") {
		t.Errorf("UEFIFor(x86_64) = %+v: not two files, or a secure-boot image", fw)
	}
	_, err = f.RequireSeaBIOS()
	need(t, err == nil, "no SeaBIOS: "+errString(err))

	if runtime.GOOS != "linux" || f.Arch != "x86_64" {
		return
	}
	// Decide independently whether KVM is really usable here.
	kvm := openDevKVM() == nil
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		s := string(b)
		kvm = kvm && (strings.Contains(s, " vmx") || strings.Contains(s, " svm"))
	}
	a := f.Accelerator(ctx, "x86_64")
	t.Logf("x86_64 accelerator: %+v", a)
	if !kvm {
		if a.Name != "tcg" || a.Reason == "" || a.Warning != TCGWarning {
			t.Errorf("Accelerator(x86_64) = %+v, want tcg with a reason and the TCG warning", a)
		}
	} else if a.Name != "kvm" && !strings.Contains(a.Reason, "does not support kvm") {
		t.Errorf("Accelerator(x86_64) = %+v, want kvm (/dev/kvm is usable)", a)
	}
	if a := f.Accelerator(ctx, "aarch64"); a.Name != "tcg" || a.Reason != "guest aarch64 on x86_64 host" {
		t.Errorf("Accelerator(aarch64) = %+v, want tcg: guest aarch64 on x86_64 host", a)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
