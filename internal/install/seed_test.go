package install

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nixvm/nixvm/internal/iso"
	"github.com/nixvm/nixvm/internal/spec"
)

func testSeedFiles(t *testing.T) []SeedFile {
	t.Helper()
	p, err := Make(inputs(testSpec(t, func(s *spec.Spec) { s.Swap = spec.GiB })))
	if err != nil {
		t.Fatal(err)
	}
	priv := []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nnot a real key\n-----END OPENSSH PRIVATE KEY-----\n")
	pub := []byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKeyHostKeyHostKeyHostKeyHostKeyHost lab\n")
	files := p.SeedFiles(priv, pub)
	// A file bigger than one 2 KiB block, to cover multi-block extents.
	return append(files, SeedFile{Name: "big-file.with.dots.txt", Data: bytes.Repeat([]byte("0123456789abcdef"), 1000), Mode: 0o640})
}

func TestSeedFiles(t *testing.T) {
	p := &Plan{InstallScript: "s", ConfigurationNix: "c", ExtraNix: "e", IdentityNix: "i", HostnameNix: "h"}
	got := map[string]string{}
	for _, f := range p.SeedFiles([]byte("k"), []byte("k.pub")) {
		got[f.Name] = string(f.Data) + " " + f.Mode.String()
	}
	want := map[string]string{
		"install.sh":               "s -rwxr-xr-x",
		"configuration.nix":        "c -rw-r--r--",
		"nixvm-extra.nix":          "e -rw-r--r--",
		"nixvm-identity.nix":       "i -rw-r--r--",
		"nixvm-hostname.nix":       "h -rw-r--r--",
		"ssh_host_ed25519_key":     "k -rw-------",
		"ssh_host_ed25519_key.pub": "k.pub -rw-r--r--",
	}
	if len(got) != len(want) {
		t.Errorf("SeedFiles = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("SeedFiles[%s] = %q, want %q", k, got[k], v)
		}
	}
}

func TestWriteSeed(t *testing.T) {
	files := testSeedFiles(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "seed.iso")
	if err := WriteSeed(path, files); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("seed image mode %v, want 0600 (it holds a private key)", fi.Mode().Perm())
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".seed.iso.tmp-*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}

	// nixvm's own ISO reader (Rock Ridge names) reads every file back.
	label, err := readVolumeID(path)
	if err != nil || label != SeedLabel {
		t.Errorf("volume id %q, %v; want %q", label, err, SeedLabel)
	}
	for _, f := range files {
		dst := filepath.Join(t.TempDir(), f.Name)
		if err := iso.Extract(context.Background(), path, "/"+f.Name, dst); err != nil {
			t.Errorf("extract %s with internal/iso: %v", f.Name, err)
			continue
		}
		if got, _ := os.ReadFile(dst); !bytes.Equal(got, f.Data) {
			t.Errorf("%s: content differs after a round trip (%d bytes, want %d)", f.Name, len(got), len(f.Data))
		}
	}

	// Overwriting an existing seed replaces it whole.
	if err := WriteSeed(path, files[:1]); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "x")
	if err := iso.Extract(context.Background(), path, "/"+files[1].Name, dst); err == nil {
		t.Errorf("rewritten seed still holds %s", files[1].Name)
	}
}

