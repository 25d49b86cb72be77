package host

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestFindUEFI(t *testing.T) {
	type pairs = []UEFIPair
	tests := []struct {
		name  string
		files []string
		want  map[string]pairs // arch -> pairs, paths relative to root
	}{
		{
			name: "Debian/Ubuntu: 4M before 2M, secboot never",
			files: []string{
				"usr/share/OVMF/OVMF_CODE.fd", "usr/share/OVMF/OVMF_VARS.fd",
				"usr/share/OVMF/OVMF_CODE_4M.secboot.fd", "usr/share/OVMF/OVMF_CODE.secboot.fd",
				"usr/share/OVMF/OVMF_CODE_4M.fd", "usr/share/OVMF/OVMF_VARS_4M.fd",
				"usr/share/OVMF/OVMF_VARS_4M.ms.fd",
				"usr/share/AAVMF/AAVMF_CODE.fd", "usr/share/AAVMF/AAVMF_VARS.fd",
				"usr/share/qemu-efi-aarch64/QEMU_EFI.fd",
			},
			want: map[string]pairs{
				"x86_64": {
					{"usr/share/OVMF/OVMF_CODE_4M.fd", "usr/share/OVMF/OVMF_VARS_4M.fd"},
					{"usr/share/OVMF/OVMF_CODE.fd", "usr/share/OVMF/OVMF_VARS.fd"},
				},
				"aarch64": {{"usr/share/AAVMF/AAVMF_CODE.fd", "usr/share/AAVMF/AAVMF_VARS.fd"}},
			},
		},
		{
			name: "secure-boot CODE is not paired with plain VARS",
			files: []string{
				"usr/share/OVMF/OVMF_CODE_4M.secboot.fd", "usr/share/OVMF/OVMF_VARS_4M.fd",
				"usr/share/edk2/ovmf/OVMF_CODE.secboot.fd", "usr/share/edk2/ovmf/OVMF_VARS.fd",
			},
			want: map[string]pairs{},
		},
		{
			name: "CODE without its VARS is no pair",
			files: []string{
				"usr/share/OVMF/OVMF_CODE_4M.fd", "usr/share/OVMF/OVMF_VARS.fd",
				"usr/share/AAVMF/AAVMF_VARS.fd",
			},
			want: map[string]pairs{},
		},
		{
			name: "Fedora",
			files: []string{
				"usr/share/edk2/ovmf/OVMF_CODE.fd", "usr/share/edk2/ovmf/OVMF_VARS.fd",
				"usr/share/edk2/ovmf/OVMF_CODE.secboot.fd",
				"usr/share/edk2/aarch64/QEMU_EFI-pflash.raw", "usr/share/edk2/aarch64/vars-template-pflash.raw",
			},
			want: map[string]pairs{
				"x86_64":  {{"usr/share/edk2/ovmf/OVMF_CODE.fd", "usr/share/edk2/ovmf/OVMF_VARS.fd"}},
				"aarch64": {{"usr/share/edk2/aarch64/QEMU_EFI-pflash.raw", "usr/share/edk2/aarch64/vars-template-pflash.raw"}},
			},
		},
		{
			name: "Arch",
			files: []string{
				"usr/share/edk2/x64/OVMF_CODE.4m.fd", "usr/share/edk2/x64/OVMF_VARS.4m.fd",
				"usr/share/edk2/x64/OVMF_CODE.secboot.4m.fd",
				"usr/share/edk2/aarch64/QEMU_CODE.fd", "usr/share/edk2/aarch64/QEMU_VARS.fd",
			},
			want: map[string]pairs{
				"x86_64":  {{"usr/share/edk2/x64/OVMF_CODE.4m.fd", "usr/share/edk2/x64/OVMF_VARS.4m.fd"}},
				"aarch64": {{"usr/share/edk2/aarch64/QEMU_CODE.fd", "usr/share/edk2/aarch64/QEMU_VARS.fd"}},
			},
		},
		{
			name:  "Arch, older edk2-ovmf layout",
			files: []string{"usr/share/edk2-ovmf/x64/OVMF_CODE.fd", "usr/share/edk2-ovmf/x64/OVMF_VARS.fd"},
			want: map[string]pairs{
				"x86_64": {{"usr/share/edk2-ovmf/x64/OVMF_CODE.fd", "usr/share/edk2-ovmf/x64/OVMF_VARS.fd"}},
			},
		},
		{
			name: "openSUSE",
			files: []string{
				"usr/share/qemu/ovmf-x86_64-code.bin", "usr/share/qemu/ovmf-x86_64-vars.bin",
				"usr/share/qemu/ovmf-x86_64-4m-code.bin", "usr/share/qemu/ovmf-x86_64-4m-vars.bin",
				"usr/share/qemu/aavmf-aarch64-code.bin", "usr/share/qemu/aavmf-aarch64-vars.bin",
			},
			want: map[string]pairs{
				"x86_64": {
					{"usr/share/qemu/ovmf-x86_64-4m-code.bin", "usr/share/qemu/ovmf-x86_64-4m-vars.bin"},
					{"usr/share/qemu/ovmf-x86_64-code.bin", "usr/share/qemu/ovmf-x86_64-vars.bin"},
				},
				"aarch64": {{"usr/share/qemu/aavmf-aarch64-code.bin", "usr/share/qemu/aavmf-aarch64-vars.bin"}},
			},
		},
		{
			name: "QEMU-bundled after the distribution's",
			files: []string{
				"usr/share/qemu/edk2-x86_64-code.fd", "usr/share/qemu/edk2-i386-vars.fd",
				"usr/share/OVMF/OVMF_CODE.fd", "usr/share/OVMF/OVMF_VARS.fd",
				"usr/share/qemu/edk2-aarch64-code.fd", "usr/share/qemu/edk2-arm-vars.fd",
			},
			want: map[string]pairs{
				"x86_64": {
					{"usr/share/OVMF/OVMF_CODE.fd", "usr/share/OVMF/OVMF_VARS.fd"},
					{"usr/share/qemu/edk2-x86_64-code.fd", "usr/share/qemu/edk2-i386-vars.fd"},
				},
				"aarch64": {{"usr/share/qemu/edk2-aarch64-code.fd", "usr/share/qemu/edk2-arm-vars.fd"}},
			},
		},
		{
			name:  "nothing installed",
			files: nil,
			want:  map[string]pairs{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			touch(t, root, tt.files...)
			dirs := searchDirs{system: filepath.Join(root, "usr/share"), prefixes: []string{filepath.Join(root, "usr")}}
			for _, arch := range Arches {
				got, searched := findUEFI(arch, dirs)
				var want pairs
				for _, p := range tt.want[arch] {
					want = append(want, UEFIPair{filepath.Join(root, p.Code), filepath.Join(root, p.Vars)})
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s: found %v, want %v", arch, got, want)
				}
				if len(got) == 0 && len(searched) != len(uefiCandidates(arch, dirs)) {
					t.Errorf("%s: searched %d paths, want one per candidate (%d)", arch, len(searched), len(uefiCandidates(arch, dirs)))
				}
			}
		})
	}
}

