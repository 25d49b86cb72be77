package diskview

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strings"
	"unicode/utf16"
)

// readTable fills d.Table, d.ID and d.Partitions. A protective MBR (type
// ee) leads to the GPT; when neither GPT header is valid the disk is shown
// with the MBR it has, with a warning.
func readTable(rd *reader, d *Disk) error {
	mbr, err := rd.read(0, SectorSize)
	if err != nil {
		return err
	}
	entries, ok := parseMBR(mbr)
	if !ok {
		return nil
	}
	protective := false
	for _, e := range entries {
		if e.typ == 0xee {
			protective = true
		}
	}
	if protective {
		found, err := readGPT(rd, d)
		if err != nil || found {
			return err
		}
		d.Warnings = append(d.Warnings, "protective MBR but no valid GPT header (primary or backup): showing the MBR")
	}
	d.Table = TableMBR
	d.ID = fmt.Sprintf("0x%08x", binary.LittleEndian.Uint32(mbr[440:]))
	return readMBR(rd, d, entries)
}

type mbrEntry struct {
	status      byte
	typ         byte
	start, size uint32 // sectors; start relative to what the entry is in
}

// parseMBR decodes the four entries of a boot sector. It says no when the
// sector is not a partition table: no 55 aa signature, a status byte other
// than 00/80 (a FAT or NTFS boot sector made on the whole disk has code
// there), or no used entry.
func parseMBR(s []byte) ([4]mbrEntry, bool) {
	var es [4]mbrEntry
	if len(s) < 512 || s[510] != 0x55 || s[511] != 0xaa {
		return es, false
	}
	used := 0
	for i := range es {
		b := s[446+16*i:]
		e := mbrEntry{status: b[0], typ: b[4], start: binary.LittleEndian.Uint32(b[8:]), size: binary.LittleEndian.Uint32(b[12:])}
		if e.status != 0 && e.status != 0x80 {
			return es, false
		}
		if e.typ != 0 {
			if e.size == 0 || e.start == 0 {
				return es, false
			}
			used++
		}
		es[i] = e
	}
	return es, used > 0
}

func isExtended(t byte) bool { return t == 0x05 || t == 0x0f || t == 0x85 }

// maxLogical bounds the chain of extended boot records: a loop in the
// chain (an EBR pointing back) must end.
const maxLogical = 128

func readMBR(rd *reader, d *Disk, es [4]mbrEntry) error {
	for i, e := range es {
		if e.typ == 0 {
			continue
		}
		p := mbrPartition(i+1, "primary", int64(e.start), e)
		if isExtended(e.typ) {
			p.Kind = "extended"
		}
		d.Partitions = append(d.Partitions, p)
	}
	for _, e := range es {
		if !isExtended(e.typ) {
			continue
		}
		// Logical partitions: a linked list of EBRs. Each EBR's first entry
		// is relative to the EBR itself, its second (the next EBR) to the
		// start of the extended partition.
		ext := int64(e.start)
		ebr := ext
		seen := map[int64]bool{}
		for n := 5; n < 5+maxLogical; n++ {
			if seen[ebr] {
				d.Warnings = append(d.Warnings, "loop in the chain of logical partitions: stopped")
				break
			}
			seen[ebr] = true
			s, err := rd.read(ebr*SectorSize, SectorSize)
			if err != nil {
				return err
			}
			if s[510] != 0x55 || s[511] != 0xaa {
				break
			}
			first := decodeEntry(s[446:])
			next := decodeEntry(s[462:])
			if first.typ != 0 && first.size != 0 {
				d.Partitions = append(d.Partitions, mbrPartition(n, "logical", ebr+int64(first.start), first))
			}
			if next.typ == 0 || next.start == 0 {
				break
			}
			ebr = ext + int64(next.start)
		}
		break // only one extended partition is allowed
	}
	return nil
}

func decodeEntry(b []byte) mbrEntry {
	return mbrEntry{status: b[0], typ: b[4], start: binary.LittleEndian.Uint32(b[8:]), size: binary.LittleEndian.Uint32(b[12:])}
}

func mbrPartition(n int, kind string, start int64, e mbrEntry) Partition {
	p := Partition{
		Number:   n,
		Kind:     kind,
		Start:    start,
		Sectors:  int64(e.size),
		End:      start + int64(e.size) - 1,
		Size:     int64(e.size) * SectorSize,
		Type:     fmt.Sprintf("%02x", e.typ),
		TypeName: mbrTypeName(e.typ),
	}
	if e.status == 0x80 {
		p.Flags = []string{"boot"}
	}
	return p
}

