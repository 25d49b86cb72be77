package host

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// A Nix profile or a Homebrew link puts a symlink in PATH; QEMU's bundled
// firmware sits next to the real binary.
func TestDetectFindsFirmwareThroughSymlinkedBinary(t *testing.T) {
	root := t.TempDir()
	store := filepath.Join(root, "nix/store/abc-qemu-9.1.0")
	fakeQEMU(t, filepath.Join(store, "bin/qemu-system-x86_64"), "9.1.0", "tcg\nkvm", 0)
	touch(t, store, "share/qemu/edk2-x86_64-code.fd", "share/qemu/edk2-i386-vars.fd", "share/qemu/bios-256k.bin")
	profile := filepath.Join(root, "profile/bin")
	if err := os.MkdirAll(profile, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(profile, "qemu-system-x86_64")
	if err := os.Symlink("../../nix/store/abc-qemu-9.1.0/bin/qemu-system-x86_64", link); err != nil {
		t.Fatal(err)
	}
	e := testEnv(root)
	e.path = profile

	f, err := detect(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Binary{Path: link, Version: "9.1.0"}); f.QEMU["x86_64"] != want {
		t.Errorf("QEMU[x86_64] = %+v, want %+v", f.QEMU["x86_64"], want)
	}
	wantPair := UEFIPair{filepath.Join(store, "share/qemu/edk2-x86_64-code.fd"), filepath.Join(store, "share/qemu/edk2-i386-vars.fd")}
	if got, err := f.UEFIFor("x86_64"); err != nil || got != wantPair {
		t.Errorf("UEFIFor(x86_64) = %+v, %v; want %+v", got, err, wantPair)
	}
	if want := filepath.Join(store, "share/qemu/bios-256k.bin"); f.SeaBIOS != want {
		t.Errorf("SeaBIOS = %q, want %q", f.SeaBIOS, want)
	}
	if _, err := f.QEMUFor("aarch64"); err == nil {
		t.Error("QEMUFor(aarch64) found a binary that does not exist")
	}
	if got, want := f.Searched["qemu-system-aarch64"], []string{filepath.Join(profile, "qemu-system-aarch64")}; !reflect.DeepEqual(got, want) {
		t.Errorf("Searched[qemu-system-aarch64] = %v, want %v", got, want)
	}
}

func TestDetectMissingEverything(t *testing.T) {
	tests := []struct {
		osRelease string
		goos      string
		want      map[string]string // item -> install hint
	}{
		{
			osRelease: "ID=debian\n",
			want: map[string]string{
				"qemu-system-x86_64":  "install qemu-system-x86 (Debian/Ubuntu)",
				"qemu-system-aarch64": "install qemu-system-arm (Debian/Ubuntu)",
				"qemu-img":            "install qemu-utils (Debian/Ubuntu)",
				"uefi-x86_64":         "install ovmf (Debian/Ubuntu)",
				"uefi-aarch64":        "install qemu-efi-aarch64 (Debian/Ubuntu)",
				"seabios":             "install seabios (Debian/Ubuntu)",
			},
		},
		{
			osRelease: "NAME=\"Fedora Linux\"\nID=fedora\n",
			want: map[string]string{
				"qemu-system-x86_64":  "install qemu-system-x86 (Fedora)",
				"qemu-system-aarch64": "install qemu-system-aarch64 (Fedora)",
				"qemu-img":            "install qemu-img (Fedora)",
				"uefi-x86_64":         "install edk2-ovmf (Fedora)",
				"uefi-aarch64":        "install edk2-aarch64 (Fedora)",
			},
		},
		{
			osRelease: "ID=manjaro\nID_LIKE=arch\n",
			want: map[string]string{
				"qemu-system-aarch64": "install qemu-full (Arch)",
				"uefi-x86_64":         "install edk2-ovmf (Arch)",
			},
		},
		{
			osRelease: "ID=\"opensuse-tumbleweed\"\nID_LIKE=\"opensuse suse\"\n",
			want: map[string]string{
				"qemu-img":     "install qemu-tools (openSUSE)",
				"uefi-x86_64":  "install qemu-ovmf-x86_64 (openSUSE)",
				"uefi-aarch64": "install qemu-uefi-aarch64 (openSUSE)",
			},
		},
		{
			goos: "darwin",
			want: map[string]string{
				"qemu-system-aarch64": "install QEMU with: brew install qemu",
				"uefi-aarch64":        "install QEMU with: brew install qemu",
			},
		},
		{
			osRelease: "ID=nixos\n",
			want: map[string]string{
				"qemu-system-aarch64": "install qemu-system-arm (Debian/Ubuntu), qemu-system-aarch64 (Fedora), qemu-full (Arch), qemu-arm (openSUSE), or run brew install qemu (macOS)",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.osRelease+tt.goos, func(t *testing.T) {
			root := t.TempDir()
			e := testEnv(root)
			if tt.goos != "" {
				e.goos = tt.goos
			}
			writeFile(t, filepath.Join(root, "etc/os-release"), tt.osRelease)
			f, err := detect(context.Background(), e)
			if err != nil {
				t.Fatal(err)
			}
			errs := map[string]error{}
			for _, arch := range Arches {
				_, errs[ItemQEMU(arch)] = f.QEMUFor(arch)
				_, errs[ItemUEFI(arch)] = f.UEFIFor(arch)
			}
			_, errs[ItemQEMUImg] = f.RequireQEMUImg()
			_, errs[ItemSeaBIOS] = f.RequireSeaBIOS()
			for item, err := range errs {
				var me *MissingError
				if !errors.As(err, &me) {
					t.Fatalf("%s: error %v is not a *MissingError", item, err)
				}
				if me.Item != item || len(me.Searched) == 0 {
					t.Errorf("%s: Item %q, Searched %v", item, me.Item, me.Searched)
				}
				if want, ok := tt.want[item]; ok && me.Install != want {
					t.Errorf("%s: Install = %q, want %q", item, me.Install, want)
				}
				if !strings.HasSuffix(err.Error(), "; "+me.Install) {
					t.Errorf("%s: error %q does not end with the install hint", item, err)
				}
			}
			if got := errs["qemu-system-aarch64"].Error(); !strings.HasPrefix(got, "qemu-system-aarch64 not found in PATH; install ") {
				t.Errorf("QEMUFor(aarch64) error = %q", got)
			}
			// The UEFI error lists every path searched.
			got := errs["uefi-x86_64"].Error()
			for _, p := range []string{"usr/share/OVMF/OVMF_CODE_4M.fd", "usr/share/edk2/ovmf/OVMF_CODE.fd", "usr/share/edk2/x64/OVMF_CODE.4m.fd", "usr/share/qemu/ovmf-x86_64-code.bin"} {
				if !strings.Contains(got, filepath.Join(root, p)) {
					t.Errorf("UEFIFor(x86_64) error does not list %s: %q", p, got)
				}
			}
		})
	}
}

func TestDetectUnusableBinary(t *testing.T) {
	root := t.TempDir()
	bin := filepath.Join(root, "bin/qemu-system-x86_64")
	fakeQEMU(t, bin, "8.2.2", "tcg", 1)
	f, err := detect(context.Background(), testEnv(root))
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.QEMUFor("x86_64")
	if err == nil || !strings.Contains(err.Error(), bin+" exists but is unusable") || !strings.Contains(err.Error(), "fake failure") {
		t.Errorf("QEMUFor(x86_64) error = %v; want it to say %s is unusable, with its stderr", err, bin)
	}
}

func TestDetectCanceled(t *testing.T) {
	root := t.TempDir()
	fakeQEMU(t, filepath.Join(root, "bin/qemu-system-x86_64"), "8.2.2", "tcg", 0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := detect(ctx, testEnv(root)); !errors.Is(err, context.Canceled) {
		t.Errorf("detect with a canceled context: err = %v, want context.Canceled", err)
	}
}

func TestBadGuestArch(t *testing.T) {
	f := &Facts{}
	if _, err := f.QEMUFor("riscv64"); err == nil || !strings.Contains(err.Error(), "x86_64, aarch64") {
		t.Errorf("QEMUFor(riscv64) error = %v, want the valid arches listed", err)
	}
	if _, err := f.UEFIFor("x86"); err == nil || !strings.Contains(err.Error(), "x86_64, aarch64") {
		t.Errorf("UEFIFor(x86) error = %v, want the valid arches listed", err)
	}
}

func TestParseVersion(t *testing.T) {
	tests := []struct {
		out, want string
	}{
		{"QEMU emulator version 7.2.19 (Debian 1:7.2+dfsg-7+deb12u13)\nCopyright (c) 2003-2022 Fabrice Bellard\n", "7.2.19"},
		{"QEMU emulator version 8.2.2 (Debian 1:8.2.2+ds-0ubuntu1.4)\n", "8.2.2"},
		{"QEMU emulator version 9.1.0\nCopyright\n", "9.1.0"},
		{"QEMU emulator version 6.2.0 (qemu-6.2.0-11.module_el8)\n", "6.2.0"},
		{"QEMU emulator version 10.0\n", "10.0"},
		{"\nQEMU emulator version 7.2.22\r\n", "7.2.22"},
		{"qemu-img version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\n", "7.2.22"},
		{"qemu-img version 2.11.1(Debian 1:2.11+dfsg-1ubuntu7)\n", "2.11.1"},
		{"", ""},
		{"QEMU emulator version\n", ""},
		{"QEMU emulator version 7.x\n", ""},
		{"Copyright (c) 2003\nQEMU emulator version 7.2.1\n", ""},
		{"qemu-system-x86_64: error while loading shared libraries: libslirp.so.0\n", ""},
	}
	for _, tt := range tests {
		got, err := parseVersion(tt.out)
		if got != tt.want || (err != nil) != (tt.want == "") {
			t.Errorf("parseVersion(%q) = %q, %v; want %q", tt.out, got, err, tt.want)
		}
	}
}

func FuzzParseVersion(f *testing.F) {
	f.Add("QEMU emulator version 7.2.19 (Debian 1:7.2+dfsg-7+deb12u13)\n")
	f.Add("qemu-img version 9.1.0\n")
	f.Add("\x00\n")
	f.Fuzz(func(t *testing.T, out string) {
		v, err := parseVersion(out)
		if err != nil {
			if v != "" {
				t.Errorf("parseVersion(%q) = %q with error %v", out, v, err)
			}
			if len(err.Error()) > 500 { // 80 bytes of output, quoted
				t.Errorf("error too long: %d bytes", len(err.Error()))
			}
			return
		}
		if len(strings.Split(v, ".")) < 2 || strings.Trim(v, "0123456789.") != "" {
			t.Errorf("parseVersion(%q) = %q, not a dotted version", out, v)
		}
	})
}

func TestDistroFamily(t *testing.T) {
	tests := []struct{ osRelease, want string }{
		{"ID=debian\nVERSION_ID=\"12\"\n", "debian"},
		{"ID=ubuntu\nID_LIKE=debian\n", "debian"},
		{"ID_LIKE=\"ubuntu debian\"\nID=linuxmint\n", "debian"},
		{"ID=fedora\n", "fedora"},
		{"ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\n", "fedora"},
		{"ID=arch\n", "arch"},
		{"ID=endeavouros\nID_LIKE=arch\n", "arch"},
		{"ID=\"opensuse-leap\"\nID_LIKE=\"suse opensuse\"\n", "suse"},
		{"ID=nixos\n", ""},
		{"", ""},
		{"garbage\n==\n", ""},
	}
	for _, tt := range tests {
		if got := distroFamily(tt.osRelease); got != tt.want {
			t.Errorf("distroFamily(%q) = %q, want %q", tt.osRelease, got, tt.want)
		}
	}
}

func FuzzDistroFamily(f *testing.F) {
	f.Add("ID=ubuntu\nID_LIKE=debian\n")
	f.Add("ID=\"opensuse-leap\"\nID_LIKE=\"suse opensuse\"\n")
	f.Fuzz(func(t *testing.T, s string) {
		switch got := distroFamily(s); got {
		case "", "debian", "fedora", "arch", "suse":
		default:
			t.Errorf("distroFamily(%q) = %q", s, got)
		}
	})
}

// TestAcceleratorOnce: the accelerator is decided once per Facts (per
// command), however often planning asks: the probe runs QEMU.
func TestAcceleratorOnce(t *testing.T) {
	dir := t.TempDir()
	counter := filepath.Join(dir, "probes")
	qemu := filepath.Join(dir, "qemu-system-x86_64")
	script := "#!/bin/sh\necho x >> " + counter + "\necho 'Accelerators supported in QEMU binary:'\necho tcg\necho kvm\n"
	if err := os.WriteFile(qemu, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	f := &Facts{OS: "linux", Arch: "x86_64", QEMU: map[string]Binary{"x86_64": {Path: qemu}},
		env: &env{openKVM: func() error { return nil }, cpuinfo: "flags : vmx\n"}}
	var first Accel
	for i := range 4 {
		a := f.Accelerator(context.Background(), "x86_64")
		if i == 0 {
			first = a
		} else if a != first {
			t.Fatalf("call %d: %+v, want %+v", i, a, first)
		}
	}
	b, _ := os.ReadFile(counter)
	if n := strings.Count(string(b), "x"); n != 1 {
		t.Fatalf("QEMU was probed %d times for 4 calls, want 1", n)
	}
}