func TestFindUEFINotesMissingVars(t *testing.T) {
	root := t.TempDir()
	touch(t, root, "usr/share/OVMF/OVMF_CODE_4M.fd")
	_, searched := findUEFI("x86_64", searchDirs{system: filepath.Join(root, "usr/share")})
	want := filepath.Join(root, "usr/share/OVMF/OVMF_CODE_4M.fd") + " (but " + filepath.Join(root, "usr/share/OVMF/OVMF_VARS_4M.fd") + " is missing)"
	if searched[0] != want {
		t.Errorf("searched[0] = %q, want %q", searched[0], want)
	}
}

func TestFindSeaBIOS(t *testing.T) {
	tests := []struct {
		name  string
		files []string
		want  string
	}{
		{"Debian", []string{"usr/share/seabios/bios-256k.bin", "usr/share/seabios/bios.bin"}, "usr/share/seabios/bios-256k.bin"},
		{"Arch, openSUSE", []string{"usr/share/qemu/bios-256k.bin"}, "usr/share/qemu/bios-256k.bin"},
		{"prefix", []string{"opt/qemu/share/qemu/bios-256k.bin"}, "opt/qemu/share/qemu/bios-256k.bin"},
		{"256k preferred", []string{"usr/share/seabios/bios.bin", "opt/qemu/share/qemu/bios-256k.bin"}, "opt/qemu/share/qemu/bios-256k.bin"},
		{"only bios.bin", []string{"usr/share/seabios/bios.bin"}, "usr/share/seabios/bios.bin"},
		{"none", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			touch(t, root, tt.files...)
			got, searched := findSeaBIOS(searchDirs{
				system:   filepath.Join(root, "usr/share"),
				prefixes: []string{filepath.Join(root, "opt/qemu")},
			})
			want := ""
			if tt.want != "" {
				want = filepath.Join(root, tt.want)
			}
			if got != want {
				t.Errorf("found %q, want %q", got, want)
			}
			if got == "" && !strings.Contains(strings.Join(searched, " "), filepath.Join(root, "usr/share/seabios/bios-256k.bin")) {
				t.Errorf("searched %v does not name the Debian path", searched)
			}
		})
	}
}
