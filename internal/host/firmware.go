package host

import (
	"os"
	"path/filepath"
	"slices"

	"github.com/nixvm/nixvm/internal/arch"
)

// searchDirs are the roots of the firmware search.
type searchDirs struct {
	system   string   // distribution firmware: /usr/share
	prefixes []string // install prefixes whose share/qemu may hold QEMU's bundled firmware
}

// uefiCandidates lists every pair to try for arch, best first.
// The pairs themselves (distributions' and QEMU's bundled one) are part
// of the machine description, internal/arch.
func uefiCandidates(guest string, d searchDirs) []UEFIPair {
	var out []UEFIPair
	m, err := arch.For(guest)
	if err != nil {
		return nil
	}
	for _, p := range m.UEFI {
		out = append(out, UEFIPair{filepath.Join(d.system, p.Code), filepath.Join(d.system, p.Vars)})
	}
	if b := m.BundledUEFI; b.Code != "" {
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
