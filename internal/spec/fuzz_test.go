package spec

import (
	"reflect"
	"testing"
)

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"512M", "20G", "20GiB", "1T", "0", "-1", "1.5G", "20X", "9999999999T", " 4 k ", "B", "+5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseSize(in)
		if err != nil {
			return
		}
		if s < 0 || s > maxSize {
			t.Fatalf("ParseSize(%q) = %d, out of range", in, int64(s))
		}
		back, err := ParseSize(s.String())
		if err != nil || back != s {
			t.Fatalf("ParseSize(%q) = %d; its String %q re-parses as %d, %v", in, int64(s), s.String(), int64(back), err)
		}
	})
}

func FuzzPortForward(f *testing.F) {
	for _, s := range []string{"8080:80", "8080:80/tcp", "53:53/udp", "8080", ":", "1:2:3", "a:b", "-1:80", "8080:80/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		p, err := ParsePortForward(in)
		if err != nil {
			return
		}
		if p.Host < 0 || p.Guest < 0 || p.Proto == "" {
			t.Fatalf("ParsePortForward(%q) = %+v", in, p)
		}
		back, err := ParsePortForward(p.String())
		if err != nil || back != p {
			t.Fatalf("ParsePortForward(%q) = %+v; its String %q re-parses as %+v, %v", in, p, p.String(), back, err)
		}
	})
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		fullYAML,
		"name: demo\n",
		"name: a\nfo: 1\n",
		"disks: [{size: 1}, {size: 2G}]\nportForwards: [\"1:2\", 3:4/udp]\n",
		"memory: 1000\nswap: 0x10\n",
		"extraConfig: \"a\\0b\"\n",
		"name: a\n---\nname: b\n",
		"a: &x [*x]\n",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data)
		if err != nil {
			return
		}
		// Validate and defaults must not panic on anything Parse accepts.
		c := *s
		c.ApplyDefaults()
		_ = c.Validate()

		out, err := s.Marshal()
		if err != nil {
			t.Fatalf("Marshal of parsed %q: %v", data, err)
		}
		back, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse(Marshal(Parse(%q))) failed: %v\nyaml:\n%s", data, err, out)
		}
		if !reflect.DeepEqual(s, back) {
			t.Fatalf("round trip of %q changed the spec:\n in %+v\nout %+v\nyaml:\n%s", data, s, back, out)
		}
	})
}
