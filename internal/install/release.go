package install

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/nixvm/nixvm/internal/iso"
	"github.com/nixvm/nixvm/internal/spec"
)

// OptionsSince lists, for every option prefix that nixvm's configuration.nix
// can set, the first NixOS release that declares it (from nixpkgs; the
// stand-in's declared-options table, scripts/standin/nixos-options.tsv, has
// the same facts per option and a test keeps the two in agreement). An
// installer older than an option it is given fails evaluation with "The
// option ... does not exist", after the disks were already partitioned; so
// nixvm refuses such a release up front.
//
// A prefix ending in "." covers every option below it; the longest matching
// prefix wins. Options not listed here are older than any release nixvm
// accepts (spec: YY >= 20).
var OptionsSince = map[string]string{
	// Renamed from services.openssh.passwordAuthentication & co. in 23.05.
	"services.openssh.settings.": "23.05",
	// Renamed from boot.initrd.services.swraid in 23.11.
	"boot.swraid.": "23.11",
	// nix.settings replaced nix.binaryCaches & co. in 22.05.
	"nix.settings.": "22.05",
	// Moved from services.xserver.displayManager in 24.05.
	"services.displayManager.": "24.05",
	// Renamed from services.xserver.layout in 23.11 (desktops only).
	"services.xserver.xkb.": "23.11",
	// boot.initrd.services.lvm came with the systemd initrd in 22.05.
	"boot.initrd.services.lvm.": "22.05",
}

var optionLineRE = regexp.MustCompile(`(?m)^\s*([A-Za-z_][A-Za-z0-9_.'"-]*)\s*=`)

// OptionNames lists the options a generated configuration.nix sets, in
// order: every line of the form "a.b.c = value;".
func OptionNames(conf string) []string {
	var v []string
	for _, m := range optionLineRE.FindAllStringSubmatch(conf, -1) {
		v = append(v, m[1])
	}
	return v
}

// sinceOf is the first release that has option, "" if it is older than
// every release nixvm accepts.
func sinceOf(option string) string {
	best, since := "", ""
	for p, rel := range OptionsSince {
		if (option == strings.TrimSuffix(p, ".") || strings.HasPrefix(option, p)) && len(p) > len(best) {
			best, since = p, rel
		}
	}
	return since
}

// MinRelease is the oldest NixOS release that declares every option of conf,
// and the newest option that decides it.
func MinRelease(conf string) (release, option string) {
	for _, o := range OptionNames(conf) {
		if r := sinceOf(o); r != "" && releaseLess(release, r) {
			release, option = r, o
		}
	}
	return release, option
}

// releaseLess compares YY.MM releases; "" is older than every release.
func releaseLess(a, b string) bool { return a < b } // YY.MM sorts as text

// checkRelease refuses an installer release older than an option of conf.
func checkRelease(release, conf string) error {
	if minRel, option := MinRelease(conf); releaseLess(release, minRel) {
		return fmt.Errorf("release: %s is too old for this VM: its configuration sets %s, which NixOS has since %s (use release %s or newer)", release, option, minRel, minRel)
	}
	return nil
}

// CheckRelease says whether an installer of release (YY.MM) can install s:
// it plans the configuration and compares its options' ages. create runs it
// before downloading when the release is known, and again once the ISO's
// own release is read.
func CheckRelease(in Inputs) error {
	if in.User == "" {
		in.User = "nixos"
	}
	if in.AuthorizedKey == "" {
		in.AuthorizedKey = "ssh-ed25519 AAAA nixvm"
	}
	l, err := makeLayout(&in.Spec, ArrayUUIDsFor(in.Spec.Name))
	if err != nil {
		return err
	}
	return checkRelease(in.Release, configurationNix(in, l))
}

// Preflight checks an unattended install of s by an installer of release:
// CheckSpec (memory, disk sizes), then, when release is a version (YY.MM),
// CheckRelease (option ages); "stable", "unstable" and "" are not known
// yet and pass. It is pure and quick: create runs it before anything is
// downloaded or made, and again with the installer's own release.
func Preflight(s *spec.Spec, release string) error {
	if err := CheckSpec(s); err != nil {
		return err
	}
	if !yymmRE.MatchString(release) {
		return nil
	}
	return CheckRelease(Inputs{Spec: *s, Release: release})
}

var yymmRE = regexp.MustCompile(`^\d\d\.\d\d$`)

// InstallerRelease is the NixOS release (YY.MM) of an inspected installer:
// from its label, or for an unstable ISO from its version (26.05pre...).
// It becomes system.stateVersion and decides which options exist.
func InstallerRelease(info *iso.Info) (string, error) {
	if yymmRE.MatchString(info.Release) {
		return info.Release, nil
	}
	if parts := strings.SplitN(info.Version, ".", 3); len(parts) >= 2 {
		if r := parts[0] + "." + parts[1][:min(2, len(parts[1]))]; yymmRE.MatchString(r) {
			return r, nil
		}
	}
	return "", fmt.Errorf("cannot tell the NixOS release of the installer (label %q, version %q): is it a NixOS ISO?", info.Label, info.Version)
}
