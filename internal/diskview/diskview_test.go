package diskview

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"reflect"
	"strings"
	"testing"
	"unicode/utf16"
)

const MiB = 1 << 20

// The builders below write the on-disk structures by the specifications
// (UEFI 2.x GPT, the PC MBR, and each superblock's layout), independently
// of the parsers under test. test/integration/disk_test.go checks the
// parsers against images made by the real tools.

type gptPart struct {
	typ, guid   string
	first, last uint64
	attrs       uint64
	name        string
}

func putGUID(b []byte, s string) {
	s = strings.ReplaceAll(s, "-", "")
	var raw [16]byte
	for i := range raw {
		var v byte
		for _, c := range s[2*i : 2*i+2] {
			v <<= 4
			switch {
			case c >= '0' && c <= '9':
				v |= byte(c - '0')
			default:
				v |= byte(c-'A') + 10
			}
		}
		raw[i] = v
	}
	// Mixed endian: the first three fields little-endian.
	copy(b, []byte{raw[3], raw[2], raw[1], raw[0], raw[5], raw[4], raw[7], raw[6]})
	copy(b[8:], raw[8:])
}

// writeGPT writes a protective MBR, the primary GPT at sector 1 with its
// entries at sector 2, and the backup at the last sector with its entries
// before it.
func writeGPT(img []byte, parts []gptPart) {
	last := uint64(len(img)/512) - 1
	img[446+4] = 0xee
	binary.LittleEndian.PutUint32(img[446+8:], 1)
	binary.LittleEndian.PutUint32(img[446+12:], uint32(last))
	img[510], img[511] = 0x55, 0xaa
	ents := make([]byte, 128*128)
	for i, p := range parts {
		e := ents[i*128:]
		putGUID(e, p.typ)
		putGUID(e[16:], p.guid)
		binary.LittleEndian.PutUint64(e[32:], p.first)
		binary.LittleEndian.PutUint64(e[40:], p.last)
		binary.LittleEndian.PutUint64(e[48:], p.attrs)
		for j, c := range utf16.Encode([]rune(p.name)) {
			binary.LittleEndian.PutUint16(e[56+2*j:], c)
		}
	}
	ecrc := crc32.ChecksumIEEE(ents)
	hdr := func(my, alt, entLBA uint64) []byte {
		h := make([]byte, 92)
		copy(h, "EFI PART")
		binary.LittleEndian.PutUint32(h[8:], 0x00010000)
		binary.LittleEndian.PutUint32(h[12:], 92)
		binary.LittleEndian.PutUint64(h[24:], my)
		binary.LittleEndian.PutUint64(h[32:], alt)
		binary.LittleEndian.PutUint64(h[40:], 34)
		binary.LittleEndian.PutUint64(h[48:], last-33)
		putGUID(h[56:], "11111111-2222-3333-4444-555555555555")
		binary.LittleEndian.PutUint64(h[72:], entLBA)
		binary.LittleEndian.PutUint32(h[80:], 128)
		binary.LittleEndian.PutUint32(h[84:], 128)
		binary.LittleEndian.PutUint32(h[88:], ecrc)
		binary.LittleEndian.PutUint32(h[16:], crc32.ChecksumIEEE(h))
		return h
	}
	copy(img[512:], hdr(1, last, 2))
	copy(img[1024:], ents)
	copy(img[(last-32)*512:], ents)
	copy(img[last*512:], hdr(last, 1, last-32))
}

func putMBREntry(s []byte, i int, status, typ byte, start, size uint32) {
	e := s[446+16*i:]
	e[0], e[4] = status, typ
	binary.LittleEndian.PutUint32(e[8:], start)
	binary.LittleEndian.PutUint32(e[12:], size)
	s[510], s[511] = 0x55, 0xaa
}

