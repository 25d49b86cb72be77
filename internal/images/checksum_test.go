package images

import (
	"strings"
	"testing"
)

func TestParseChecksum(t *testing.T) {
	const d = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, tc := range []struct {
		in, digest, name, err string
	}{
		{in: d + "  nixos-minimal-25.11.1.abc-x86_64-linux.iso", digest: d, name: "nixos-minimal-25.11.1.abc-x86_64-linux.iso"},
		{in: d + "  x.iso\n", digest: d, name: "x.iso"},
		{in: d + " *x.iso", digest: d, name: "x.iso"},
		{in: d, digest: d},
		{in: "", err: "empty"},
		{in: "  \n", err: "empty"},
		{in: strings.ToUpper(d) + "  x.iso", err: "64 lowercase hex"},
		{in: d[:63] + "  x.iso", err: "64 lowercase hex"},
		{in: "<html><body>login</body></html>", err: "64 lowercase hex"},
	} {
		digest, name, err := ParseChecksum([]byte(tc.in))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseChecksum(%q) err = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || digest != tc.digest || name != tc.name {
			t.Errorf("ParseChecksum(%q) = %q, %q, %v; want %q, %q", tc.in, digest, name, err, tc.digest, tc.name)
		}
	}
}

func FuzzParseChecksum(f *testing.F) {
	f.Add([]byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef  nixos.iso"))
	f.Add([]byte(""))
	f.Add([]byte("<html>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		digest, name, err := ParseChecksum(data)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("multi-line error %q", err)
			}
			return
		}
		if ValidateSHA256(digest) != nil {
			t.Errorf("accepted digest %q", digest)
		}
		if strings.ContainsAny(name, " \t\n") {
			t.Errorf("name %q has spaces", name)
		}
	})
}
