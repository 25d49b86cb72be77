package diskview

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"strings"
)

// probe looks at the superblocks of the area [off, off+size) of the image
// and says what it holds, or nil. Containers come first, as in blkid: an
// md member or LVM PV often carries stale file system bytes further in.
func probe(ctx context.Context, rd *reader, off, size int64, depth int) (*Content, error) {
	if depth > maxDepth || size <= 0 {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Reads stay inside the area: a partition's probe must not see its
	// neighbour's bytes.
	area := &reader{r: sectionReader{rd, off, size}, size: size}
	for _, p := range []func(context.Context, *reader, int) (*Content, error){
		probeMD, probeLVM, probeExt, probeBtrfs, probeXFS, probeSquashfs, probeISO9660, probeSwap, probeFAT,
	} {
		c, err := p(ctx, area, depth)
		if c != nil || err != nil {
			return c, err
		}
	}
	return nil, nil
}

// sectionReader is a window of a reader; reads past its end are cut.
type sectionReader struct {
	rd        *reader
	off, size int64
}

func (s sectionReader) ReadAt(b []byte, off int64) (int, error) {
	buf, err := s.rd.read(s.off+off, len(b))
	if err != nil {
		return 0, err
	}
	return copy(b, buf), nil
}

// cstr is a NUL- or space-padded string field.
func cstr(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return strings.ToValidUTF8(strings.TrimRight(string(b), " "), "?")
}

// uuid prints 16 bytes in the usual 8-4-4-4-12 form (big-endian, as ext4,
// btrfs, xfs and swap store it).
func uuid(b []byte) string {
	if bytes.Equal(b[:16], make([]byte, 16)) {
		return ""
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func probeExt(_ context.Context, rd *reader, _ int) (*Content, error) {
	sb, err := rd.read(1024, 1024)
	if err != nil {
		return nil, err
	}
	if binary.LittleEndian.Uint16(sb[0x38:]) != 0xef53 {
		return nil, nil
	}
	compat := binary.LittleEndian.Uint32(sb[0x5c:])
	incompat := binary.LittleEndian.Uint32(sb[0x60:])
	rocompat := binary.LittleEndian.Uint32(sb[0x64:])
	// blkid's rule: features beyond what ext3 supports make it ext4, a
	// journal makes it ext3.
	const (
		hasJournal   = 0x4
		journalDev   = 0x8
		ext3Incompat = 0x2 | 0x4 | 0x10
		ext3ROCompat = 0x1 | 0x2 | 0x4
	)
	t := "ext2"
	switch {
	case incompat&journalDev != 0:
		t = "jbd"
	case incompat&^ext3Incompat != 0 || rocompat&^ext3ROCompat != 0:
		t = "ext4"
	case compat&hasJournal != 0:
		t = "ext3"
	}
	return &Content{Type: t, UUID: uuid(sb[0x68:]), Label: cstr(sb[0x78:0x88])}, nil
}

func probeSwap(_ context.Context, rd *reader, _ int) (*Content, error) {
	// The signature ends the first page; the page size of the host that
	// ran mkswap decides where that is.
	for _, page := range []int64{4096, 8192, 16384, 65536} {
		sig, err := rd.read(page-10, 10)
		if err != nil {
			return nil, err
		}
		if string(sig) != "SWAPSPACE2" && string(sig) != "SWAP-SPACE" {
			continue
		}
		c := &Content{Type: "swap"}
		if string(sig) == "SWAPSPACE2" {
			c.Version = "1"
			h, err := rd.read(1024, 44)
			if err != nil {
				return nil, err
			}
			c.UUID = uuid(h[12:28])
			c.Label = cstr(h[28:44])
		}
		return c, nil
	}
	return nil, nil
}

func probeFAT(_ context.Context, rd *reader, _ int) (*Content, error) {
	bs, err := rd.read(0, 512)
	if err != nil {
		return nil, err
	}
	if bs[510] != 0x55 || bs[511] != 0xaa {
		return nil, nil
	}
	bps := binary.LittleEndian.Uint16(bs[11:])
	spc := bs[13]
	if bps < 512 || bps > 4096 || bps&(bps-1) != 0 || spc == 0 || spc&(spc-1) != 0 || bs[16] == 0 {
		return nil, nil
	}
	var version string
	var serial []byte
	var label []byte
	switch {
	case string(bs[82:87]) == "FAT32":
		version, serial, label = "FAT32", bs[67:71], bs[71:82]
	case string(bs[54:59]) == "FAT16" || string(bs[54:59]) == "FAT12":
		version, serial, label = string(bs[54:59]), bs[39:43], bs[43:54]
	default:
		return nil, nil
	}
	c := &Content{Type: "vfat", Version: version}
	if l := cstr(label); l != "NO NAME" {
		c.Label = l
	}
	c.UUID = fmt.Sprintf("%04X-%04X", binary.LittleEndian.Uint16(serial[2:]), binary.LittleEndian.Uint16(serial[0:]))
	return c, nil
}

func probeISO9660(_ context.Context, rd *reader, _ int) (*Content, error) {
	pvd, err := rd.read(0x8000, 2048)
	if err != nil {
		return nil, err
	}
	if pvd[0] != 1 || string(pvd[1:6]) != "CD001" {
		return nil, nil
	}
	return &Content{Type: "iso9660", Label: cstr(pvd[40:72])}, nil
}

func probeSquashfs(_ context.Context, rd *reader, _ int) (*Content, error) {
	sb, err := rd.read(0, 96)
	if err != nil {
		return nil, err
	}
	if string(sb[:4]) != "hsqs" {
		return nil, nil
	}
	return &Content{Type: "squashfs", Version: fmt.Sprintf("%d.%d", binary.LittleEndian.Uint16(sb[28:]), binary.LittleEndian.Uint16(sb[30:]))}, nil
}

func probeBtrfs(_ context.Context, rd *reader, _ int) (*Content, error) {
	sb, err := rd.read(0x10000, 0x300)
	if err != nil {
		return nil, err
	}
	if string(sb[0x40:0x48]) != "_BHRfS_M" {
		return nil, nil
	}
	return &Content{Type: "btrfs", UUID: uuid(sb[0x20:]), Label: cstr(sb[0x12b:0x22b])}, nil
}

func probeXFS(_ context.Context, rd *reader, _ int) (*Content, error) {
	sb, err := rd.read(0, 512)
	if err != nil {
		return nil, err
	}
	if string(sb[:4]) != "XFSB" {
		return nil, nil
	}
	return &Content{Type: "xfs", UUID: uuid(sb[32:]), Label: cstr(sb[108:120])}, nil
}
