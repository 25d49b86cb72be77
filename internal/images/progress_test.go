package images

import (
	"strings"
	"testing"
)

func TestLineProgress(t *testing.T) {
	var b strings.Builder
	p := &LineProgress{W: &b}
	const mib = 1 << 20
	p.Begin("known.iso", 0, 1200*mib)
	for range 1200 / 40 {
		p.Advance(40 * mib)
	}
	p.End(nil)
	p.Begin("resumed.iso", 600*mib, 1200*mib)
	p.Advance(600 * mib) // one big step reports once
	p.End(nil)
	p.Begin("unknown.iso", 0, -1)
	for range 5 {
		p.Advance(50 * mib)
	}
	p.End(nil)
	checkGolden(t, "progress_lines", b.String())
}

func TestHumanBytes(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{
		{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {120 << 20, "120 MiB"},
		{1288490189, "1.2 GiB"}, {10 << 30, "10 GiB"},
	} {
		if got := HumanBytes(tc.n); got != tc.want {
			t.Errorf("HumanBytes(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}