// xorriso reads the image as Linux does: Rock Ridge names and modes, not
// the 8.3 names of plain ISO 9660.
func TestWriteSeedXorriso(t *testing.T) {
	requireTool(t, "xorriso", "xorriso")
	files := testSeedFiles(t)
	path := filepath.Join(t.TempDir(), "seed.iso")
	if err := WriteSeed(path, files); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("xorriso", "-indev", path, "-toc", "-pvd_info", "-find", "/", "-type", "f", "-exec", "lsdl").CombinedOutput()
	if err != nil {
		t.Fatalf("xorriso: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`(?m)^Volume Id\s*:\s*` + SeedLabel + `\s*$`).Match(out) {
		t.Errorf("xorriso does not show volume id %s:\n%s", SeedLabel, out)
	}
	if !strings.Contains(string(out), "Rock_Ridge") {
		t.Errorf("xorriso did not load Rock Ridge:\n%s", out)
	}
	// lsdl lines: -rwxr-xr-x 1 0 0 1234 Nov 28 17:56 '/install.sh'
	lsdl := regexp.MustCompile(`(?m)^(-[rwx-]{9})\s.*'/([^']+)'$`)
	listed := map[string]string{}
	for _, m := range lsdl.FindAllStringSubmatch(string(out), -1) {
		listed[m[2]] = m[1]
	}
	if len(listed) != len(files) {
		t.Errorf("xorriso lists %d files, want %d:\n%s", len(listed), len(files), out)
	}
	for _, f := range files {
		mode, ok := listed[f.Name]
		if !ok {
			t.Errorf("%s is not listed by its name:\n%s", f.Name, out)
			continue
		}
		if mode != f.Mode.String() {
			t.Errorf("%s has mode %s, want %s", f.Name, mode, f.Mode)
		}
	}

	extracted := t.TempDir()
	if out, err := exec.Command("xorriso", "-osirrox", "on", "-indev", path, "-extract", "/", extracted).CombinedOutput(); err != nil {
		t.Fatalf("xorriso extract: %v\n%s", err, out)
	}
	for _, f := range files {
		got, err := os.ReadFile(filepath.Join(extracted, f.Name))
		if err != nil || !bytes.Equal(got, f.Data) {
			t.Errorf("%s: xorriso extracts %d bytes (%v), want the %d written", f.Name, len(got), err, len(f.Data))
		}
	}
}

// udev names /dev/disk/by-label/NIXVMSEED after what blkid reads, and
// BootCommand waits for that name.
func TestWriteSeedBlkid(t *testing.T) {
	requireTool(t, "blkid", "util-linux")
	path := filepath.Join(t.TempDir(), "seed.iso")
	if err := WriteSeed(path, testSeedFiles(t)); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("blkid", "-p", "-o", "udev", path).CombinedOutput()
	if err != nil {
		t.Fatalf("blkid: %v\n%s", err, out)
	}
	for _, want := range []string{"ID_FS_TYPE=iso9660", "ID_FS_LABEL_ENC=" + SeedLabel} {
		if !regexp.MustCompile(`(?m)^` + want + `$`).Match(out) {
			t.Errorf("blkid does not report %s:\n%s", want, out)
		}
	}
}

func TestWriteSeedErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		files []SeedFile
		want  string
	}{
		{nil, "seed image: no files given"},
		{[]SeedFile{{Name: "a/b"}}, `seed image: file name "a/b" is not a plain file name`},
		{[]SeedFile{{Name: ".."}}, `seed image: file name ".." is not a plain file name`},
		{[]SeedFile{{Name: "a"}, {Name: "a"}}, `seed image: file "a" is given twice`},
	}
	for _, tt := range tests {
		path := filepath.Join(dir, "seed.iso")
		err := WriteSeed(path, tt.files)
		if err == nil || err.Error() != tt.want {
			t.Errorf("WriteSeed(%v) = %v, want %s", tt.files, err, tt.want)
		}
		if _, err := os.Stat(path); err == nil {
			t.Errorf("WriteSeed(%v) failed but left %s", tt.files, path)
		}
	}
	if err := WriteSeed(filepath.Join(dir, "missing", "seed.iso"), []SeedFile{{Name: "a"}}); err == nil {
		t.Errorf("WriteSeed into a missing directory succeeded")
	}
}

// readVolumeID reads the primary volume descriptor's volume identifier.
func readVolumeID(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	pvd := make([]byte, 2048)
	if _, err := f.ReadAt(pvd, 16*2048); err != nil {
		return "", err
	}
	if string(pvd[1:6]) != "CD001" {
		return "", os.ErrInvalid
	}
	// go-diskfs pads with NULs where ISO 9660 says spaces; blkid, which
	// udev's by-label links come from, accepts both (TestWriteSeedBlkid).
	return strings.TrimRight(string(pvd[40:72]), " \x00"), nil
}
