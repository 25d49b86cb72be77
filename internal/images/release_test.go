package images

import (
	"github.com/nixvm/nixvm/internal/images/imagestest"
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestParseChannels(t *testing.T) {
	for _, tc := range []struct {
		name, listing string
		want          []string
	}{
		{"html anchors", `<a href="nixos-25.05/">nixos-25.05/</a> <a href="nixos-25.11/">nixos-25.11/</a>`, []string{"25.11", "25.05"}},
		{"suffixes ignored", "nixos-25.05/\nnixos-25.11/\nnixos-26.05-small/\nnixpkgs-26.05-darwin/\nnixos-unstable/\nnixos-26.11.1/", []string{"25.11", "25.05"}},
		{"plain names", "nixos-24.11 nixos-25.05\tnixos-23.11", []string{"25.05", "24.11", "23.11"}},
		{"year beats month", "nixos-24.11/ nixos-25.05/", []string{"25.05", "24.11"}},
		{"odd months are not releases", "nixos-25.04/ nixos-25.10/", nil},
		{"at end of input", "nixos-25.11", []string{"25.11"}},
		{"prefix glued", "xnixos-25.11/ nixos-25.05/", []string{"25.05"}},
		{"nothing", "<html>hello</html>", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ParseChannels(tc.listing); !slices.Equal(got, tc.want) {
				t.Errorf("ParseChannels = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestAliasURL(t *testing.T) {
	got := AliasURL("https://channels.nixos.org/", "unstable", "aarch64")
	if want := "https://channels.nixos.org/nixos-unstable/latest-nixos-minimal-aarch64-linux.iso"; got != want {
		t.Errorf("AliasURL = %q, want %q", got, want)
	}
}

func TestValidateRelease(t *testing.T) {
	for _, ok := range []string{"", "stable", "unstable", "25.11", "26.05", "13.05"} {
		if err := ValidateRelease(ok); err != nil {
			t.Errorf("ValidateRelease(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"25.04", "25.1", "2511", "nixos-25.11", "Stable", "25.11.1"} {
		err := ValidateRelease(bad)
		if err == nil || !strings.Contains(err.Error(), "valid values are") {
			t.Errorf("ValidateRelease(%q) = %v; want an error listing valid values", bad, err)
		}
	}
}

func TestResolve(t *testing.T) {
	listing := `<html><a href="/nixos-25.05">nixos-25.05</a><a href="/nixos-25.11">nixos-25.11</a>` +
		`<a href="/nixos-26.05-small">nixos-26.05-small</a><a href="/nixpkgs-26.05-darwin">x</a>` +
		`<a href="/nixos-unstable">nixos-unstable</a></html>`
	s := imagestest.NewServer(t, imagestest.Config{Listing: listing})
	c := http.DefaultClient
	for _, tc := range []struct {
		release, arch, wantRel, wantWarning string
		listingStatus                       int
		base                                string
	}{
		{release: "stable", arch: "x86_64", wantRel: "25.11"},
		{release: "", arch: "aarch64", wantRel: "25.11"},
		{release: "unstable", arch: "x86_64", wantRel: "unstable"},
		{release: "26.05", arch: "x86_64", wantRel: "26.05"},
		{release: "stable", arch: "x86_64", wantRel: PinnedStable, listingStatus: 500, wantWarning: "HTTP 500"},
		{release: "stable", arch: "x86_64", wantRel: PinnedStable, base: "http://127.0.0.1:1", wantWarning: "list channels"},
	} {
		s.Set(func(c *imagestest.Config) { c.ListingStatus = tc.listingStatus })
		base := s.URL
		if tc.base != "" {
			base = tc.base
		}
		src, err := Resolve(t.Context(), c, base, tc.release, tc.arch)
		if err != nil {
			t.Errorf("Resolve(%q, %q): %v", tc.release, tc.arch, err)
			continue
		}
		want := AliasURL(base, tc.wantRel, tc.arch)
		if src.Release != tc.wantRel || src.URL != want || src.Arch != tc.arch {
			t.Errorf("Resolve(%q, %q) = %+v, want release %s at %s", tc.release, tc.arch, src, tc.wantRel, want)
		}
		if tc.wantWarning == "" && src.Warning != "" || !strings.Contains(src.Warning, tc.wantWarning) ||
			tc.wantWarning != "" && !strings.Contains(src.Warning, "using "+PinnedStable) {
			t.Errorf("Resolve(%q) warning = %q, want one containing %q", tc.release, src.Warning, tc.wantWarning)
		}
	}
	if _, err := Resolve(t.Context(), c, s.URL, "stable", "riscv64"); err == nil || !strings.Contains(err.Error(), `arch "riscv64"`) {
		t.Errorf("bad arch: %v", err)
	}
}
