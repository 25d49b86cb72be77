package images

import (
	"errors"
	"github.com/nixvm/nixvm/internal/images/imagestest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// addEntry writes a complete cache entry with content data.
func addEntry(t *testing.T, cache, release, arch string, data []byte) Image {
	t.Helper()
	sum := imagestest.SHA256(data)
	dir := entryDir(cache, sum)
	name := "nixos-minimal-" + release + ".1.abc-" + arch + "-linux.iso"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
	m := metadata{Release: release, Arch: arch, Name: name, Size: int64(len(data)), SHA256: sum, URL: "http://x/" + name, PulledAt: time.Unix(0, 0).UTC()}
	if err := writeMetadata(dir, m); err != nil {
		t.Fatal(err)
	}
	return Image{Release: release, Arch: arch, Name: name, SHA256: sum, Size: m.Size, URL: m.URL, PulledAt: m.PulledAt, Path: filepath.Join(dir, name)}
}

func TestListSkipsIncompleteEntries(t *testing.T) {
	cache := t.TempDir()
	if l, err := List(cache); err != nil || len(l) != 0 {
		t.Fatalf("List of an empty cache = %v, %v", l, err)
	}
	b := addEntry(t, cache, "25.11", "x86_64", []byte("b"))
	a := addEntry(t, cache, "25.05", "x86_64", []byte("a"))

	// A part in progress, an entry without metadata, one whose ISO is short,
	// and one with garbage metadata: none is listed.
	os.MkdirAll(tmpDir(cache), 0o755)
	os.WriteFile(partPath(cache, imagestest.SHA256([]byte("p"))), []byte("p"), 0o644)
	noMeta := entryDir(cache, imagestest.SHA256([]byte("n")))
	os.MkdirAll(noMeta, 0o755)
	os.WriteFile(filepath.Join(noMeta, "x.iso"), []byte("n"), 0o644)
	short := addEntry(t, cache, "24.11", "x86_64", []byte("short"))
	os.WriteFile(short.Path, []byte("sho"), 0o644)
	bad := addEntry(t, cache, "24.05", "x86_64", []byte("bad"))
	os.WriteFile(filepath.Join(filepath.Dir(bad.Path), metaFile), []byte("{"), 0o644)

	l, err := List(cache)
	if err != nil {
		t.Fatal(err)
	}
	if len(l) != 2 || l[0] != a || l[1] != b {
		t.Errorf("List = %+v\nwant %+v, %+v", l, a, b)
	}
}

func TestRemove(t *testing.T) {
	cache := t.TempDir()
	x := addEntry(t, cache, "25.11", "x86_64", []byte("x"))
	y := addEntry(t, cache, "25.11", "aarch64", []byte("y"))
	u := addEntry(t, cache, "unstable", "x86_64", []byte("u"))

	for _, tc := range []struct{ arg, want string }{
		{"25.11", `"25.11" matches 2 cached images`},
		{"24.05", `no cached image matches "24.05"`},
		{x.SHA256[:7], "at least 8 hex digits"},
		{"stable", "give a release"},
		{"foo", "give a release"},
		{"0000000000", "no cached image matches"},
	} {
		err := Remove(cache, tc.arg)
		var re *RefError
		if !errors.As(err, &re) || re.Ref != tc.arg || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("Remove(%q) = %v; want a RefError, one line with %q", tc.arg, err, tc.want)
		}
	}
	if l, _ := List(cache); len(l) != 3 {
		t.Fatalf("a refused Remove removed something: %+v", l)
	}
	if err := Remove(cache, "unstable"); err != nil {
		t.Fatal(err)
	}
	if err := Remove(cache, y.SHA256[:8]); err != nil {
		t.Fatal(err)
	}
	l, _ := List(cache)
	if len(l) != 1 || l[0].SHA256 != x.SHA256 {
		t.Errorf("after removing two: %+v", l)
	}
	for _, gone := range []Image{u, y} {
		if _, err := os.Stat(filepath.Dir(gone.Path)); !os.IsNotExist(err) {
			t.Errorf("%s still on disk: %v", gone.Path, err)
		}
	}
	if err := Remove(cache, "25.11"); err != nil {
		t.Errorf("25.11 is unambiguous now: %v", err)
	}
}

func TestImport(t *testing.T) {
	dir := t.TempDir()
	data := imagestest.Bytes(1<<20, 7)
	p := filepath.Join(dir, "my.iso")
	os.WriteFile(p, data, 0o644)
	sum := imagestest.SHA256(data)

	im, err := Import(t.Context(), p, sum)
	if err != nil {
		t.Fatal(err)
	}
	if im.Path != p || im.SHA256 != sum || im.Size != 1<<20 || im.Name != "my.iso" {
		t.Errorf("Import = %+v", im)
	}
	if im, err := Import(t.Context(), p, ""); err != nil || im.SHA256 != sum {
		t.Errorf("Import without a digest = %+v, %v", im, err)
	}
	other := imagestest.SHA256([]byte("other"))
	for _, tc := range []struct{ path, sum, want string }{
		{p, other, "checksum mismatch: expected " + other + ", got " + sum},
		{p, "XYZ", `sha256 "XYZ"`},
		{filepath.Join(dir, "missing.iso"), "", "no such file"},
		{dir, "", "not a regular file"},
	} {
		_, err := Import(t.Context(), tc.path, tc.sum)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Import(%q, %q) = %v; want %q", tc.path, tc.sum, err, tc.want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("Import wrote files: %v", entries)
	}
}
