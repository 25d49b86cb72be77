package iso

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
)

// A minimal read-only ISO 9660 reader with Rock Ridge names. It reads only
// the volume descriptors and the directories along a looked-up path, so
// inspecting a 1.5 GB installer costs a handful of small reads. (go-diskfs
// can read ISO 9660 too, but its reader is built around a backend
// abstraction and whole-directory walks; this is all nixvm needs.)

const (
	sectorSize = 2048
	// systemArea is the 16 sectors before the first volume descriptor.
	systemArea = 16 * sectorSize
	// maxDescriptors bounds the volume descriptor scan on a corrupt image.
	maxDescriptors = 64
	// maxDirSize bounds how much of one directory is read: a corrupt or
	// hostile length must not make us read gigabytes.
	maxDirSize = 16 << 20
	// maxContinuations bounds Rock Ridge CE chains (they could loop).
	maxContinuations = 32
)

// errNotISO is returned by openImage when the file has no ISO 9660
// primary volume descriptor.
var errNotISO = errors.New("no ISO 9660 primary volume descriptor")

// image is an open ISO 9660 file.
type image struct {
	r         io.ReaderAt
	closer    io.Closer
	label     string
	blockSize int64
	root      dirent
	// suspSkip is the Rock Ridge LEN_SKP from the root's SP entry.
	suspSkip int
}

// dirent is one directory record.
type dirent struct {
	name    string // Rock Ridge name if present, else the ISO name without ";1"
	dir     bool
	isLink  bool // Rock Ridge symbolic link to link
	link    string
	extents []extent // more than one for multi-extent (>4 GiB) files
}

type extent struct {
	block uint32
	size  uint32
}

func (d dirent) size() int64 {
	var n int64
	for _, e := range d.extents {
		n += int64(e.size)
	}
	return n
}

