package iso

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestInspect(t *testing.T) {
	for _, b := range builders() {
		for _, fx := range nixosFixtures(t) {
			t.Run(b.name+"/"+fx.name, func(t *testing.T) {
				iso := makeISO(t, b, fx)
				info, err := Inspect(iso)
				if err != nil {
					t.Fatal(err)
				}
				// Both writers must give the same answer, so one golden file.
				golden(t, "inspect-"+fx.name+".golden", toJSON(t, info))
			})
		}
	}
}

func TestInspectErrors(t *testing.T) {
	fx := nixosFixtures(t)[1] // x86_64-25.11
	without := func(files map[string][]byte, drop ...string) map[string][]byte {
		out := map[string][]byte{}
		for k, v := range files {
			out[k] = v
		}
		for _, d := range drop {
			delete(out, d)
		}
		return out
	}
	debianCfg := []byte("default vesamenu.c32\nlabel live\n  menu label ^Live\n  kernel /live/vmlinuz\n  append initrd=/live/initrd.gz boot=live\n")
	tests := []struct {
		name  string
		label string
		files map[string][]byte
		want  string
	}{
		{"debian", "d-live 12.5.0 st amd64", map[string][]byte{
			"/isolinux/isolinux.cfg": debianCfg, "/live/vmlinuz": blob(1, 10), "/live/initrd.gz": blob(2, 10),
		}, `does not look like a NixOS installer ISO: volume label "d-live 12.5.0 st amd64" does not start with "nixos-"`},
		{"i686", "nixos-minimal-23.11-i686", fx.files,
			`architecture "i686" is not one of x86_64, aarch64`},
		{"no boot config", fx.label, without(fx.files, "/isolinux/isolinux.cfg", "/EFI/BOOT/grub.cfg"),
			"does not look like a NixOS installer ISO: no boot configuration found (expected volume label nixos-minimal-<release>-<arch> and isolinux/isolinux.cfg or EFI/BOOT/grub.cfg)"},
		{"kernel missing", fx.label, without(fx.files, kernel25),
			"the default entry's kernel " + kernel25 + " is not in the image"},
		{"aarch64 label, isolinux only", "nixos-minimal-25.11-aarch64", without(fx.files, "/EFI/BOOT/grub.cfg"),
			"no grub.cfg for aarch64"},
		{"bad isolinux, no grub", fx.label, map[string][]byte{
			"/isolinux/isolinux.cfg": []byte("DEFAULT nothere\nLABEL boot\nLINUX /boot/bzImage\nINITRD /boot/initrd\n"),
		}, `/isolinux/isolinux.cfg: DEFAULT "nothere" names no LABEL`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iso := makeISO(t, builders()[0], fixture{name: "bad", label: tt.label, files: tt.files})
			_, err := Inspect(iso)
			if err == nil {
				t.Fatal("Inspect succeeded, want an error")
			}
			if !errors.Is(err, ErrNotNixOS) || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), iso+" ") {
				t.Errorf("error = %q\nwant ErrNotNixOS, starting with the path, containing %q", err, tt.want)
			}
		})
	}
}

// A broken isolinux.cfg on x86_64 falls back to grub.cfg.
func TestInspectFallsBackToGrub(t *testing.T) {
	fx := nixosFixtures(t)[1]
	fx.files["/isolinux/isolinux.cfg"] = []byte("# no labels\nSERIAL 0 115200\n")
	info, err := Inspect(makeISO(t, builders()[0], fx))
	if err != nil {
		t.Fatal(err)
	}
	if info.Kernel != kernel25 || info.Initrd != initrd25 || len(info.Entries) != 7 || info.Entries[0].Title != "NixOS 25.11.2345.0123456789ab Installer" {
		t.Errorf("got kernel %q initrd %q, %d entries, first %+v; want the grub.cfg default", info.Kernel, info.Initrd, len(info.Entries), info.Entries[0])
	}
}

func TestNotISO(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string][]byte{
		"empty":  nil,
		"text":   []byte("<html>404 not found</html>\n"),
		"zeros":  make([]byte, 64*1024),
		"almost": append(make([]byte, 16*2048), []byte("\x01CD002")...),
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Inspect(p)
			if !errors.Is(err, ErrNotISO) || err.Error() != p+" is not an ISO 9660 image" {
				t.Errorf("Inspect: %v, want %q", err, p+" is not an ISO 9660 image")
			}
			if err := Extract(context.Background(), p, "/boot/bzImage", filepath.Join(dir, "out")); !errors.Is(err, ErrNotISO) {
				t.Errorf("Extract: %v, want ErrNotISO", err)
			}
		})
	}
	if _, err := Inspect(filepath.Join(dir, "missing.iso")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Inspect of a missing file: %v, want a not-exist error", err)
	}
}

func TestExtract(t *testing.T) {
	for _, b := range builders() {
		for _, fx := range nixosFixtures(t) {
			t.Run(b.name+"/"+fx.name, func(t *testing.T) {
				iso := makeISO(t, b, fx)
				info, err := Inspect(iso)
				if err != nil {
					t.Fatal(err)
				}
				dir := t.TempDir()
				for _, p := range []string{info.Kernel, info.Initrd, "/version.txt"} {
					dst := filepath.Join(dir, filepath.Base(p))
					if err := Extract(context.Background(), iso, p, dst); err != nil {
						t.Fatal(err)
					}
					got, err := os.ReadFile(dst)
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, fx.files[p]) {
						t.Errorf("%s: extracted %d bytes that differ from the fixture's %d", p, len(got), len(fx.files[p]))
					}
				}
				// The grub.cfg form with a double slash and other case works too.
				dst := filepath.Join(dir, "k2")
				if err := Extract(context.Background(), iso, strings.Replace(strings.ToUpper(info.Kernel), "/BOOT/", "/BOOT//", 1), dst); err != nil {
					t.Errorf("case-insensitive, unclean path: %v", err)
				}
			})
		}
	}
}

