package spec

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nixvm/nixvm/internal/arch"
)

// Limits checked by Validate.
const (
	MaxCPUs     = 256
	MinMemory   = 256 * MiB
	MaxMemory   = 1 * TiB
	MinDiskSize = 1 * GiB
	MaxMBRDisk  = 2 * TiB
	MinRootSize = 1 * GiB
	// Unattended installs need more than a VM does (docs/spec.md): the live
	// installer keeps its root and store overlay in RAM and evaluates
	// nixpkgs there (below about 1.5 GiB it is OOM-killed), and
	// nixos-install copies the whole closure plus the channel to the root
	// file system (a few GiB; X11 with a window manager about doubles it).
	MinInstallMemory      = 2 * GiB
	MinInstallRoot        = 4 * GiB
	MinInstallRootDesktop = 8 * GiB
	MinNetworkTimeout     = 10 * time.Second
	MaxNetworkTimeout     = time.Hour
	ESPSize               = 512 * MiB
	MaxDisks              = 2
	maxPort               = 65535
	nameRule              = "it becomes the NixOS host name: use 1-63 of a-z, 0-9 and -, starting and ending with a letter or digit"
	releaseRule           = "use stable, unstable or a release like 25.11: YY.05 or YY.11 with YY >= 20"
	sizeHintByte          = "; a bare number is bytes, write e.g. 2048M"
)