func openImage(name string) (*image, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	img, err := readVolume(f, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return img, nil
}

func (img *image) Close() error { return img.closer.Close() }

func readVolume(r io.ReaderAt, c io.Closer) (*image, error) {
	buf := make([]byte, sectorSize)
	for i := 0; i < maxDescriptors; i++ {
		if _, err := r.ReadAt(buf, systemArea+int64(i)*sectorSize); err != nil {
			return nil, errNotISO
		}
		if string(buf[1:6]) != "CD001" {
			return nil, errNotISO
		}
		switch buf[0] {
		case 255: // volume descriptor set terminator
			return nil, errNotISO
		case 1: // primary volume descriptor
			bs := int64(binary.LittleEndian.Uint16(buf[128:130]))
			if bs != 512 && bs != 1024 && bs != 2048 {
				return nil, errNotISO
			}
			img := &image{
				r:         r,
				closer:    c,
				label:     strings.TrimRight(string(buf[40:72]), " \x00"),
				blockSize: bs,
			}
			root, _, ok := parseRecord(buf[156:190])
			if !ok || !root.dir {
				return nil, errNotISO
			}
			img.root = root
			img.detectSUSP()
			return img, nil
		}
	}
	return nil, errNotISO
}

// detectSUSP reads the root's "." record, whose system use area starts with
// an SP entry when the image uses SUSP (Rock Ridge).
func (img *image) detectSUSP() {
	if len(img.root.extents) == 0 {
		return
	}
	buf := make([]byte, sectorSize)
	if _, err := img.r.ReadAt(buf, int64(img.root.extents[0].block)*img.blockSize); err != nil {
		return
	}
	n := int(buf[0])
	if n < 34 || n > len(buf) {
		return
	}
	su := systemUse(buf[:n])
	if len(su) >= 7 && string(su[0:2]) == "SP" && su[4] == 0xBE && su[5] == 0xEF {
		img.suspSkip = int(su[6])
	}
}

// systemUse returns the system use area of a directory record.
func systemUse(rec []byte) []byte {
	nameLen := int(rec[32])
	off := 33 + nameLen
	if nameLen%2 == 0 {
		off++ // padding byte
	}
	if off > len(rec) {
		return nil
	}
	return rec[off:]
}

// parseRecord decodes the fixed part of a directory record. It reports
// whether the record is "." or ".." (special) and whether it is valid.
func parseRecord(rec []byte) (d dirent, special bool, ok bool) {
	if len(rec) < 34 {
		return d, false, false
	}
	nameLen := int(rec[32])
	if 33+nameLen > len(rec) {
		return d, false, false
	}
	name := rec[33 : 33+nameLen]
	flags := rec[25]
	d.dir = flags&0x02 != 0
	d.extents = []extent{{
		block: binary.LittleEndian.Uint32(rec[2:6]),
		size:  binary.LittleEndian.Uint32(rec[10:14]),
	}}
	if nameLen == 1 && (name[0] == 0 || name[0] == 1) {
		return d, true, true
	}
	n := string(name)
	if i := strings.IndexByte(n, ';'); i >= 0 {
		n = n[:i]
	}
	d.name = strings.TrimSuffix(n, ".")
	return d, false, true
}

// readDir lists a directory. Rock Ridge NM names replace ISO names.
func (img *image) readDir(dir dirent) ([]dirent, error) {
	size := dir.size()
	if size > maxDirSize {
		return nil, fmt.Errorf("directory of %d bytes is too large", size)
	}
	data := make([]byte, 0, size)
	for _, e := range dir.extents {
		b := make([]byte, e.size)
		if _, err := img.r.ReadAt(b, int64(e.block)*img.blockSize); err != nil {
			return nil, fmt.Errorf("read directory: %w", err)
		}
		data = append(data, b...)
	}
	var out []dirent
	// multi is the file whose extents continue in the next record.
	var multi *dirent
	for off := 0; off < len(data); {
		n := int(data[off])
		if n == 0 {
			// Records never cross a sector boundary; the rest is padding.
			off = (off/sectorSize + 1) * sectorSize
			continue
		}
		if off+n > len(data) {
			break
		}
		rec := data[off : off+n]
		off += n
		d, special, ok := parseRecord(rec)
		if !ok || special {
			continue
		}
		rr := img.readRockRidge(systemUse(rec))
		if rr.hasName {
			d.name = rr.name
		}
		d.isLink, d.link = rr.isLnk, rr.link
		if multi != nil {
			multi.extents = append(multi.extents, d.extents...)
		} else {
			out = append(out, d)
		}
		if rec[25]&0x80 != 0 { // multi-extent: more records follow
			if multi == nil {
				multi = &out[len(out)-1]
			}
		} else {
			multi = nil
		}
	}
	return out, nil
}

// rockRidge holds what nixvm uses from a record's Rock Ridge entries.
type rockRidge struct {
	name, link     string
	hasName, isLnk bool
}

// readRockRidge collects the NM (name) and SL (symbolic link) entries of a
// system use area, following CE continuation areas.
func (img *image) readRockRidge(su []byte) rockRidge {
	if img.suspSkip < len(su) {
		su = su[img.suspSkip:]
	} else {
		su = nil
	}
	var (
		rr         rockRidge
		name, link strings.Builder
		// linkCont: the last SL component continues in the next one.
		linkCont bool
	)
	for hops := 0; len(su) >= 4 && hops <= maxContinuations; {
		sig, l := string(su[0:2]), int(su[2])
		if l < 4 || l > len(su) {
			break
		}
		entry := su[:l]
		su = su[l:]
		switch sig {
		case "NM":
			if l >= 5 && entry[4]&0x06 == 0 { // not CURRENT/PARENT
				name.Write(entry[5:])
				rr.hasName = true
			}
		case "SL":
			rr.isLnk = true
			if l >= 5 {
				linkCont = slComponents(&link, entry[5:], linkCont)
			}
		case "CE":
			if l < 28 {
				break
			}
			block := binary.LittleEndian.Uint32(entry[4:8])
			off := binary.LittleEndian.Uint32(entry[12:16])
			length := binary.LittleEndian.Uint32(entry[20:24])
			if length > sectorSize*4 {
				su = nil
				break
			}
			buf := make([]byte, length)
			if _, err := img.r.ReadAt(buf, int64(block)*img.blockSize+int64(off)); err != nil {
				su = nil
				break
			}
			su = buf
			hops++
		case "ST":
			su = nil
		}
	}
	rr.name, rr.link = name.String(), link.String()
	rr.hasName = rr.hasName && rr.name != ""
	return rr
}

// slComponents appends SL component records to a link target and reports
// whether the last one continues in the next SL entry.
func slComponents(link *strings.Builder, comps []byte, cont bool) bool {
	for len(comps) >= 2 {
		flags, n := comps[0], int(comps[1])
		if 2+n > len(comps) {
			break
		}
		text := string(comps[2 : 2+n])
		comps = comps[2+n:]
		if !cont && link.Len() > 0 && !strings.HasSuffix(link.String(), "/") {
			link.WriteByte('/')
		}
		switch {
		case flags&0x08 != 0: // ROOT
			link.Reset()
			link.WriteByte('/')
		case flags&0x02 != 0: // CURRENT
			link.WriteString(".")
		case flags&0x04 != 0: // PARENT
			link.WriteString("..")
		default:
			link.WriteString(text)
		}
		cont = flags&0x01 != 0
	}
	return cont
}

// maxLinks bounds symbolic link resolution (links could loop).
const maxLinks = 16

// lookup finds a file or directory by its path, following Rock Ridge
// symbolic links. Each component matches exactly first, then
// case-insensitively, so "EFI/BOOT" finds "EFI/boot" and plain ISO 9660
// (upper-case) names are found too. It returns the path as spelled in the
// image.
func (img *image) lookup(p string) (dirent, string, error) {
	comps := strings.Split(strings.TrimPrefix(path.Clean("/"+p), "/"), "/")
	cur, real := img.root, ""
	links := 0
	for len(comps) > 0 {
		comp := comps[0]
		comps = comps[1:]
		if comp == "" || comp == "." {
			continue
		}
		if !cur.dir {
			return dirent{}, "", fmt.Errorf("%s: %w", real, errNotDir)
		}
		entries, err := img.readDir(cur)
		if err != nil {
			return dirent{}, "", fmt.Errorf("%s: %w", real+"/", err)
		}
		next, ok := match(entries, comp)
		if !ok {
			return dirent{}, "", fmt.Errorf("%s: %w", real+"/"+comp, os.ErrNotExist)
		}
		if next.isLink {
			if links++; links > maxLinks {
				return dirent{}, "", fmt.Errorf("%s: too many levels of symbolic links", real+"/"+comp)
			}
			target := next.link
			if !strings.HasPrefix(target, "/") {
				target = real + "/" + target
			}
			// Restart from the root with the target plus what is left.
			comps = append(strings.Split(strings.TrimPrefix(path.Clean("/"+target), "/"), "/"), comps...)
			cur, real = img.root, ""
			continue
		}
		cur = next
		real += "/" + next.name
	}
	if real == "" {
		real = "/"
	}
	return cur, real, nil
}

var errNotDir = errors.New("not a directory")

func match(entries []dirent, name string) (dirent, bool) {
	for _, e := range entries {
		if e.name == name {
			return e, true
		}
	}
	for _, e := range entries {
		if strings.EqualFold(e.name, name) {
			return e, true
		}
	}
	return dirent{}, false
}

// open returns a reader for a regular file's contents.
func (img *image) open(p string) (io.Reader, int64, error) {
	d, real, err := img.lookup(p)
	if err != nil {
		return nil, 0, err
	}
	if d.dir {
		return nil, 0, fmt.Errorf("%s is a directory", real)
	}
	rs := make([]io.Reader, 0, len(d.extents))
	for _, e := range d.extents {
		rs = append(rs, io.NewSectionReader(img.r, int64(e.block)*img.blockSize, int64(e.size)))
	}
	return io.MultiReader(rs...), d.size(), nil
}

// readFile reads a small file whole; limit guards against a corrupt size.
func (img *image) readFile(p string, limit int64) ([]byte, error) {
	r, size, err := img.open(p)
	if err != nil {
		return nil, err
	}
	if size > limit {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d expected", p, size, limit)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	return b, nil
}
