package spec

import (
	"strings"
	"time"
)

// Defaults, in one place so docs, help texts and tests agree.
const (
	DefaultArch           = "x86_64"
	DefaultCPUs           = 2
	DefaultMemory         = 2 * GiB
	DefaultDiskSize       = 20 * GiB
	DefaultFirmware       = "uefi"
	DefaultPartitionTable = "gpt"
	DefaultRAID           = "none"
	DefaultFilesystem     = "ext4"
	DefaultDesktop        = "none"
	DefaultDisplay        = "auto"
	DefaultKeymap         = "us"
	DefaultRelease        = "stable"
	DefaultNetworkTimeout = 3 * time.Minute
	DefaultSubstituter    = "https://cache.nixos.org"
	// DefaultTrustedPublicKey is cache.nixos.org's signing key, as NixOS
	// sets it in nix.settings.trusted-public-keys.
	DefaultTrustedPublicKey = "cache.nixos.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY="
)

// ApplyDefaults fills every unset field with its default and normalizes
// isoSha256 to lowercase. It runs after flags are applied, because the
// default disk count depends on raid: raid1 with no disks gets two.
// SpecVersion is the version of the spec format this nixvm reads and
// writes. 1: the fields of docs/spec.md as of nixvm's first release.
const SpecVersion = 1

func (s *Spec) ApplyDefaults() {
	if s.Version == 0 {
		s.Version = SpecVersion
	}
	setString(&s.Arch, DefaultArch)
	if s.CPUs == 0 {
		s.CPUs = DefaultCPUs
	}
	if s.Memory == 0 {
		s.Memory = DefaultMemory
	}
	setString(&s.Firmware, DefaultFirmware)
	setString(&s.PartitionTable, DefaultPartitionTable)
	setString(&s.RAID, DefaultRAID)
	setString(&s.Filesystem, DefaultFilesystem)
	setString(&s.Desktop, DefaultDesktop)
	setString(&s.Display, DefaultDisplay)
	setString(&s.Keymap, DefaultKeymap)
	setString(&s.Release, DefaultRelease)
	if len(s.Disks) == 0 {
		s.Disks = []Disk{{Size: DefaultDiskSize}}
		if s.RAID == "raid1" {
			s.Disks = append(s.Disks, Disk{Size: DefaultDiskSize})
		}
	}
	for i := range s.PortForwards {
		setString(&s.PortForwards[i].Proto, "tcp")
	}
	s.ISOSHA256 = strings.ToLower(strings.TrimSpace(s.ISOSHA256))
	if len(s.Substituters) == 0 {
		s.Substituters = []string{DefaultSubstituter}
	}
	if len(s.TrustedPublicKeys) == 0 {
		s.TrustedPublicKeys = []string{DefaultTrustedPublicKey}
	}
	if s.NetworkTimeout == 0 {
		s.NetworkTimeout = DefaultNetworkTimeout
	}
}

func setString(p *string, def string) {
	if *p == "" {
		*p = def
	}
}