// gptHeader is the part of a GPT header the view needs.
type gptHeader struct {
	myLBA, altLBA         uint64
	firstUsable           uint64
	lastUsable            uint64
	diskGUID              string
	entryLBA              uint64
	numEntries, entrySize uint32
	entriesCRC            uint32
}

// parseGPTHeader checks a GPT header sector: signature, size, CRC32 of
// the header, and that it says it is where it was read from.
func parseGPTHeader(s []byte, at uint64) (gptHeader, error) {
	var h gptHeader
	if len(s) < 92 || !bytes.Equal(s[:8], []byte("EFI PART")) {
		return h, fmt.Errorf("no GPT signature at sector %d", at)
	}
	size := binary.LittleEndian.Uint32(s[12:])
	if size < 92 || int(size) > len(s) {
		return h, fmt.Errorf("GPT header at sector %d has a bad size %d", at, size)
	}
	hdr := append([]byte(nil), s[:size]...)
	want := binary.LittleEndian.Uint32(hdr[16:])
	binary.LittleEndian.PutUint32(hdr[16:], 0)
	if crc32.ChecksumIEEE(hdr) != want {
		return h, fmt.Errorf("GPT header at sector %d fails its CRC check", at)
	}
	h.myLBA = binary.LittleEndian.Uint64(s[24:])
	h.altLBA = binary.LittleEndian.Uint64(s[32:])
	h.firstUsable = binary.LittleEndian.Uint64(s[40:])
	h.lastUsable = binary.LittleEndian.Uint64(s[48:])
	h.diskGUID = formatGUID(s[56:72])
	h.entryLBA = binary.LittleEndian.Uint64(s[72:])
	h.numEntries = binary.LittleEndian.Uint32(s[80:])
	h.entrySize = binary.LittleEndian.Uint32(s[84:])
	h.entriesCRC = binary.LittleEndian.Uint32(s[88:])
	if h.myLBA != at {
		return h, fmt.Errorf("GPT header at sector %d says it is at sector %d", at, h.myLBA)
	}
	if h.entrySize < 128 || h.entrySize%8 != 0 || h.numEntries == 0 || uint64(h.numEntries)*uint64(h.entrySize) > maxRead {
		return h, fmt.Errorf("GPT header at sector %d has a bad entry array (%d entries of %d bytes)", at, h.numEntries, h.entrySize)
	}
	return h, nil
}

// readGPT reads the primary GPT (sector 1) or, when its header or entry
// array is damaged, the backup at the last sector, and says which was
// used. found is false when neither is valid.
func readGPT(rd *reader, d *Disk) (found bool, err error) {
	last := uint64(rd.size/SectorSize) - 1
	var problems []string
	candidates := []uint64{1}
	for i := 0; i < len(candidates); i++ {
		at := candidates[i]
		s, err := rd.read(int64(at)*SectorSize, SectorSize)
		if err != nil {
			return false, err
		}
		h, herr := parseGPTHeader(s, at)
		if at == 1 && rd.size >= 2*SectorSize {
			// The backup is where the primary says, else at the disk's end.
			alt := last
			if herr == nil && h.altLBA > 1 && h.altLBA <= last {
				alt = h.altLBA
			}
			candidates = append(candidates, alt)
			if alt != last {
				candidates = append(candidates, last)
			}
		}
		if herr != nil {
			problems = append(problems, herr.Error())
			continue
		}
		ents, err := rd.read(int64(h.entryLBA)*SectorSize, int(h.numEntries*h.entrySize))
		if err != nil {
			return false, err
		}
		if crc32.ChecksumIEEE(ents) != h.entriesCRC {
			problems = append(problems, fmt.Sprintf("GPT entries of the header at sector %d fail their CRC check", at))
			continue
		}
		d.Table = TableGPT
		d.ID = h.diskGUID
		if len(problems) > 0 {
			d.Warnings = append(d.Warnings, problems...)
			d.Warnings = append(d.Warnings, fmt.Sprintf("using the backup GPT at sector %d", at))
		}
		for n := 0; n < int(h.numEntries); n++ {
			e := ents[n*int(h.entrySize):][:128]
			if p, ok := gptPartition(n+1, e); ok {
				d.Partitions = append(d.Partitions, p)
			}
		}
		return true, nil
	}
	return false, nil
}

