package images

import (
	"strings"
	"testing"
)

func TestParseContentRange(t *testing.T) {
	for _, tc := range []struct {
		in          string
		start, size int64
		err         bool
	}{
		{in: "bytes 100-199/200", start: 100, size: 200},
		{in: "bytes 0-0/1", start: 0, size: 1},
		{in: "bytes 5-9/*", start: 5, size: -1},
		{in: "bytes */200", err: true},
		{in: "items 1-2/3", err: true},
		{in: "bytes -1-2/3", err: true},
		{in: "bytes 1-2/x", err: true},
		{in: "", err: true},
	} {
		start, size, err := parseContentRange(tc.in)
		if (err != nil) != tc.err || !tc.err && (start != tc.start || size != tc.size) {
			t.Errorf("parseContentRange(%q) = %d, %d, %v; want %d, %d, error %v", tc.in, start, size, err, tc.start, tc.size, tc.err)
		}
	}
}

func FuzzParseContentRange(f *testing.F) {
	f.Add("bytes 100-199/200")
	f.Add("bytes 5-9/*")
	f.Add("bytes */200")
	f.Fuzz(func(t *testing.T, v string) {
		start, size, err := parseContentRange(v)
		if err != nil {
			if strings.Contains(err.Error(), "\n") && !strings.Contains(v, "\n") {
				t.Errorf("multi-line error %q", err)
			}
			return
		}
		if start < 0 || size < -1 {
			t.Errorf("parseContentRange(%q) = %d, %d", v, start, size)
		}
	})
}

func FuzzParseChannels(f *testing.F) {
	f.Add(`<a href="nixos-25.11/">nixos-25.11/</a> nixos-26.05-small/`)
	f.Add("nixos-25.05")
	f.Fuzz(func(t *testing.T, listing string) {
		rels := ParseChannels(listing)
		for i, r := range rels {
			if !versionRe.MatchString(r) || !strings.Contains(listing, "nixos-"+r) {
				t.Fatalf("ParseChannels gave %q", r)
			}
			if i > 0 && compareVersions(rels[i-1], r) <= 0 {
				t.Fatalf("not newest first without duplicates: %q", rels)
			}
		}
	})
}
