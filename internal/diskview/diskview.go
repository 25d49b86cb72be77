// Package diskview reads the layout of a disk image the way GParted or
// lsblk would show it: the partition table (GPT or MBR, with extended and
// logical partitions) and, where a superblock is cheap to read, what each
// partition holds (file system, swap, LVM physical volume with its volume
// group and logical volumes, md RAID member with its array).
//
// Everything here parses bytes from an io.ReaderAt: nothing is mounted,
// assembled or activated, and no root is needed. The parsers are written for
// hostile input (they are fuzzed): every offset and count read from the
// image is bounded before it is used.
package diskview

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// SectorSize is the logical sector size assumed for images. QEMU exposes
// virtio-blk and IDE disks with 512-byte sectors unless told otherwise, and
// nixvm never tells it otherwise.
const SectorSize = 512

// Table types.
const (
	TableGPT  = "gpt"
	TableMBR  = "mbr"
	TableNone = "none"
)

// Disk is the view of one disk image.
type Disk struct {
	Path       string      `json:"path,omitempty"`
	Format     string      `json:"format,omitempty"` // qcow2 or raw
	Size       int64       `json:"size"`             // virtual size in bytes
	SectorSize int         `json:"sectorSize"`
	Table      string      `json:"table"`              // gpt, mbr or none
	ID         string      `json:"id,omitempty"`       // GPT disk GUID or MBR disk signature (0x...)
	Warnings   []string    `json:"warnings,omitempty"` // e.g. a corrupt primary GPT header
	Partitions []Partition `json:"partitions"`
	// Content is what the whole disk holds when it has no partition table
	// (a file system or LVM PV made directly on the disk).
	Content *Content `json:"content,omitempty"`
}

// Partition is one entry of the partition table. Start and End are
// sectors (End inclusive, as fdisk and GParted print them); Size is bytes.
type Partition struct {
	Number   int      `json:"number"`
	Kind     string   `json:"kind,omitempty"` // MBR only: primary, extended or logical
	Start    int64    `json:"start"`
	End      int64    `json:"end"`
	Sectors  int64    `json:"sectors"`
	Size     int64    `json:"size"`
	Type     string   `json:"type"`     // GPT type GUID (upper case) or MBR type code (two hex digits)
	TypeName string   `json:"typeName"` // e.g. "Linux filesystem", "EFI System"
	GUID     string   `json:"guid,omitempty"`
	Name     string   `json:"name,omitempty"`  // GPT partition name
	Flags    []string `json:"flags,omitempty"` // boot (MBR active), required, no_block_io, legacy_boot, GUID:N
	Content  *Content `json:"content,omitempty"`
}

// Content is what a superblock probe found. Type uses blkid's names
// (ext4, vfat, swap, LVM2_member, linux_raid_member, iso9660, squashfs,
// btrfs, xfs) so that the view can be compared with blkid directly.
type Content struct {
	Type    string `json:"type"`
	Version string `json:"version,omitempty"` // FAT32, 1.2 (md), 4.0 (squashfs), ...
	Label   string `json:"label,omitempty"`
	UUID    string `json:"uuid,omitempty"`
	LVM     *LVM   `json:"lvm,omitempty"`
	MD      *MD    `json:"md,omitempty"`
}

// LVM is what an LVM2 physical volume says about itself and its volume
// group, from its label and the newest metadata text on it.
type LVM struct {
	PVUUID     string `json:"pvUuid"`
	VG         string `json:"vg,omitempty"`
	VGUUID     string `json:"vgUuid,omitempty"`
	ExtentSize int64  `json:"extentSize,omitempty"` // bytes
	LVs        []LV   `json:"lvs,omitempty"`
}

// LV is a logical volume of the VG. Content is probed when the LV's first
// segment lies on this PV.
type LV struct {
	Name    string   `json:"name"`
	UUID    string   `json:"uuid,omitempty"`
	Size    int64    `json:"size"`
	Content *Content `json:"content,omitempty"`
}

// MD is a member's view of its md RAID array (metadata 1.x superblock).
// Content is probed for RAID1, whose members hold the array's data as is.
type MD struct {
	Name       string   `json:"name"`                 // homehost:name
	UUID       string   `json:"uuid"`                 // array UUID, mdadm's form (8:8:8:8)
	Level      string   `json:"level"`                // raid1, raid0, raid5, ...
	RaidDisks  int      `json:"raidDisks"`            // devices in the array
	Role       int      `json:"role"`                 // this member's slot, -1 spare, -2 faulty
	DataOffset int64    `json:"dataOffset,omitempty"` // bytes from the member's start
	ArraySize  int64    `json:"arraySize,omitempty"`  // bytes of the array's data on a member
	Content    *Content `json:"content,omitempty"`
}

// maxDepth bounds probing through containers (md holding LVM holding ext4).
const maxDepth = 3

// Inspect reads the partition table of the disk image r of size bytes and
// probes each partition's content. A damaged table is reported in
// Disk.Warnings where another copy could be used; only read errors are
// returned as errors.
func Inspect(ctx context.Context, r io.ReaderAt, size int64) (*Disk, error) {
	d := &Disk{Size: size, SectorSize: SectorSize, Table: TableNone, Partitions: []Partition{}}
	rd := &reader{r: r, size: size}
	if err := readTable(rd, d); err != nil {
		return nil, err
	}
	if d.Table == TableNone {
		c, err := probe(ctx, rd, 0, size, 0)
		if err != nil {
			return nil, err
		}
		d.Content = c
		return d, nil
	}
	for i := range d.Partitions {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		p := &d.Partitions[i]
		if p.Kind == "extended" {
			continue // holds only the chain of logical partitions
		}
		c, err := probe(ctx, rd, p.Start*SectorSize, p.Size, 0)
		if err != nil {
			return nil, fmt.Errorf("partition %d: %w", p.Number, err)
		}
		p.Content = c
	}
	return d, nil
}

// reader is the image with bounds: reads past the end return zeros rather
// than errors, because a truncated or sparse image is still worth showing,
// and reads are capped in size so that no field in the image can make us
// allocate much.
type reader struct {
	r    io.ReaderAt
	size int64
}

// maxRead caps one read. The largest legitimate read is LVM metadata text
// (at most a metadata area, default 1 MiB) or a GPT entry array (16 KiB
// normally).
const maxRead = 4 << 20

var errTooBig = errors.New("field in the image asks for an oversized read")

// read returns n bytes at off; bytes outside the image read as zero.
func (rd *reader) read(off int64, n int) ([]byte, error) {
	if n < 0 || n > maxRead {
		return nil, errTooBig
	}
	b := make([]byte, n)
	if off < 0 || off >= rd.size {
		return b, nil
	}
	m := n
	if int64(m) > rd.size-off {
		m = int(rd.size - off)
	}
	k, err := rd.r.ReadAt(b[:m], off)
	if err != nil && !(errors.Is(err, io.EOF) && k == m) {
		if errors.Is(err, io.EOF) {
			return b, nil // shorter file than its header says: zeros
		}
		return nil, fmt.Errorf("read %d bytes at offset %d: %w", m, off, err)
	}
	return b, nil
}