var (
	// The VM name is networking.hostName, whose type is strMatching
	// "^$|^[[:alnum:]]([[:alnum:]_-]{0,61}[[:alnum:]])?$"
	// (nixos/modules/tasks/network-interfaces.nix), narrowed to lower case
	// and no "_" so it is also a DNS label and a file name.
	nameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	// A Nix public key: "name:base64 of 32 bytes".
	publicKeyRE = regexp.MustCompile(`^[A-Za-z0-9._-]+:[A-Za-z0-9+/]{43}=$`)
	releaseRE   = regexp.MustCompile(`^([0-9]{2})\.(05|11)$`)
	sha256RE    = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
	// XKB layout names (xkeyboard-config's symbols files: us, de, gb,
	// latam, ...), up to four separated by commas as
	// services.xserver.xkb.layout takes them.
	keymapRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}(,[a-z][a-z0-9_-]{0,31}){0,3}$`)
)

// ValidName reports whether name is a valid VM name.
func ValidName(name string) bool { return nameRE.MatchString(name) }

// Validate checks a spec after ApplyDefaults and returns the first problem
// as one line: "field: problem (valid values)". Fields are named as in
// nixvm.yaml.
func (s *Spec) Validate() error {
	checks := []func() error{
		s.validateName,
		s.validateEnums,
		s.validateKeymap,
		s.validateCPUs,
		s.validateMemory,
		s.validateDisks,
		s.validateSwap,
		s.validatePorts,
		s.validateRelease,
		s.validateISO,
		s.validateExtraConfig,
		s.validateSubstituters,
	}
	for _, c := range checks {
		if err := c(); err != nil {
			return err
		}
	}
	return nil
}

func (s *Spec) validateName() error {
	if s.Name == "" {
		return fmt.Errorf("name: is required (%s)", nameRule)
	}
	if !ValidName(s.Name) {
		return fmt.Errorf("name: %q is not a valid VM name (%s)", s.Name, nameRule)
	}
	return nil
}

func (s *Spec) validateEnums() error {
	for _, e := range []struct {
		field, value string
		valid        []string
	}{
		{"arch", s.Arch, Arches},
		{"firmware", s.Firmware, Firmwares},
		{"partitionTable", s.PartitionTable, PartitionTables},
		{"raid", s.RAID, RAIDLevels},
		{"filesystem", s.Filesystem, Filesystems},
		{"desktop", s.Desktop, Desktops},
		{"display", s.Display, Displays},
	} {
		if err := checkEnum(e.field, e.value, e.valid); err != nil {
			return err
		}
	}
	// The machine description knows which firmware each machine boots.
	return arch.MustFor(s.Arch).CheckFirmware(s.Firmware)
}

func (s *Spec) validateKeymap() error {
	if s.Keymap != "" && !keymapRE.MatchString(s.Keymap) { // "" is the default, us
		return fmt.Errorf("keymap: %q is not an XKB layout name (use lower-case names such as us, de, fr or gb; up to four as us,de)", s.Keymap)
	}
	return nil
}

func checkEnum(field, value string, valid []string) error {
	if slices.Contains(valid, value) {
		return nil
	}
	return fmt.Errorf("%s: %q is not valid (use %s)", field, value, orList(valid))
}

// orList writes "a, b or c".
func orList(v []string) string {
	if len(v) < 2 {
		return strings.Join(v, "")
	}
	return strings.Join(v[:len(v)-1], ", ") + " or " + v[len(v)-1]
}

func (s *Spec) validateCPUs() error {
	if s.CPUs < 1 || s.CPUs > MaxCPUs {
		return fmt.Errorf("cpus: %d is out of range (use 1 to %d)", s.CPUs, MaxCPUs)
	}
	return nil
}

func (s *Spec) validateMemory() error {
	switch {
	case s.Memory < MinMemory:
		hint := ""
		if s.Memory > 0 && s.Memory < MiB {
			hint = sizeHintByte
		}
		return fmt.Errorf("memory: %s is too small (use at least %s%s)", s.Memory, MinMemory, hint)
	case s.Memory > MaxMemory:
		return fmt.Errorf("memory: %s is too large (use at most %s)", s.Memory, MaxMemory)
	}
	return nil
}

// systemDisks is how many disks hold the OS: both with raid1, else the
// first; a second disk without raid is a data disk left unformatted.
func (s *Spec) systemDisks() int {
	if s.RAID == "raid1" {
		return min(2, len(s.Disks))
	}
	return min(1, len(s.Disks))
}

func (s *Spec) validateDisks() error {
	switch n := len(s.Disks); {
	case n == 0:
		return fmt.Errorf("disks: none given (use 1 or 2 disks)")
	case n > MaxDisks:
		return fmt.Errorf("disks: %d given (use 1 or 2 disks)", n)
	}
	for i, d := range s.Disks {
		if d.Size < MinDiskSize {
			hint := ""
			if d.Size > 0 && d.Size < MiB {
				hint = sizeHintByte
			}
			return fmt.Errorf("disks[%d].size: %s is too small (use at least %s%s)", i, d.Size, MinDiskSize, hint)
		}
	}
	if s.RAID == "raid1" && len(s.Disks) != 2 {
		return fmt.Errorf("raid: raid1 needs exactly two disks, got %d (add a second disk or use raid none)", len(s.Disks))
	}
	if s.PartitionTable == "mbr" {
		for i, d := range s.Disks {
			if d.Size > MaxMBRDisk {
				return fmt.Errorf("partitionTable: mbr cannot address disks over 2 TiB (disk %d is %s); use gpt", i, d.Size)
			}
		}
	}
	return nil
}

func (s *Spec) validateSwap() error {
	if s.Swap < 0 {
		return fmt.Errorf("swap: %s is negative (use 0 for no swap, or a size like 2G)", s.Swap)
	}
	need := s.Swap + MinRootSize
	parts := "1G root"
	if s.Swap > 0 {
		parts = s.Swap.String() + " swap + " + parts
	}
	if s.Firmware == "uefi" {
		need += ESPSize
		parts += " + 512M ESP"
	}
	for i := range s.systemDisks() {
		d := s.Disks[i].Size
		if s.Swap >= d {
			return fmt.Errorf("swap: %s is not smaller than disk %d (%s); use less swap or a bigger disk", s.Swap, i, d)
		}
		if d < need {
			return fmt.Errorf("disks[%d].size: %s is too small for %s (use at least %s)", i, d, parts, need)
		}
	}
	return nil
}

func (s *Spec) validatePorts() error {
	if s.SSHPort < 0 || s.SSHPort > maxPort {
		return fmt.Errorf("sshPort: %d is out of range (use 0 to pick a free port, or 1 to %d)", s.SSHPort, maxPort)
	}
	seen := map[int]int{}
	for i, p := range s.PortForwards {
		field := fmt.Sprintf("portForwards[%d]", i)
		if p.Host < 1 || p.Host > maxPort {
			return fmt.Errorf("%s: host port %d is out of range (use 1 to %d)", field, p.Host, maxPort)
		}
		if p.Guest < 1 || p.Guest > maxPort {
			return fmt.Errorf("%s: guest port %d is out of range (use 1 to %d)", field, p.Guest, maxPort)
		}
		if p.Proto != "" && p.Proto != "tcp" {
			return fmt.Errorf("%s: protocol %q is not supported (use tcp)", field, p.Proto)
		}
		if j, dup := seen[p.Host]; dup {
			return fmt.Errorf("%s: host port %d is already forwarded by portForwards[%d] (use another host port)", field, p.Host, j)
		}
		seen[p.Host] = i
		if s.SSHPort != 0 && p.Host == s.SSHPort {
			return fmt.Errorf("%s: host port %d is the sshPort (use another host port)", field, p.Host)
		}
	}
	return nil
}

func (s *Spec) validateRelease() error {
	if s.Release == "stable" || s.Release == "unstable" {
		return nil
	}
	m := releaseRE.FindStringSubmatch(s.Release)
	if m == nil {
		return fmt.Errorf("release: %q is not valid (%s)", s.Release, releaseRule)
	}
	if yy, _ := strconv.Atoi(m[1]); yy < 20 {
		return fmt.Errorf("release: %q is too old (%s)", s.Release, releaseRule)
	}
	return nil
}

// IsURL reports whether the iso field names a download rather than a file.
func IsURL(iso string) bool {
	return strings.HasPrefix(iso, "http://") || strings.HasPrefix(iso, "https://")
}

func (s *Spec) validateISO() error {
	if s.ISOSHA256 != "" && !sha256RE.MatchString(s.ISOSHA256) {
		return fmt.Errorf("isoSha256: %q is not a SHA-256 (use 64 hex digits)", s.ISOSHA256)
	}
	if IsURL(s.ISO) && s.ISOSHA256 == "" {
		return fmt.Errorf("isoSha256: is required when iso is a URL (use the 64 hex digits published at %s.sha256)", s.ISO)
	}
	return nil
}

func (s *Spec) validateExtraConfig() error {
	if i := strings.IndexByte(s.ExtraConfig, 0); i >= 0 {
		return fmt.Errorf("extraConfig: contains a NUL byte at offset %d (use plain Nix text)", i)
	}
	return nil
}

func (s *Spec) validateSubstituters() error {
	for i, u := range s.Substituters {
		field := fmt.Sprintf("substituters[%d]", i)
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || strings.ContainsAny(u, " \t\n\"") {
			return fmt.Errorf("%s: %q is not a binary cache URL (use http:// or https:// and a host, e.g. %s)", field, u, DefaultSubstituter)
		}
	}
	for i, k := range s.TrustedPublicKeys {
		if !publicKeyRE.MatchString(k) {
			return fmt.Errorf("trustedPublicKeys[%d]: %q is not a Nix public key (use NAME:BASE64, e.g. %s)", i, k, DefaultTrustedPublicKey)
		}
	}
	if s.NetworkTimeout < MinNetworkTimeout || s.NetworkTimeout > MaxNetworkTimeout {
		return fmt.Errorf("networkTimeout: %s is out of range (use %s to %s)", s.NetworkTimeout, MinNetworkTimeout, MaxNetworkTimeout)
	}
	return nil
}

// MinInstallRootFor is the smallest root file system an unattended install
// of s accepts: more with a desktop, whose closure is about twice as big.
func (s *Spec) MinInstallRootFor() Size {
	if s.Desktop != "" && s.Desktop != "none" {
		return MinInstallRootDesktop
	}
	return MinInstallRoot
}

// ValidateInstall checks, after Validate, what an unattended install needs
// beyond a VM: memory for the live installer and nixos-install's
// evaluation. Disk sizes are checked by the install plan, which knows how
// much the layout takes before root. Manual VMs skip this: their user
// decides.
func (s *Spec) ValidateInstall() error {
	if s.Memory < MinInstallMemory {
		return &InstallMemoryError{Memory: s.Memory}
	}
	return nil
}

// InstallMemoryError is a spec whose memory is too small for an
// unattended install (a hand install may use less).
type InstallMemoryError struct{ Memory Size }

func (e *InstallMemoryError) Error() string {
	return fmt.Sprintf("memory: %s is too small for an unattended install (use at least %s: the installer runs from RAM and nixos-install evaluates nixpkgs there)", e.Memory, MinInstallMemory)
}
