package host

import (
	"os"
	"path/filepath"
	"slices"
)

// searchDirs are the roots of the firmware search.
type searchDirs struct {
	system   string   // distribution firmware: /usr/share
	prefixes []string // install prefixes whose share/qemu may hold QEMU's bundled firmware
}

// distroUEFI lists, per guest arch, the CODE/VARS pairs distributions ship,
// relative to searchDirs.system, best first. 4M images come first (the 2M
// ones cannot hold enough variables for some guests). Secure-boot CODE
// images are left out on purpose: they need their own enrolled VARS, and
// an installer booting unsigned kernels must not run under them.
//
// Debian's /usr/share/qemu-efi-aarch64/QEMU_EFI.fd is not listed: it has no
// VARS and is not padded for pflash; the same package ships the AAVMF pair.
var distroUEFI = map[string][]UEFIPair{
	"x86_64": {
		{"OVMF/OVMF_CODE_4M.fd", "OVMF/OVMF_VARS_4M.fd"},                 // Debian, Ubuntu
		{"edk2/x64/OVMF_CODE.4m.fd", "edk2/x64/OVMF_VARS.4m.fd"},         // Arch
		{"qemu/ovmf-x86_64-4m-code.bin", "qemu/ovmf-x86_64-4m-vars.bin"}, // openSUSE
		{"edk2/ovmf/OVMF_CODE.fd", "edk2/ovmf/OVMF_VARS.fd"},             // Fedora
		{"edk2-ovmf/x64/OVMF_CODE.fd", "edk2-ovmf/x64/OVMF_VARS.fd"},     // Arch (older edk2-ovmf)
		{"qemu/ovmf-x86_64-code.bin", "qemu/ovmf-x86_64-vars.bin"},       // openSUSE
		{"OVMF/OVMF_CODE.fd", "OVMF/OVMF_VARS.fd"},                       // Debian, Ubuntu (2M)
	},
	"aarch64": {
		{"AAVMF/AAVMF_CODE.fd", "AAVMF/AAVMF_VARS.fd"},                                // Debian, Ubuntu
		{"edk2/aarch64/QEMU_EFI-pflash.raw", "edk2/aarch64/vars-template-pflash.raw"}, // Fedora
		{"edk2/aarch64/QEMU_CODE.fd", "edk2/aarch64/QEMU_VARS.fd"},                    // Arch
		{"qemu/aavmf-aarch64-code.bin", "qemu/aavmf-aarch64-vars.bin"},                // openSUSE
	},
}

// bundledUEFI is the pair QEMU installs itself (make install, Nix,
// Homebrew), relative to <prefix>/share/qemu.
var bundledUEFI = map[string]UEFIPair{
	"x86_64":  {"edk2-x86_64-code.fd", "edk2-i386-vars.fd"},
	"aarch64": {"edk2-aarch64-code.fd", "edk2-arm-vars.fd"},
}

// uefiCandidates lists every pair to try for arch, best first.
func uefiCandidates(arch string, d searchDirs) []UEFIPair {
	var out []UEFIPair
	for _, p := range distroUEFI[arch] {
		out = append(out, UEFIPair{filepath.Join(d.system, p.Code), filepath.Join(d.system, p.Vars)})
	}
	if b, ok := bundledUEFI[arch]; ok {
		for _, prefix := range d.prefixes {
			dir := filepath.Join(prefix, "share", "qemu")
			out = append(out, UEFIPair{filepath.Join(dir, b.Code), filepath.Join(dir, b.Vars)})
		}
	}
	return dedupe(out)
}

// findUEFI returns the pairs for arch whose two files both exist, best
// first, and what was searched (one entry per CODE path; a CODE without
// its VARS says so).
func findUEFI(arch string, d searchDirs) (found []UEFIPair, searched []string) {
	for _, p := range uefiCandidates(arch, d) {
		code, vars := isFile(p.Code), isFile(p.Vars)
		switch {
		case code && vars:
			found = append(found, p)
		case code:
			searched = append(searched, p.Code+" (but "+p.Vars+" is missing)")
		default:
			searched = append(searched, p.Code)
		}
	}
	return found, searched
}

// findSeaBIOS returns the first SeaBIOS image found, or "" and what was
// searched. bios-256k.bin is what QEMU's pc machines load by default.
func findSeaBIOS(d searchDirs) (string, []string) {
	var cands []string
	for _, name := range []string{"bios-256k.bin", "bios.bin"} {
		cands = append(cands,
			filepath.Join(d.system, "seabios", name),
			filepath.Join(d.system, "qemu", name))
		for _, prefix := range d.prefixes {
			cands = append(cands, filepath.Join(prefix, "share", "qemu", name))
		}
	}
	cands = dedupe(cands)
	for _, c := range cands {
		if isFile(c) {
			return c, nil
		}
	}
	return "", cands
}

// prefixesOf returns the install prefixes of the binaries (<bin>/..), both
// as found in PATH and after resolving symlinks, so that a Nix profile or
// a Homebrew link leads to the store or Cellar directory holding QEMU's
// own firmware; then the fixed ones.
func prefixesOf(bins []string, fixed []string) []string {
	var out []string
	for _, b := range bins {
		if real, err := filepath.EvalSymlinks(b); err == nil {
			out = append(out, filepath.Dir(filepath.Dir(real)))
		}
		out = append(out, filepath.Dir(filepath.Dir(b)))
	}
	return dedupe(append(out, fixed...))
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// dedupe drops repeated elements, keeping the first.
func dedupe[T comparable](in []T) []T {
	out := in[:0:0]
	for _, v := range in {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}
