package install

import (
	"fmt"
	"strings"

	"github.com/nixvm/nixvm/internal/arch"
	"github.com/nixvm/nixvm/internal/spec"
)

// Block devices as the installer names them: the VM's disks are virtio-blk.
var diskDevices = []string{"/dev/vda", "/dev/vdb"}

// Names of what the layout creates.
const (
	vgName    = "nixvm"
	rootLabel = "nixos" // ext4 label of /
	swapLabel = "swap"
	espLabel  = "ESP"
	mdRoot    = "/dev/md/root"
	mdSwap    = "/dev/md/swap"
	lvRoot    = "/dev/" + vgName + "/root"
	lvSwap    = "/dev/" + vgName + "/swap"
)

// Sizes of the layout. Partitions start and end on MiB boundaries, which
// is what sgdisk and sfdisk align to anyway, so the planned offsets are the
// real ones.
const (
	firstOffset  = spec.MiB     // room for the MBR or GPT and GRUB's MBR gap
	endSlack     = spec.MiB     // room for GPT's backup header at the end of the disk
	biosBootSize = spec.MiB     // GRUB's core image on BIOS+GPT
	lvmPEStart   = spec.MiB     // LVM's default metadata area before the first extent
	lvmExtent    = 4 * spec.MiB // LVM's default extent size
)

// Partition is one partition of the plan, the same on every disk in Disks.
type Partition struct {
	Disks  []string  // the disks it is made on: /dev/vda, and /dev/vdb with raid1
	Number int       // partition number: 1 is /dev/vda1
	Start  spec.Size // offset from the start of the disk
	Size   spec.Size
	Type   string // sgdisk type code (EF00, EF02, 8200, 8300, 8E00, FD00) or MBR type (ef, 82, 83, 8e, fd)
	Boot   bool   // MBR active flag
	Name   string // GPT partition name
	Use    string // what it holds, for people
}

// String describes the partition on one line.
func (p Partition) String() string {
	devs := make([]string, len(p.Disks))
	for i, d := range p.Disks {
		devs[i] = partDev(d, p.Number)
	}
	boot := ""
	if p.Boot {
		boot = " (active)"
	}
	return fmt.Sprintf("%-21s start %-6s size %-7s type %s%s: %s", strings.Join(devs, ","), p.Start, p.Size, p.Type, boot, p.Use)
}

// partDev names partition n of disk: virtio disks have no "p" separator.
func partDev(disk string, n int) string { return fmt.Sprintf("%s%d", disk, n) }

// Boot loaders, chosen by firmware and partition table (docs/spec.md) in
// the machine description (internal/arch).
const (
	grubBIOS    = arch.GrubBIOS
	systemdBoot = arch.SystemdBoot
	// systemd-boot's `bootctl install` refuses an ESP that is not on a GPT
	// disk (systemd src/shared/find-esp.c), so UEFI on MBR gets GRUB.
	grubEFI = arch.GrubEFI
)

// layout is the storage plan that install.sh and configuration.nix share.
type layout struct {
	gpt, uefi, lvm, raid bool
	bootLoader           string
	disks                []string // the system disks
	parts                []Partition
	esp                  string // ESP partition to format and mount at /boot; "" for BIOS
	bootDevices          []string
	md                   []mdArray
	pv                   string    // device that becomes the LVM PV; "" without LVM
	swapMiB              int64     // swap size (partition or LV), 0 for none
	swapDev, rootDev     string    // what mkswap and mkfs.ext4 run on
	rootSize             spec.Size // estimated size of the root file system
}

// mdArray is a software RAID1 array. Its UUID is chosen at plan time and
// its homehost is the VM's host name, so that the ARRAY lines of
// boot.swraid.mdadmConf name it exactly and the installed system (scripted
// or systemd initrd) assembles it as /dev/md/<name>, not as md127.
type mdArray struct {
	dev     string // /dev/md/<name>
	name    string // root or swap
	uuid    string // mdadm's form: 8:8:8:8 hex digits
	members []string
}

