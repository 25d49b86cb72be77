package diskview

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// LVM2 on-disk format (lib/format_text/layout.h in LVM2): a label in one
// of the first four sectors, a PV header after it listing data and
// metadata areas, and in each metadata area a header pointing at the
// current metadata text, a circular buffer.
const (
	lvmLabelMagic = "LABELONE"
	lvmType       = "LVM2 001"
	mdaMagic      = " LVM2 x[5A%r0N*>"
	mdaHeaderSize = 512
)

func probeLVM(ctx context.Context, rd *reader, depth int) (*Content, error) {
	for sector := int64(0); sector < 4; sector++ {
		s, err := rd.read(sector*SectorSize, SectorSize)
		if err != nil {
			return nil, err
		}
		if string(s[:8]) != lvmLabelMagic || string(s[24:32]) != lvmType {
			continue
		}
		le := binary.LittleEndian
		off := le.Uint32(s[20:])
		if off < 32 || off > SectorSize-40 {
			return nil, nil
		}
		h := s[off:]
		pv := &LVM{PVUUID: lvmUUID(string(h[:32]))}
		c := &Content{Type: "LVM2_member", Version: "LVM2 001", UUID: pv.PVUUID, LVM: pv}
		// Data areas, then metadata areas, each list ended by a zero entry.
		// They may run past this sector; read the rest in one go.
		rest, err := rd.read(sector*SectorSize+int64(off)+40, 16*32)
		if err != nil {
			return nil, err
		}
		var mdas []uint64
		list := 0
		for i := 0; i+16 <= len(rest) && list < 2; i += 16 {
			o, n := le.Uint64(rest[i:]), le.Uint64(rest[i+8:])
			if o == 0 && n == 0 {
				list++
				continue
			}
			if list == 1 {
				mdas = append(mdas, o)
			}
		}
		for _, m := range mdas {
			text, err := readMetadata(rd, int64(m))
			if err != nil {
				return nil, err
			}
			if text == "" {
				continue
			}
			if err := fillVG(ctx, rd, pv, text, depth); err != nil {
				// Metadata that does not parse still leaves a PV to show.
				return c, nil
			}
			break
		}
		return c, nil
	}
	return nil, nil
}

// readMetadata returns the current metadata text of the metadata area at
// off, or "" when the area has no valid header.
func readMetadata(rd *reader, off int64) (string, error) {
	if off < 0 || off >= rd.size {
		return "", nil
	}
	h, err := rd.read(off, mdaHeaderSize)
	if err != nil {
		return "", err
	}
	if string(h[4:20]) != mdaMagic {
		return "", nil
	}
	le := binary.LittleEndian
	start, size := le.Uint64(h[24:]), le.Uint64(h[32:])
	locOff, locSize := le.Uint64(h[40:]), le.Uint64(h[48:])
	if start != uint64(off) || size <= mdaHeaderSize || size > maxRead || locSize == 0 || locSize > size || locOff < mdaHeaderSize || locOff >= size {
		return "", nil
	}
	// The text may wrap around the end of the circular buffer, continuing
	// right after the header.
	first := min(locSize, size-locOff)
	a, err := rd.read(off+int64(locOff), int(first))
	if err != nil {
		return "", err
	}
	if first < locSize {
		b, err := rd.read(off+mdaHeaderSize, int(locSize-first))
		if err != nil {
			return "", err
		}
		a = append(a, b...)
	}
	if i := strings.IndexByte(string(a), 0); i >= 0 {
		a = a[:i]
	}
	return string(a), nil
}

// fillVG reads the VG name, its extent size and its LVs from metadata
// text, and probes the LVs whose first segment is on this PV.
func fillVG(ctx context.Context, rd *reader, pv *LVM, text string, depth int) error {
	root, err := parseLVMText(text)
	if err != nil {
		return err
	}
	var vg *lvmSection
	for _, k := range root.keys {
		if s, ok := root.vals[k].(*lvmSection); ok {
			pv.VG, vg = k, s
			break
		}
	}
	if vg == nil {
		return errors.New("no volume group in the metadata")
	}
	pv.VGUUID = vg.str("id")
	extent := vg.num("extent_size") * SectorSize
	if extent <= 0 || extent > 1<<40 {
		return errors.New("bad extent size")
	}
	pv.ExtentSize = extent
	// Which pvN is this PV, and where its extents start.
	thisPV, peStart := "", int64(0)
	if pvs := vg.sec("physical_volumes"); pvs != nil {
		for _, k := range pvs.keys {
			if p, ok := pvs.vals[k].(*lvmSection); ok && strings.EqualFold(p.str("id"), pv.PVUUID) {
				thisPV, peStart = k, p.num("pe_start")*SectorSize
			}
		}
	}
	lvs := vg.sec("logical_volumes")
	if lvs == nil {
		return nil
	}
	for _, name := range lvs.keys {
		lvs, ok := lvs.vals[name].(*lvmSection)
		if !ok {
			continue
		}
		lv := LV{Name: name, UUID: lvs.str("id")}
		n := lvs.num("segment_count")
		for i := int64(1); i <= n && i <= 1024; i++ {
			seg := lvs.sec("segment" + strconv.FormatInt(i, 10))
			if seg == nil {
				continue
			}
			count := seg.num("extent_count")
			if count > 0 && count < 1<<40/extent {
				lv.Size += count * extent
			}
			if i != 1 || thisPV == "" {
				continue
			}
			// A linear (one-stripe) first segment on this PV: its data is
			// contiguous here, so the LV's superblock can be read.
			stripes, _ := seg.vals["stripes"].([]any)
			if seg.str("type") != "striped" || len(stripes) != 2 || stripes[0] != thisPV {
				continue
			}
			pe, _ := stripes[1].(int64)
			at := peStart + pe*extent
			if pe < 0 || at < 0 || at >= rd.size {
				continue
			}
			c, err := probe(ctx, rd, at, min(count*extent, rd.size-at), depth+1)
			if err != nil {
				return err
			}
			lv.Content = c
		}
		pv.LVs = append(pv.LVs, lv)
	}
	return nil
}