func TestExtractFailureLeavesNothing(t *testing.T) {
	fx := nixosFixtures(t)[0]
	iso := makeISO(t, builders()[0], fx)
	dir := t.TempDir()
	dst := filepath.Join(dir, "bzImage")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Extract(ctx, iso, "/boot/bzImage", dst); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Extract: %v, want context.Canceled", err)
	}
	if err := Extract(context.Background(), iso, "/boot/nothere", dst); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Extract of a missing file: %v, want not-exist", err)
	}
	if err := Extract(context.Background(), iso, "/boot", dst); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("Extract of a directory: %v, want 'is a directory'", err)
	}
	// A truncated ISO: the kernel's extent runs past the end of the file.
	data, err := os.ReadFile(iso)
	if err != nil {
		t.Fatal(err)
	}
	info, err := Inspect(iso)
	if err != nil {
		t.Fatal(err)
	}
	off, _, err := openImageLookup(iso, info.Kernel)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "cut.iso")
	if err := os.WriteFile(cut, data[:off+1000], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Extract(context.Background(), cut, info.Kernel, dst); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("Extract from a truncated ISO: %v, want a 'truncated' error", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 { // only cut.iso
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("failed extractions left files behind: %v", names)
	}
}

// openImageLookup returns the byte offset of a file's first extent.
func openImageLookup(iso, p string) (int64, int64, error) {
	img, err := openImage(iso)
	if err != nil {
		return 0, 0, err
	}
	defer img.Close()
	d, _, err := img.lookup(p)
	if err != nil {
		return 0, 0, err
	}
	return int64(d.extents[0].block) * img.blockSize, d.size(), nil
}

// countingReader counts the bytes Inspect reads.
type countingReader struct {
	r io.ReaderAt
	n atomic.Int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

// Real installers are 1.1-1.8 GB: Inspect must read a few sectors, not
// the image. The fixture is padded (sparsely) to 1 GiB.
func TestInspectLargeImageReadsLittle(t *testing.T) {
	iso := largeISO(t)
	f, err := os.Open(iso)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cr := &countingReader{r: f}
	img, err := readVolume(cr, f)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := inspect(img, iso); err != nil {
		t.Fatal(err)
	}
	t.Logf("Inspect of a 1 GiB image: %v, %d bytes read", time.Since(start), cr.n.Load())
	if n := cr.n.Load(); n > 256*1024 {
		t.Errorf("Inspect read %d bytes; want under 256 KiB", n)
	}
}

func largeISO(t testing.TB) string {
	iso := makeISO(t, builders()[0], nixosFixtures(t)[1])
	if err := os.Truncate(iso, 1<<30); err != nil {
		t.Fatal(err)
	}
	return iso
}

func BenchmarkInspect1GiB(b *testing.B) {
	iso := largeISO(b)
	for b.Loop() {
		if _, err := Inspect(iso); err != nil {
			b.Fatal(err)
		}
	}
}

// Rock Ridge symbolic links are followed (relative, absolute, chained,
// through directories); loops end in an error.
func TestSymlinks(t *testing.T) {
	fx := nixosFixtures(t)[1]
	fx.links = map[string]string{
		"/boot/bzImage":  "nix/store/4v1gkvq2xj8m3f0n5p7c9b6d2h1s0r8w-linux-6.12.58/bzImage",
		"/boot/kernel":   "/boot/bzImage",
		"/boot/initrd":   "../boot/nix/store/yz9a8b7c6d5f4g3h2i1j0k9l8m7n6p5q-initrd-linux-6.12.58/initrd",
		"/current":       "boot/nix/store",
		"/loop/a":        "b",
		"/loop/b":        "a",
		"/boot/dangling": "nothere",
	}
	for _, b := range builders() {
		t.Run(b.name, func(t *testing.T) {
			iso := makeISO(t, b, fx)
			dir := t.TempDir()
			for p, want := range map[string]string{
				"/boot/bzImage": kernel25,
				"/boot/kernel":  kernel25,
				"/boot/initrd":  initrd25,
				"/current/4v1gkvq2xj8m3f0n5p7c9b6d2h1s0r8w-linux-6.12.58/bzImage": kernel25,
			} {
				dst := filepath.Join(dir, "out")
				if err := Extract(context.Background(), iso, p, dst); err != nil {
					t.Fatalf("%s: %v", p, err)
				}
				got, _ := os.ReadFile(dst)
				if !bytes.Equal(got, fx.files[want]) {
					t.Errorf("%s: got %d bytes, want the %d of %s", p, len(got), len(fx.files[want]), want)
				}
			}
			for p, want := range map[string]string{"/loop/a": "too many levels of symbolic links", "/boot/dangling": "/boot/nothere: file does not exist"} {
				if err := Extract(context.Background(), iso, p, filepath.Join(dir, "x")); err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("%s: %v, want %q", p, err, want)
				}
			}
		})
	}
}