func putExt4(b []byte, label string) {
	sb := b[1024:]
	binary.LittleEndian.PutUint16(sb[0x38:], 0xef53)
	binary.LittleEndian.PutUint32(sb[0x5c:], 0x4)   // has_journal
	binary.LittleEndian.PutUint32(sb[0x60:], 0x2c2) // filetype, extents, 64bit, flex_bg
	copy(sb[0x68:], []byte{0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	copy(sb[0x78:], label)
}

func putSwap(b []byte, label string) {
	copy(b[4096-10:], "SWAPSPACE2")
	binary.LittleEndian.PutUint32(b[1024:], 1)
	copy(b[1024+12:], []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	copy(b[1024+28:], label)
}

func putFAT32(b []byte, label string) {
	binary.LittleEndian.PutUint16(b[11:], 512)
	b[13], b[16] = 8, 2
	binary.LittleEndian.PutUint32(b[67:], 0xA20B939D)
	copy(b[71:], (label + "           ")[:11])
	copy(b[82:], "FAT32   ")
	b[510], b[511] = 0x55, 0xaa
}

func inspect(t *testing.T, img []byte) *Disk {
	t.Helper()
	d, err := Inspect(context.Background(), bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	return d
}

func gptImage() []byte {
	img := make([]byte, 8*MiB)
	writeGPT(img, []gptPart{
		{typ: "C12A7328-F81F-11D2-BA4B-00A0C93EC93B", guid: "AAAAAAAA-0000-0000-0000-000000000001", first: 2048, last: 4095, name: "ESP", attrs: 1 << 63},
		{typ: "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F", guid: "AAAAAAAA-0000-0000-0000-000000000002", first: 4096, last: 6143},
		{typ: "0FC63DAF-8483-4772-8E79-3D69D8477DE4", guid: "AAAAAAAA-0000-0000-0000-000000000003", first: 6144, last: 16350, name: "root", attrs: 1 << 2},
	})
	putFAT32(img[2048*512:], "ESP")
	putSwap(img[4096*512:], "swap")
	putExt4(img[6144*512:], "nixos")
	return img
}

func TestGPT(t *testing.T) {
	d := inspect(t, gptImage())
	if d.Table != TableGPT || d.ID != "11111111-2222-3333-4444-555555555555" || len(d.Warnings) != 0 {
		t.Fatalf("table %s id %s warnings %v", d.Table, d.ID, d.Warnings)
	}
	want := []struct {
		start, end int64
		typeName   string
		name       string
		flags      []string
		content    Content
	}{
		{2048, 4095, "EFI System", "ESP", []string{"GUID:63"}, Content{Type: "vfat", Version: "FAT32", Label: "ESP", UUID: "A20B-939D"}},
		{4096, 6143, "Linux swap", "", nil, Content{Type: "swap", Version: "1", Label: "swap", UUID: "01020304-0506-0708-090a-0b0c0d0e0f10"}},
		{6144, 16350, "Linux filesystem", "root", []string{"LegacyBIOSBootable"}, Content{Type: "ext4", Label: "nixos", UUID: "deadbeef-0102-0304-0506-0708090a0b0c"}},
	}
	if len(d.Partitions) != len(want) {
		t.Fatalf("partitions = %+v", d.Partitions)
	}
	for i, w := range want {
		p := d.Partitions[i]
		if p.Number != i+1 || p.Start != w.start || p.End != w.end || p.Size != (w.end-w.start+1)*512 || p.TypeName != w.typeName || p.Name != w.name || !reflect.DeepEqual(p.Flags, w.flags) {
			t.Errorf("partition %d = %+v", i+1, p)
		}
		if p.Content == nil || *p.Content != w.content {
			t.Errorf("partition %d content = %+v, want %+v", i+1, p.Content, w.content)
		}
	}
}

func TestGPTBackupFallback(t *testing.T) {
	for _, tc := range []struct {
		name    string
		corrupt func([]byte)
	}{
		{"header CRC", func(img []byte) { img[512+40]++ }},
		{"entries CRC", func(img []byte) { img[1024+60]++ }},
		{"no signature", func(img []byte) { copy(img[512:], "NOT PART") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := gptImage()
			tc.corrupt(img)
			d := inspect(t, img)
			if d.Table != TableGPT || len(d.Partitions) != 3 {
				t.Fatalf("table %s, %d partitions", d.Table, len(d.Partitions))
			}
			if len(d.Warnings) < 2 || !strings.Contains(d.Warnings[len(d.Warnings)-1], "backup GPT at sector 16383") {
				t.Errorf("warnings = %q", d.Warnings)
			}
		})
	}
	// Both headers bad: the protective MBR is what is left.
	img := gptImage()
	img[512+40]++
	img[len(img)-512+40]++
	d := inspect(t, img)
	if d.Table != TableMBR || len(d.Partitions) != 1 || d.Partitions[0].Type != "ee" || len(d.Warnings) == 0 {
		t.Errorf("both headers bad: %+v", d)
	}
}

func TestMBRExtended(t *testing.T) {
	img := make([]byte, 16*MiB)
	putMBREntry(img, 0, 0x80, 0x83, 2048, 4096)
	putMBREntry(img, 1, 0, 0x05, 8192, 20000)
	// EBR 1 at 8192: logical 5 at +2048, next EBR at ext+10000.
	ebr := img[8192*512:]
	putMBREntry(ebr, 0, 0, 0x82, 2048, 4096)
	putMBREntry(ebr, 1, 0, 0x05, 10000, 8000)
	ebr2 := img[(8192+10000)*512:]
	putMBREntry(ebr2, 0, 0, 0x8e, 2048, 4000)
	putSwap(img[(8192+2048)*512:], "sw")
	putExt4(img[2048*512:], "boot")
	d := inspect(t, img)
	if d.Table != TableMBR {
		t.Fatalf("table %s", d.Table)
	}
	type row struct {
		n            int
		kind, typ    string
		start, secs  int64
		boot         bool
		contentLabel string
	}
	var got []row
	for _, p := range d.Partitions {
		r := row{n: p.Number, kind: p.Kind, typ: p.Type, start: p.Start, secs: p.Sectors, boot: len(p.Flags) > 0}
		if p.Content != nil {
			r.contentLabel = p.Content.Type + ":" + p.Content.Label
		}
		got = append(got, r)
	}
	want := []row{
		{1, "primary", "83", 2048, 4096, true, "ext4:boot"},
		{2, "extended", "05", 8192, 20000, false, ""},
		{5, "logical", "82", 10240, 4096, false, "swap:sw"},
		{6, "logical", "8e", 20240, 4000, false, ""},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}

	// A loop in the EBR chain ends with a warning, not a hang.
	copy(ebr2[462:], ebr[462:478]) // EBR 2's "next" points at EBR 2 itself
	d = inspect(t, img)
	if len(d.Warnings) == 0 || !strings.Contains(d.Warnings[0], "loop") {
		t.Errorf("EBR loop: warnings %q, partitions %d", d.Warnings, len(d.Partitions))
	}
}

func TestNotAPartitionTable(t *testing.T) {
	// A FAT file system made on the whole disk has 55 aa too, and boot
	// code where the entries would be.
	img := make([]byte, 4*MiB)
	putFAT32(img, "WHOLE")
	for i := 446; i < 510; i++ {
		img[i] = 0xfa
	}
	d := inspect(t, img)
	if d.Table != TableNone || d.Content == nil || d.Content.Type != "vfat" || d.Content.Label != "WHOLE" {
		t.Errorf("got %+v content %+v", d, d.Content)
	}
	d = inspect(t, make([]byte, 1*MiB))
	if d.Table != TableNone || d.Content != nil || len(d.Partitions) != 0 {
		t.Errorf("zero disk: %+v", d)
	}
}

func TestProbeFileSystems(t *testing.T) {
	for _, tc := range []struct {
		name string
		put  func([]byte)
		want Content
	}{
		{"ext2", func(b []byte) {
			binary.LittleEndian.PutUint16(b[1024+0x38:], 0xef53)
			copy(b[1024+0x78:], "old")
		}, Content{Type: "ext2", Label: "old"}},
		{"ext3", func(b []byte) {
			binary.LittleEndian.PutUint16(b[1024+0x38:], 0xef53)
			binary.LittleEndian.PutUint32(b[1024+0x5c:], 4)
			binary.LittleEndian.PutUint32(b[1024+0x60:], 2)
		}, Content{Type: "ext3"}},
		{"xfs", func(b []byte) {
			copy(b, "XFSB")
			copy(b[108:], "data")
		}, Content{Type: "xfs", Label: "data"}},
		{"btrfs", func(b []byte) {
			copy(b[0x10040:], "_BHRfS_M")
			copy(b[0x10000+0x12b:], "pool")
		}, Content{Type: "btrfs", Label: "pool"}},
		{"squashfs", func(b []byte) {
			copy(b, "hsqs")
			binary.LittleEndian.PutUint16(b[28:], 4)
		}, Content{Type: "squashfs", Version: "4.0"}},
		{"iso9660", func(b []byte) {
			b[0x8000] = 1
			copy(b[0x8001:], "CD001")
			copy(b[0x8028:], "NIXOS_ISO                       ")
		}, Content{Type: "iso9660", Label: "NIXOS_ISO"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := make([]byte, 1*MiB)
			tc.put(img)
			d := inspect(t, img)
			if d.Content == nil || *d.Content != tc.want {
				t.Errorf("content = %+v, want %+v", d.Content, tc.want)
			}
		})
	}
}

// mdSuperblock writes a metadata 1.2 superblock at 4 KiB, as mdadm does.
func mdSuperblock(b []byte, name string, level int32, role uint16, dataOffset, dataSize uint64) {
	sb := b[4096:]
	le := binary.LittleEndian
	le.PutUint32(sb, mdMagic)
	le.PutUint32(sb[4:], 1)
	copy(sb[16:], []byte{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef})
	copy(sb[32:], name)
	le.PutUint32(sb[72:], uint32(level))
	le.PutUint32(sb[92:], 2)
	le.PutUint64(sb[128:], dataOffset)
	le.PutUint64(sb[136:], dataSize)
	le.PutUint64(sb[144:], 8)
	le.PutUint32(sb[160:], 1) // dev_number
	le.PutUint32(sb[220:], 2) // max_dev
	le.PutUint16(sb[256:], 0)
	le.PutUint16(sb[258:], role)
}

func TestMDMember(t *testing.T) {
	img := make([]byte, 8*MiB)
	mdSuperblock(img, "vm:root", 1, 1, 2048, 12000)
	putExt4(img[2048*512:], "nixos")
	d := inspect(t, img)
	c := d.Content
	if c == nil || c.Type != "linux_raid_member" || c.Version != "1.2" || c.Label != "vm:root" || c.UUID != "01234567-89ab-cdef-0123-456789abcdef" {
		t.Fatalf("content = %+v", c)
	}
	want := MD{Name: "vm:root", UUID: "01234567:89abcdef:01234567:89abcdef", Level: "raid1", RaidDisks: 2, Role: 1, DataOffset: 2048 * 512, ArraySize: 12000 * 512}
	got := *c.MD
	got.Content = nil
	if got != want {
		t.Errorf("md = %+v, want %+v", got, want)
	}
	if c.MD.Content == nil || c.MD.Content.Type != "ext4" || c.MD.Content.Label != "nixos" {
		t.Errorf("array content = %+v", c.MD.Content)
	}
}

const testPVID = "VUvNBz0zA0xXvAWlWdRqbU5owxdey00w"

// lvmPV writes an LVM2 label in sector 1, a metadata area at 4 KiB of
// mdaSize bytes with text at textOff (relative to the area; it wraps when
// it runs past the end), and data from 1 MiB.
func lvmPV(b []byte, text string, mdaSize, textOff uint64) {
	le := binary.LittleEndian
	l := b[512:]
	copy(l, "LABELONE")
	le.PutUint64(l[8:], 1)
	le.PutUint32(l[20:], 32)
	copy(l[24:], "LVM2 001")
	h := l[32:]
	copy(h, testPVID)
	le.PutUint64(h[32:], uint64(len(b)))
	le.PutUint64(h[40:], 1*MiB) // data area
	le.PutUint64(h[72:], 4096)  // metadata area (after the data list's zero entry)
	le.PutUint64(h[80:], mdaSize)
	m := b[4096:]
	copy(m[4:], mdaMagic)
	le.PutUint32(m[20:], 1)
	le.PutUint64(m[24:], 4096)
	le.PutUint64(m[32:], mdaSize)
	le.PutUint64(m[40:], textOff)
	le.PutUint64(m[48:], uint64(len(text)))
	for i := 0; i < len(text); i++ {
		o := textOff + uint64(i)
		if o >= mdaSize {
			o = o - mdaSize + mdaHeaderSize
		}
		m[o] = text[i]
	}
}

const testVGText = `vgtest {
id = "abcdef-1234-5678-9abc-def0-1234-567890"
seqno = 3
format = "lvm2" # informational
status = ["RESIZEABLE", "READ", "WRITE"]
extent_size = 8192
physical_volumes {
pv0 {
id = "VUvNBz-0zA0-xXvA-WlWd-RqbU-5owx-dey00w"
device = "/dev/vda2"
pe_start = 2048
pe_count = 3
}
}
logical_volumes {
swap {
id = "lv-swap"
segment_count = 1
segment1 {
start_extent = 0
extent_count = 1
type = "striped"
stripe_count = 1
stripes = [
"pv0", 0
]
}
}
root {
id = "lv-root"
segment_count = 1
segment1 {
start_extent = 0
extent_count = 2
type = "striped"
stripe_count = 1
stripes = [
"pv0", 1
]
}
}
}
}
# Generated by LVM2
contents = "Text Format Volume Group"
version = 1
description = "Created *after* executing 'lvcreate -n root vgtest'"
creation_time = 1700000000
`

func TestLVM(t *testing.T) {
	for _, tc := range []struct {
		name             string
		mdaSize, textOff uint64
	}{
		{"plain", 1020 * 1024, 512},
		{"wrapped", 2048, 1536}, // the text runs past the end of the area
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := make([]byte, 16*MiB)
			lvmPV(img, testVGText, tc.mdaSize, tc.textOff)
			putSwap(img[1*MiB:], "lvswap")
			putExt4(img[1*MiB+4*MiB:], "lvroot")
			d := inspect(t, img)
			c := d.Content
			if c == nil || c.Type != "LVM2_member" || c.UUID != "VUvNBz-0zA0-xXvA-WlWd-RqbU-5owx-dey00w" || c.LVM == nil {
				t.Fatalf("content = %+v", c)
			}
			if c.LVM.VG != "vgtest" || c.LVM.ExtentSize != 4*MiB || len(c.LVM.LVs) != 2 {
				t.Fatalf("lvm = %+v", c.LVM)
			}
			for i, w := range []struct {
				name, typ, label string
				size             int64
			}{{"swap", "swap", "lvswap", 4 * MiB}, {"root", "ext4", "lvroot", 8 * MiB}} {
				lv := c.LVM.LVs[i]
				if lv.Name != w.name || lv.Size != w.size || lv.Content == nil || lv.Content.Type != w.typ || lv.Content.Label != w.label {
					t.Errorf("LV %d = %+v content %+v", i, lv, lv.Content)
				}
			}
		})
	}
}

func TestLVMTextParser(t *testing.T) {
	for _, bad := range []string{"a {", "a = ", "a = [", `a = "x`, "}", "a = [[1]]", "= 1", strings.Repeat("a{", 40)} {
		if _, err := parseLVMText(bad); err == nil {
			t.Errorf("parseLVMText(%q) = nil error", bad)
		}
	}
	s, err := parseLVMText(`a = "q\"x" # c` + "\n" + `b = [1, "two"] c { d = -3 e = 1.5 }`)
	if err != nil {
		t.Fatal(err)
	}
	if s.str("a") != `q"x` || !reflect.DeepEqual(s.vals["b"], []any{int64(1), "two"}) || s.sec("c").num("d") != -3 || s.sec("c").vals["e"] != 1.5 {
		t.Errorf("parsed %+v", s.vals)
	}
}

func TestShortImage(t *testing.T) {
	// A header that points past the end of a truncated image shows what
	// there is; it does not fail or panic.
	img := gptImage()[:4096]
	d := inspect(t, img)
	if d.Table != TableMBR && d.Table != TableGPT {
		t.Errorf("table %s", d.Table)
	}
}
