package iso

import (
	"bytes"
	"encoding/json"
	goldenfile "github.com/nixvm/nixvm/internal/golden"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/iso9660"
)

// Store paths used by the >= 25.05 fixtures; they match testdata/*.cfg.
const (
	kernel25  = "/boot/nix/store/4v1gkvq2xj8m3f0n5p7c9b6d2h1s0r8w-linux-6.12.58/bzImage"
	initrd25  = "/boot/nix/store/yz9a8b7c6d5f4g3h2i1j0k9l8m7n6p5q-initrd-linux-6.12.58/initrd"
	kernelA64 = "/boot/nix/store/3r7fbm1kq9x2n8c5v0d4h6s2w7j1p9g3-linux-6.12.58/Image"
	initrdA64 = "/boot/nix/store/0b5h2k8m1q7x4c9v3n6d0f2s8w5j1r7g-initrd-linux-6.12.58/initrd"
)

// fixture is an ISO's volume label and files (path -> contents).
type fixture struct {
	name  string
	label string
	files map[string][]byte
	links map[string]string // symbolic links: path -> target
}

// blob returns n deterministic pseudo-random bytes, so that extracted
// files are checked byte for byte, across sector and buffer boundaries.
func blob(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func testdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// nixosFixtures are shaped like the real installers (see nixos-facts.md).
func nixosFixtures(t testing.TB) []fixture {
	return []fixture{
		{
			name:  "x86_64-24.11",
			label: "nixos-minimal-24.11-x86_64",
			files: map[string][]byte{
				"/version.txt":               []byte("24.11.719113.50ab793786d9"),
				"/nix-store.squashfs":        blob(1, 4096),
				"/isolinux/isolinux.cfg":     testdata(t, "isolinux-24.11.cfg"),
				"/isolinux/isolinux.bin":     blob(2, 512),
				"/EFI/BOOT/grub.cfg":         testdata(t, "grub-24.11.cfg"),
				"/EFI/BOOT/BOOTX64.EFI":      blob(3, 1024),
				"/EFI/nixos-installer-image": {},
				"/boot/bzImage":              blob(4, 1300*1024+17),
				"/boot/initrd":               blob(5, 300*1024+5),
				"/boot/efi.img":              blob(6, 2048),
			},
		},
		{
			name:  "x86_64-25.11",
			label: "nixos-minimal-25.11-x86_64",
			files: map[string][]byte{
				"/version.txt":            []byte("25.11.2345.0123456789ab"),
				"/nix-store.squashfs":     blob(1, 4096),
				"/isolinux/isolinux.cfg":  testdata(t, "isolinux-25.11.cfg"),
				"/isolinux/isolinux.bin":  blob(2, 512),
				"/EFI/BOOT/grub.cfg":      testdata(t, "grub-25.11.cfg"),
				"/EFI/BOOT/BOOTX64.EFI":   blob(3, 1024),
				"/nixos-installer-marker": {},
				kernel25:                  blob(7, 1100*1024+3),
				initrd25:                  blob(8, 200*1024+1),
				"/boot/efi.img":           blob(6, 2048),
			},
		},
		{
			name:  "aarch64-25.11",
			label: "nixos-minimal-25.11-aarch64",
			files: map[string][]byte{
				"/version.txt":            []byte("25.11.2345.0123456789ab\n"),
				"/nix-store.squashfs":     blob(1, 4096),
				"/EFI/boot/grub.cfg":      testdata(t, "grub-25.11-aarch64.cfg"),
				"/EFI/boot/BOOTAA64.EFI":  blob(3, 1024),
				"/nixos-installer-marker": {},
				kernelA64:                 blob(9, 900*1024),
				initrdA64:                 blob(10, 100*1024),
				"/boot/efi.img":           blob(6, 2048),
			},
		},
	}
}

// builder writes an ISO from a directory tree.
type builder struct {
	name  string
	build func(t testing.TB, dir, label, out string)
}

func builders() []builder {
	return []builder{{"diskfs", buildDiskfs}, {"xorriso", buildXorriso}}
}

// buildDiskfs uses go-diskfs's writer with Rock Ridge.
func buildDiskfs(t testing.TB, dir, label, out string) {
	t.Helper()
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fs, err := iso9660.Create(file.New(f, false), 0, 0, 2048, dir)
	if err != nil {
		t.Fatalf("iso9660.Create: %v", err)
	}
	if err := fs.Finalize(iso9660.FinalizeOptions{RockRidge: true, VolumeIdentifier: label}); err != nil {
		t.Fatalf("iso9660 Finalize: %v", err)
	}
}

// buildXorriso uses xorriso, the tool NixOS builds its ISOs with (Rock
// Ridge and Joliet, as in make-iso9660-image.sh).
func buildXorriso(t testing.TB, dir, label, out string) {
	t.Helper()
	requireTool(t, "xorriso")
	cmd := exec.Command("xorriso", "-as", "mkisofs", "-r", "-J", "-joliet-long", "-V", label, "-o", out, dir)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", cmd.Args, err, b)
	}
}

// requireTool skips when a tool is missing, unless CI demands the
// integration tests run (NIXVM_REQUIRE_INTEGRATION=1).
func requireTool(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("NIXVM_REQUIRE_INTEGRATION") == "1" {
			t.Fatalf("%s is required (NIXVM_REQUIRE_INTEGRATION=1) but not found: %v", name, err)
		}
		t.Skipf("%s not installed (apt-get install %s): %v", name, name, err)
	}
}

// makeISO writes the fixture's files to a directory and builds an ISO.
func makeISO(t testing.TB, b builder, fx fixture) string {
	t.Helper()
	dir := t.TempDir()
	for p, data := range fx.files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for p, target := range fx.links {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, full); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), fx.name+".iso")
	b.build(t, dir, fx.label, out)
	return out
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	goldenfile.Check(t, filepath.Join("testdata", name), got)
}

func toJSON(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep " > " readable
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