// lvmUUID prints LVM's 32-character ids in its 6-4-4-4-4-4-6 form.
func lvmUUID(s string) string {
	if len(s) != 32 {
		return s
	}
	return strings.Join([]string{s[0:6], s[6:10], s[10:14], s[14:18], s[18:22], s[22:26], s[26:32]}, "-")
}

// lvmSection is a { } block of LVM metadata text; values are string,
// int64, []any or *lvmSection. keys keeps the order of the text (LVs are
// listed in creation order).
type lvmSection struct {
	keys []string
	vals map[string]any
}

func (s *lvmSection) str(k string) string { v, _ := s.vals[k].(string); return v }
func (s *lvmSection) num(k string) int64  { v, _ := s.vals[k].(int64); return v }
func (s *lvmSection) sec(k string) *lvmSection {
	v, _ := s.vals[k].(*lvmSection)
	return v
}

// lvmParser reads LVM's metadata text format:
//
//	name { key = value ... sub { ... } }   value: "string" | 123 | [ v, ... ]
//
// with # comments.
type lvmParser struct {
	s     string
	i     int
	depth int
}

var errLVMSyntax = errors.New("LVM metadata: syntax error")

func parseLVMText(s string) (*lvmSection, error) {
	p := &lvmParser{s: s}
	root, err := p.items(true)
	if err != nil {
		return nil, fmt.Errorf("%w at byte %d", err, p.i)
	}
	return root, nil
}

func (p *lvmParser) skip() {
	for p.i < len(p.s) {
		switch c := p.s[p.i]; {
		case c == '#':
			for p.i < len(p.s) && p.s[p.i] != '\n' {
				p.i++
			}
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			p.i++
		default:
			return
		}
	}
}

func isIdent(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-' || c == '+'
}

func (p *lvmParser) ident() string {
	j := p.i
	for p.i < len(p.s) && isIdent(p.s[p.i]) {
		p.i++
	}
	return p.s[j:p.i]
}

func (p *lvmParser) items(top bool) (*lvmSection, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > 16 {
		return nil, errLVMSyntax
	}
	sec := &lvmSection{vals: map[string]any{}}
	for {
		p.skip()
		if p.i >= len(p.s) {
			if top {
				return sec, nil
			}
			return nil, errLVMSyntax
		}
		if p.s[p.i] == '}' {
			if top {
				return nil, errLVMSyntax
			}
			p.i++
			return sec, nil
		}
		key := p.ident()
		if key == "" {
			return nil, errLVMSyntax
		}
		p.skip()
		if p.i >= len(p.s) {
			return nil, errLVMSyntax
		}
		var v any
		switch p.s[p.i] {
		case '{':
			p.i++
			sub, err := p.items(false)
			if err != nil {
				return nil, err
			}
			v = sub
		case '=':
			p.i++
			var err error
			if v, err = p.value(); err != nil {
				return nil, err
			}
		default:
			return nil, errLVMSyntax
		}
		if _, dup := sec.vals[key]; !dup {
			sec.keys = append(sec.keys, key)
		}
		sec.vals[key] = v
	}
}

func (p *lvmParser) value() (any, error) {
	p.skip()
	if p.i >= len(p.s) {
		return nil, errLVMSyntax
	}
	switch c := p.s[p.i]; {
	case c == '"':
		p.i++
		var b strings.Builder
		for p.i < len(p.s) && p.s[p.i] != '"' {
			if p.s[p.i] == '\\' && p.i+1 < len(p.s) {
				p.i++
			}
			b.WriteByte(p.s[p.i])
			p.i++
		}
		if p.i >= len(p.s) {
			return nil, errLVMSyntax
		}
		p.i++
		return b.String(), nil
	case c == '[':
		p.i++
		var vs []any
		for {
			p.skip()
			if p.i >= len(p.s) {
				return nil, errLVMSyntax
			}
			if p.s[p.i] == ']' {
				p.i++
				return vs, nil
			}
			if p.s[p.i] == ',' {
				p.i++
				continue
			}
			if p.s[p.i] == '[' {
				return nil, errLVMSyntax // LVM never nests lists
			}
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			vs = append(vs, v)
		}
	default:
		w := p.ident()
		if w == "" {
			return nil, errLVMSyntax
		}
		if n, err := strconv.ParseInt(w, 10, 64); err == nil {
			return n, nil
		}
		if f, err := strconv.ParseFloat(w, 64); err == nil {
			return f, nil
		}
		return w, nil
	}
}
