package spec

import (
	"fmt"
	"strconv"
	"strings"
)

// Size is a byte count. Written as an integer with an optional binary
// suffix: 512M, 20G, 20GiB, 1T, 4096 (bytes). K/M/G/T and KiB/MiB/GiB/TiB
// both mean powers of 1024, as in qemu-img.
type Size int64

const (
	KiB Size = 1 << 10
	MiB Size = 1 << 20
	GiB Size = 1 << 30
	TiB Size = 1 << 40
)

var sizeUnits = []struct {
	suffixes []string
	mult     Size
}{
	{[]string{"TIB", "TB", "T"}, TiB},
	{[]string{"GIB", "GB", "G"}, GiB},
	{[]string{"MIB", "MB", "M"}, MiB},
	{[]string{"KIB", "KB", "K"}, KiB},
	{[]string{"B", ""}, 1},
}

// ParseSize parses "20G", "20GiB", "512M", "0". It rejects negatives,
// fractions and overflow.
func ParseSize(s string) (Size, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	if t == "" {
		return 0, fmt.Errorf("empty size (use e.g. 512M, 20G, 20GiB)")
	}
	for _, u := range sizeUnits {
		for _, suf := range u.suffixes {
			if !strings.HasSuffix(t, suf) {
				continue
			}
			num := strings.TrimSpace(strings.TrimSuffix(t, suf))
			n, err := strconv.ParseInt(num, 10, 64)
			if err != nil || n < 0 {
				return 0, fmt.Errorf("invalid size %q (use a whole number with an optional unit: 512M, 20G, 20GiB)", s)
			}
			if n > int64((1<<62)/u.mult) {
				return 0, fmt.Errorf("size %q is too large", s)
			}
			return Size(n) * u.mult, nil
		}
	}
	return 0, fmt.Errorf("invalid size %q (use e.g. 512M, 20G, 20GiB)", s)
}

// String renders the size with the largest exact binary unit: 20G, 512M.
func (s Size) String() string {
	for _, u := range sizeUnits[:4] {
		if s != 0 && s%u.mult == 0 {
			return strconv.FormatInt(int64(s/u.mult), 10) + strings.TrimSuffix(u.suffixes[2], "")
		}
	}
	return strconv.FormatInt(int64(s), 10)
}

// Bytes returns the size as an int64 byte count.
func (s Size) Bytes() int64 { return int64(s) }
