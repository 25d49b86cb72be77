package host

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	cpuinfoVMX  = "processor\t: 0\nflags\t\t: fpu vme de pse tsc msr vmx ssse3\n"
	cpuinfoSVM  = "processor\t: 0\nflags\t\t: fpu svm sse2\n"
	cpuinfoNone = "processor\t: 0\nflags\t\t: fpu vme de pse tsc msr hypervisor\n"
	cpuinfoARM  = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32\n"
)

func TestAccelerator(t *testing.T) {
	errNoKVM := &os.PathError{Op: "open", Path: "/dev/kvm", Err: os.ErrNotExist}
	errDenied := &os.PathError{Op: "open", Path: "/dev/kvm", Err: os.ErrPermission}
	errBusy := &os.PathError{Op: "open", Path: "/dev/kvm", Err: errors.New("device or resource busy")}
	tests := []struct {
		name      string
		goos      string
		hostArch  string
		guestArch string
		noQEMU    bool
		kvmErr    error
		cpuinfo   string
		accels    string // -accel help list
		helpFails bool
		want      string // accelerator name
		reason    string // substring of Reason
	}{
		{name: "kvm", goos: "linux", hostArch: "x86_64", guestArch: "x86_64", cpuinfo: cpuinfoVMX, accels: "tcg\nkvm", want: "kvm", reason: "/dev/kvm is usable"},
		{name: "kvm on AMD", goos: "linux", hostArch: "x86_64", guestArch: "x86_64", cpuinfo: cpuinfoSVM, accels: "tcg\nkvm", want: "kvm"},
		{name: "kvm on aarch64 (no x86 flags)", goos: "linux", hostArch: "aarch64", guestArch: "aarch64", cpuinfo: cpuinfoARM, accels: "kvm\ntcg", want: "kvm"},
		{name: "unreadable cpuinfo does not block kvm", goos: "linux", hostArch: "x86_64", guestArch: "x86_64", accels: "tcg\nkvm", want: "kvm"},
		{name: "foreign guest", goos: "linux", hostArch: "x86_64", guestArch: "aarch64", cpuinfo: cpuinfoVMX, accels: "tcg\nkvm", want: "tcg", reason: "guest aarch64 on x86_64 host"},
		{name: "foreign guest on arm", goos: "darwin", hostArch: "aarch64", guestArch: "x86_64", accels: "tcg\nhvf", want: "tcg", reason: "guest x86_64 on aarch64 host"},
		{name: "no /dev/kvm", goos: "linux", hostArch: "x86_64", guestArch: "x86_64", kvmErr: errNoKVM, cpuinfo: cpuinfoVMX, accels: "tcg\nkvm", want: "tcg", reason: "/dev/kvm does not exist"},
		{name: "/dev/kvm denied", goos: "linux", hostArch: "x86_64", guestArch: "x86_64", kvmErr: errDenied, cpuinfo: cpuinfoVMX, accels: "tcg\nkvm", want: "tcg", reason: "/dev/kvm: permission denied (add your user to the kvm group)"},
		{name: "/dev/kvm other error", goos: "linux", hostArch: "x86_64", guestArch: "x86_64", kvmErr: errBusy, cpuinfo: cpuinfoVMX, accels: "tcg\nkvm", want: "tcg", reason: "/dev/kvm: device or resource busy"},
		{name: "paravirtual /dev/kvm", goos: "linux", hostArch: "x86_64", guestArch: "x86_64", cpuinfo: cpuinfoNone, accels: "tcg\nkvm", want: "tcg", reason: "no vmx or svm flag"},
		{name: "qemu built without kvm", goos: "linux", hostArch: "x86_64", guestArch: "x86_64", cpuinfo: cpuinfoVMX, accels: "tcg", want: "tcg", reason: "does not support kvm"},
		{name: "-accel help fails", goos: "linux", hostArch: "x86_64", guestArch: "x86_64", cpuinfo: cpuinfoVMX, accels: "tcg\nkvm", helpFails: true, want: "tcg", reason: "cannot list accelerators"},
		{name: "no qemu", goos: "linux", hostArch: "x86_64", guestArch: "x86_64", cpuinfo: cpuinfoVMX, noQEMU: true, want: "tcg", reason: "qemu-system-x86_64 not found"},
		{name: "hvf", goos: "darwin", hostArch: "aarch64", guestArch: "aarch64", kvmErr: errNoKVM, accels: "hvf\ntcg", want: "hvf", reason: "Hypervisor.framework"},
		{name: "hvf on intel mac", goos: "darwin", hostArch: "x86_64", guestArch: "x86_64", kvmErr: errNoKVM, accels: "hvf\ntcg", want: "hvf"},
		{name: "qemu without hvf", goos: "darwin", hostArch: "aarch64", guestArch: "aarch64", accels: "tcg", want: "tcg", reason: "does not support hvf"},
		{name: "other OS", goos: "freebsd", hostArch: "x86_64", guestArch: "x86_64", accels: "tcg", want: "tcg", reason: "no hardware accelerator supported on freebsd"},
		{name: "unknown guest arch", goos: "linux", hostArch: "x86_64", guestArch: "riscv64", cpuinfo: cpuinfoVMX, accels: "tcg\nkvm", want: "tcg", reason: "not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			e := testEnv(root)
			e.openKVM = func() error { return tt.kvmErr }
			if tt.cpuinfo != "" {
				writeFile(t, e.cpuinfo, tt.cpuinfo)
			}
			f := &Facts{OS: tt.goos, Arch: tt.hostArch, QEMU: map[string]Binary{}, env: e}
			if !tt.noQEMU {
				code := 0
				if tt.helpFails {
					code = 1
				}
				bin := filepath.Join(root, "bin", ItemQEMU(tt.guestArch))
				fakeQEMU(t, bin, "9.1.0", tt.accels, code)
				f.QEMU[tt.guestArch] = Binary{Path: bin, Version: "9.1.0"}
			}
			got := f.Accelerator(context.Background(), tt.guestArch)
			if got.Name != tt.want || !strings.Contains(got.Reason, tt.reason) || got.Reason == "" {
				t.Errorf("Accelerator(%s) = %+v, want %s with reason containing %q", tt.guestArch, got, tt.want, tt.reason)
			}
			if wantWarn := map[bool]string{true: TCGWarning}[tt.want == "tcg"]; got.Warning != wantWarn {
				t.Errorf("Warning = %q, want %q", got.Warning, wantWarn)
			}
		})
	}
}

func TestParseAccelHelp(t *testing.T) {
	got := parseAccelHelp("Accelerators supported in QEMU binary:\ntcg\nkvm\n\n")
	if strings.Join(got, ",") != "tcg,kvm" {
		t.Errorf("parseAccelHelp = %v, want [tcg kvm]", got)
	}
}
