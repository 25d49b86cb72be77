package diskview

import (
	"context"
	"encoding/binary"
	"fmt"
)

const mdMagic = 0xa92b4efc

// probeMD reads an md RAID metadata 1.x superblock: 1.2 (4 KiB in, what
// nixvm and mdadm's default use), 1.1 (at the start) or 1.0 (near the
// end). For RAID1 the array's data sits on each member as is, so its
// content is probed too.
func probeMD(ctx context.Context, rd *reader, depth int) (*Content, error) {
	end := ((rd.size/SectorSize - 16) &^ 7) * SectorSize
	for _, at := range []struct {
		off     int64
		version string
	}{{4096, "1.2"}, {0, "1.1"}, {end, "1.0"}} {
		if at.off < 0 {
			continue
		}
		sb, err := rd.read(at.off, 1024)
		if err != nil {
			return nil, err
		}
		if binary.LittleEndian.Uint32(sb) != mdMagic || binary.LittleEndian.Uint32(sb[4:]) != 1 {
			continue
		}
		le := binary.LittleEndian
		md := &MD{
			Name:      cstr(sb[32:64]),
			UUID:      fmt.Sprintf("%x:%x:%x:%x", sb[16:20], sb[20:24], sb[24:28], sb[28:32]),
			Level:     mdLevel(int32(le.Uint32(sb[72:]))),
			RaidDisks: int(le.Uint32(sb[92:])),
			Role:      -1,
		}
		dataOff := le.Uint64(sb[128:])
		dataSize := le.Uint64(sb[136:])
		if dataOff < 1<<40 && dataSize < 1<<40 {
			md.DataOffset = int64(dataOff) * SectorSize
			md.ArraySize = int64(dataSize) * SectorSize
		}
		devNum := le.Uint32(sb[160:])
		maxDev := le.Uint32(sb[220:])
		if devNum < maxDev && devNum < (1024-256)/2 {
			switch r := le.Uint16(sb[256+2*devNum:]); r {
			case 0xffff:
				md.Role = -1 // spare
			case 0xfffe:
				md.Role = -2 // faulty
			default:
				md.Role = int(r)
			}
		}
		c := &Content{Type: "linux_raid_member", Version: at.version, Label: md.Name, UUID: uuid(sb[16:32]), MD: md}
		if md.Level == "raid1" && md.DataOffset > 0 && md.ArraySize > 0 {
			size := min(md.ArraySize, rd.size-md.DataOffset)
			inner, err := probe(ctx, rd, md.DataOffset, size, depth+1)
			if err != nil {
				return nil, err
			}
			md.Content = inner
		}
		return c, nil
	}
	return nil, nil
}

func mdLevel(l int32) string {
	switch l {
	case -1:
		return "linear"
	case -4:
		return "multipath"
	case -5:
		return "faulty"
	case 0, 1, 4, 5, 6, 10:
		return fmt.Sprintf("raid%d", l)
	}
	return fmt.Sprintf("level%d", l)
}
