package host

import (
	"strings"
)

// Distribution families, as far as package names go.
const (
	distroDebian = "debian"
	distroFedora = "fedora"
	distroArch   = "arch"
	distroSUSE   = "suse"
	distroDarwin = "darwin"
)

var distroLabels = []struct{ id, label string }{
	{distroDebian, "Debian/Ubuntu"},
	{distroFedora, "Fedora"},
	{distroArch, "Arch"},
	{distroSUSE, "openSUSE"},
}

// packages names, per item and distribution family, the package that
// provides the item.
var packages = map[string]map[string]string{
	ItemQEMU("x86_64"):  {distroDebian: "qemu-system-x86", distroFedora: "qemu-system-x86", distroArch: "qemu-full", distroSUSE: "qemu-x86"},
	ItemQEMU("aarch64"): {distroDebian: "qemu-system-arm", distroFedora: "qemu-system-aarch64", distroArch: "qemu-full", distroSUSE: "qemu-arm"},
	ItemQEMUImg:         {distroDebian: "qemu-utils", distroFedora: "qemu-img", distroArch: "qemu-full", distroSUSE: "qemu-tools"},
	ItemUEFI("x86_64"):  {distroDebian: "ovmf", distroFedora: "edk2-ovmf", distroArch: "edk2-ovmf", distroSUSE: "qemu-ovmf-x86_64"},
	ItemUEFI("aarch64"): {distroDebian: "qemu-efi-aarch64", distroFedora: "edk2-aarch64", distroArch: "edk2-aarch64", distroSUSE: "qemu-uefi-aarch64"},
	ItemSeaBIOS:         {distroDebian: "seabios", distroFedora: "seabios-bin", distroArch: "seabios", distroSUSE: "qemu-seabios"},
}

// installHint says what to install to get item: the package for this
// distribution when it is known, else the packages of all of them.
func installHint(distro, item string) string {
	if distro == distroDarwin {
		// Homebrew's qemu bundles the edk2 firmware and SeaBIOS.
		return "install QEMU with: brew install qemu"
	}
	pkgs := packages[item]
	if pkgs == nil {
		return ""
	}
	for _, d := range distroLabels {
		if d.id == distro {
			return "install " + pkgs[d.id] + " (" + d.label + ")"
		}
	}
	var alts []string
	for _, d := range distroLabels {
		alts = append(alts, pkgs[d.id]+" ("+d.label+")")
	}
	return "install " + strings.Join(alts, ", ") + ", or run brew install qemu (macOS)"
}

// distro returns the distribution family of the machine, "" if unknown.
func distro(e *env) string {
	if e.goos == "darwin" {
		return distroDarwin
	}
	text, err := readOSRelease(e.osRelease)
	if err != nil {
		return ""
	}
	return distroFamily(text)
}

// distroFamily reads ID and ID_LIKE from os-release text (see
// os-release(5)); derivatives are matched through ID_LIKE.
func distroFamily(osRelease string) string {
	var ids []string
	for _, line := range strings.Split(osRelease, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok || (k != "ID" && k != "ID_LIKE") {
			continue
		}
		v = strings.Trim(v, `"'`)
		if k == "ID" {
			ids = append([]string{v}, ids...)
		} else {
			ids = append(ids, strings.Fields(v)...)
		}
	}
	for _, id := range ids {
		switch id := strings.ToLower(id); {
		case id == "debian" || id == "ubuntu":
			return distroDebian
		case id == "fedora" || id == "rhel" || id == "centos":
			return distroFedora
		case id == "arch" || id == "archarm":
			return distroArch
		case id == "suse" || id == "sles" || strings.HasPrefix(id, "opensuse"):
			return distroSUSE
		}
	}
	return ""
}
