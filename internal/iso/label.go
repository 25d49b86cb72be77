package iso

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// releaseRE matches a NixOS release as it appears in volume labels:
// YY.MM (25.05, 25.11). Unstable ISOs carry the upcoming release number.
var releaseRE = regexp.MustCompile(`^[0-9]{2}\.[0-9]{2}$`)

// editionRE matches the edition part of a label (minimal, graphical,
// gnome, plasma6, ...).
var editionRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// Arches are the CPU names ParseLabel accepts, as in spec.Arches.
var Arches = []string{"x86_64", "aarch64"}

// ParseLabel takes a NixOS installer volume label apart:
// nixos-<edition>-<release>-<cpu>, e.g. nixos-minimal-25.11-x86_64 gives
// ("25.11", "x86_64"). Editions other than minimal (graphical, gnome, ...)
// are accepted; the edition may itself contain dashes.
func ParseLabel(label string) (release, arch string, err error) {
	const want = "nixos-<edition>-<release>-<arch>, e.g. nixos-minimal-25.11-x86_64"
	rest, ok := strings.CutPrefix(label, "nixos-")
	if !ok {
		return "", "", fmt.Errorf("volume label %q does not start with \"nixos-\" (want %s)", label, want)
	}
	i := strings.LastIndexByte(rest, '-')
	if i < 0 {
		return "", "", fmt.Errorf("volume label %q has no architecture (want %s)", label, want)
	}
	rest, arch = rest[:i], rest[i+1:]
	if !slices.Contains(Arches, arch) {
		return "", "", fmt.Errorf("volume label %q: architecture %q is not one of %s", label, arch, strings.Join(Arches, ", "))
	}
	i = strings.LastIndexByte(rest, '-')
	if i < 0 {
		return "", "", fmt.Errorf("volume label %q has no edition (want %s)", label, want)
	}
	edition, release := rest[:i], rest[i+1:]
	if !releaseRE.MatchString(release) {
		return "", "", fmt.Errorf("volume label %q: release %q is not YY.MM (want %s)", label, release, want)
	}
	if !editionRE.MatchString(edition) {
		return "", "", fmt.Errorf("volume label %q: edition %q is not a lower-case word (want %s)", label, edition, want)
	}
	return release, arch, nil
}