func gptPartition(n int, e []byte) (Partition, bool) {
	if bytes.Equal(e[:16], make([]byte, 16)) {
		return Partition{}, false
	}
	first := binary.LittleEndian.Uint64(e[32:])
	last := binary.LittleEndian.Uint64(e[40:])
	attrs := binary.LittleEndian.Uint64(e[48:])
	// Sector numbers past 2^62 cannot be bytes in an int64; such an entry
	// is garbage, and last < first is an empty (or garbage) one.
	if last < first || last >= 1<<53 {
		return Partition{}, false
	}
	typ := formatGUID(e[:16])
	p := Partition{
		Number:   n,
		Start:    int64(first),
		End:      int64(last),
		Sectors:  int64(last - first + 1),
		Size:     int64(last-first+1) * SectorSize,
		Type:     typ,
		TypeName: gptTypeName(typ),
		GUID:     formatGUID(e[16:32]),
		Name:     utf16Name(e[56:128]),
		Flags:    gptFlags(attrs),
	}
	return p, true
}

// gptFlags names the attribute bits the UEFI spec defines, and the
// type-specific ones (48-63) by number, as sfdisk does (GUID:63).
func gptFlags(a uint64) []string {
	var fs []string
	names := map[int]string{0: "RequiredPartition", 1: "NoBlockIOProtocol", 2: "LegacyBIOSBootable"}
	for bit := 0; bit < 64; bit++ {
		if a&(1<<bit) == 0 {
			continue
		}
		switch {
		case names[bit] != "":
			fs = append(fs, names[bit])
		case bit >= 48:
			fs = append(fs, fmt.Sprintf("GUID:%d", bit))
		default:
			fs = append(fs, fmt.Sprintf("bit%d", bit))
		}
	}
	return fs
}

// formatGUID prints a GUID stored in the mixed-endian on-disk form (first
// three fields little-endian), upper case like sfdisk and sgdisk.
func formatGUID(b []byte) string {
	return fmt.Sprintf("%08X-%04X-%04X-%X-%X",
		binary.LittleEndian.Uint32(b[0:]), binary.LittleEndian.Uint16(b[4:]), binary.LittleEndian.Uint16(b[6:]), b[8:10], b[10:16])
}

func utf16Name(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return strings.ToValidUTF8(string(utf16.Decode(u)), "?")
}

var gptTypes = map[string]string{
	"C12A7328-F81F-11D2-BA4B-00A0C93EC93B": "EFI System",
	"21686148-6449-6E6F-744E-656564454649": "BIOS boot",
	"0FC63DAF-8483-4772-8E79-3D69D8477DE4": "Linux filesystem",
	"0657FD6D-A4AB-43C4-84E5-0933C84B4F4F": "Linux swap",
	"E6D6D379-F507-44C2-A23C-238F2A3DF928": "Linux LVM",
	"A19D880F-05FC-4D3B-A006-743F0F84911E": "Linux RAID",
	"4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709": "Linux root (x86-64)",
	"B921B045-1DF0-41C3-AF44-4C6F280D3FAE": "Linux root (ARM-64)",
	"933AC7E1-2EB4-4F13-B844-0E14E2AEF915": "Linux home",
	"BC13C2FF-59E6-4262-A352-B275FD6F7172": "Linux extended boot",
	"3B8F8425-20E0-4F3B-907F-1A25A76F98E8": "Linux server data",
	"CA7D7CCB-63ED-4C53-861C-1742536059CC": "Linux LUKS",
	"EBD0A0A2-B9E5-4433-87C0-68B6B72699C7": "Microsoft basic data",
	"E3C9E316-0B5C-4DB8-817D-F92DF00215AE": "Microsoft reserved",
	"DE94BBA4-06D1-4D40-A16A-BFD50179D6AC": "Windows recovery environment",
	"48465300-0000-11AA-AA11-00306543ECAC": "Apple HFS/HFS+",
	"7C3457EF-0000-11AA-AA11-00306543ECAC": "Apple APFS",
	"516E7CB4-6ECF-11D6-8FF8-00022D09712B": "FreeBSD data",
}

func gptTypeName(guid string) string {
	if n, ok := gptTypes[guid]; ok {
		return n
	}
	return "unknown"
}

var mbrTypes = map[byte]string{
	0x01: "FAT12", 0x04: "FAT16 <32M", 0x05: "Extended", 0x06: "FAT16",
	0x07: "HPFS/NTFS/exFAT", 0x0b: "W95 FAT32", 0x0c: "W95 FAT32 (LBA)",
	0x0e: "W95 FAT16 (LBA)", 0x0f: "W95 Ext'd (LBA)", 0x82: "Linux swap / Solaris",
	0x83: "Linux", 0x85: "Linux extended", 0x8e: "Linux LVM", 0xa5: "FreeBSD",
	0xee: "GPT", 0xef: "EFI (FAT-12/16/32)", 0xfd: "Linux raid autodetect",
}

func mbrTypeName(t byte) string {
	if n, ok := mbrTypes[t]; ok {
		return n
	}
	return "unknown"
}