// makeLayout plans the partitions: an ESP (UEFI) or BIOS boot partition
// (BIOS+GPT), swap unless it is an LV, and the rest for root, the LVM PV or
// the RAID member. With raid1 both disks get the same partitions, sized for
// the smaller disk.
func makeLayout(s *spec.Spec, uuids ArrayUUIDs) (*layout, error) {
	l := &layout{
		gpt:  s.PartitionTable == "gpt",
		uefi: s.Firmware == "uefi",
		lvm:  s.LVM,
		raid: s.RAID == "raid1",
	}
	l.bootLoader = arch.MustFor(s.Arch).BootLoader(s.Firmware, s.PartitionTable)
	n := 1
	if l.raid {
		n = 2
	}
	l.disks = diskDevices[:n]
	small := 0
	for i := range n {
		if s.Disks[i].Size < s.Disks[small].Size {
			small = i
		}
	}
	diskSize := s.Disks[small].Size / spec.MiB * spec.MiB
	l.swapMiB = int64((s.Swap + spec.MiB - 1) / spec.MiB)

	pos := firstOffset
	add := func(size spec.Size, gptType, mbrType, name, use string) *Partition {
		p := Partition{Disks: l.disks, Number: len(l.parts) + 1, Start: pos, Size: size, Type: mbrType, Name: name, Use: use}
		if l.gpt {
			p.Type = gptType
		}
		pos += size
		l.parts = append(l.parts, p)
		return &l.parts[len(l.parts)-1]
	}
	member := func(array string) string { return "RAID1 member of " + array + ": " }

	switch {
	case l.uefi:
		use := fmt.Sprintf("vfat %q mounted at /boot", espLabel)
		if l.raid {
			// The boot loader manages one ESP; the second disk's stays empty
			// so that both disks have the same layout.
			use += fmt.Sprintf(" (only %s; %s stays empty)", partDev(l.disks[0], 1), partDev(l.disks[1], 1))
		}
		add(spec.ESPSize, "EF00", "ef", "ESP", use)
		l.esp = partDev(l.disks[0], 1)
	case l.gpt:
		add(biosBootSize, "EF02", "", "bios-boot", "GRUB's core image (BIOS boot partition)")
	}
	if !l.uefi {
		l.bootDevices = l.disks
	}

	if l.swapMiB > 0 && !l.lvm {
		use := fmt.Sprintf("swap %q", swapLabel)
		gptType, mbrType := "8200", "82"
		if l.raid {
			use, gptType, mbrType = member(mdSwap)+use, "FD00", "fd"
		}
		p := add(spec.Size(l.swapMiB)*spec.MiB, gptType, mbrType, "swap", use)
		l.swapDev = partDev(l.disks[0], p.Number)
		if l.raid {
			l.swapDev = mdSwap
			l.md = append(l.md, mdArray{dev: mdSwap, name: "swap", uuid: uuids.Swap, members: members(l.disks, p.Number)})
		}
	}

	rootUse := fmt.Sprintf("ext4 %q mounted at /", rootLabel)
	gptType, mbrType := "8300", "83"
	if l.lvm {
		swap := ""
		if l.swapMiB > 0 {
			swap = fmt.Sprintf("LV swap %s, ", spec.Size(l.swapMiB)*spec.MiB)
		}
		rootUse = fmt.Sprintf("LVM PV of VG %s: %sLV root (%s)", vgName, swap, rootUse)
		gptType, mbrType = "8E00", "8e"
	}
	if l.raid {
		rootUse, gptType, mbrType = member(mdRoot)+rootUse, "FD00", "fd"
	}
	rootStart := pos
	root := add(diskSize-pos-endSlack, gptType, mbrType, "root", rootUse)
	root.Boot = !l.gpt && !l.uefi // some BIOSes boot only a disk with an active partition
	rootPart := partDev(l.disks[0], root.Number)
	blockDev := rootPart
	if l.raid {
		blockDev = mdRoot
		l.md = append(l.md, mdArray{dev: mdRoot, name: "root", uuid: uuids.Root, members: members(l.disks, root.Number)})
	}
	l.rootDev = blockDev
	if l.lvm {
		l.pv = blockDev
		l.rootDev = lvRoot
		if l.swapMiB > 0 {
			l.swapDev = lvSwap
		}
	}

	l.rootSize = rootFSSize(diskSize-rootStart-endSlack, l)
	minRoot := s.MinInstallRootFor()
	if l.rootSize < minRoot {
		need := diskSize
		for rootFSSize(need-rootStart-endSlack, l) < minRoot {
			need += spec.MiB
		}
		what := "partitioning overhead"
		if l.raid || l.lvm {
			what = "RAID/LVM metadata and partitioning overhead"
		}
		return nil, fmt.Errorf("disks[%d].size: %s leaves %s for the root file system after the %s and %s (%s needs at least %s; use a disk of at least %s)",
			small, s.Disks[small].Size, max(l.rootSize, 0), beforeRoot(l), what, closureName(s), minRoot, need)
	}
	return l, nil
}

// closureName says what the install's size minimum is for.
func closureName(s *spec.Spec) string {
	if s.Desktop != "none" {
		return "NixOS with the " + s.Desktop + " desktop"
	}
	return "a minimal NixOS"
}

// beforeRoot names what precedes root on the disk, for error messages.
func beforeRoot(l *layout) string {
	var v []string
	for _, p := range l.parts[:len(l.parts)-1] {
		v = append(v, p.Size.String()+" "+p.Name)
	}
	if l.lvm && l.swapMiB > 0 {
		v = append(v, (spec.Size(l.swapMiB)*spec.MiB).String()+" swap LV")
	}
	if len(v) == 0 {
		return "partition table"
	}
	return strings.Join(v, ", ")
}

func members(disks []string, n int) []string {
	v := make([]string, len(disks))
	for i, d := range disks {
		v[i] = partDev(d, n)
	}
	return v
}

// rootFSSize estimates the root file system's size from the root
// partition's: less md's reserved space, LVM's metadata and extent
// rounding, and the swap LV.
func rootFSSize(part spec.Size, l *layout) spec.Size {
	size := part
	if l.raid {
		size -= mdDataOffset(part)
	}
	if l.lvm {
		size = (size - lvmPEStart) / lvmExtent * lvmExtent
		swap := (spec.Size(l.swapMiB)*spec.MiB + lvmExtent - 1) / lvmExtent * lvmExtent
		size -= swap
	}
	return size
}

// mdDataOffset is where mdadm (metadata 1.2) starts the data on a member:
// it reserves 128 MiB of headroom, halved while that is more than 1/1024 of
// the device (down to 1 MiB), plus about 1 MiB for the superblock and bitmap.
// This mirrors mdadm's super1.c closely enough for the size check.
func mdDataOffset(dev spec.Size) spec.Size {
	headroom := 128 * spec.MiB
	for headroom*1024 > dev && headroom > spec.MiB {
		headroom /= 2
	}
	return headroom + spec.MiB
}
