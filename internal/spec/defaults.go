package spec

import "strings"

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
	DefaultDisplay        = "none"
	DefaultRelease        = "stable"
)

// ApplyDefaults fills every unset field with its default and normalizes
// isoSha256 to lowercase. It runs after flags are applied, because the
// default disk count depends on raid: raid1 with no disks gets two.
func (s *Spec) ApplyDefaults() {
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
}

func setString(p *string, def string) {
	if *p == "" {
		*p = def
	}
}
