package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/iso9660"

	"github.com/nixvm/nixvm/internal/images"
	"github.com/nixvm/nixvm/internal/images/imagestest"
)

const (
	fixtureKernel = "/boot/nix/store/4v1gkvq2xj8m3f0n5p7c9b6d2h1s0r8w-linux-6.12.58/bzImage"
	fixtureInitrd = "/boot/nix/store/yz9a8b7c6d5f4g3h2i1j0k9l8m7n6p5q-initrd-linux-6.12.58/initrd"
	fixtureParams = "init=/nix/store/0a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p-nixos-system-nixos-25.11.1234.abcdef0/init boot.shell_on_fail root=LABEL=nixos-minimal-25.11-x86_64 nohibernate loglevel=4"
)

// fixtureISO builds a small ISO shaped like a NixOS 25.11 minimal installer.
func fixtureISO(t *testing.T) []byte {
	t.Helper()
	files := map[string]string{
		"/version.txt": "25.11.1234.abcdef0",
		"/isolinux/isolinux.cfg": "SERIAL 0 115200\nTIMEOUT 100\nDEFAULT boot\n\nLABEL boot\nMENU LABEL NixOS 25.11.1234.abcdef0 Installer\n" +
			"LINUX " + fixtureKernel + "\nAPPEND " + fixtureParams + "\nINITRD " + fixtureInitrd + "\n",
		"/EFI/BOOT/grub.cfg": "set timeout=10\nmenuentry 'NixOS 25.11.1234.abcdef0 Installer' --class installer {\n" +
			"  linux " + fixtureKernel + " " + fixtureParams + "\n  initrd " + fixtureInitrd + "\n}\n",
		fixtureKernel: strings.Repeat("k", 300000),
		fixtureInitrd: strings.Repeat("i", 100000),
	}
	dir := t.TempDir()
	for p, data := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "fixture.iso")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fs, err := iso9660.Create(file.New(f, false), 0, 0, 2048, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := fs.Finalize(iso9660.FinalizeOptions{RockRidge: true, VolumeIdentifier: "nixos-minimal-25.11-x86_64"}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// runImage runs `nixvm image ARGS...` and returns stdout and stderr.
func runImage(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	cmd := newImageCommand()
	var out, errb bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SilenceUsage = true
	cmd.SilenceErrors = true
	err := cmd.ExecuteContext(t.Context())
	return out.String(), errb.String(), err
}

// imageEnv gives the test its own cache and no inherited channel server.
func imageEnv(t *testing.T) string {
	t.Helper()
	xdg := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", xdg)
	t.Setenv("NIXVM_CHANNELS_URL", "")
	return filepath.Join(xdg, "nixvm")
}

func TestImagePullListInspectRm(t *testing.T) {
	cache := imageEnv(t)
	isoData := fixtureISO(t)
	s := imagestest.NewServer(t, imagestest.Config{ISO: isoData, Redirect: true,
		Listing: `<a href="nixos-25.05/">nixos-25.05/</a><a href="nixos-25.11/">nixos-25.11/</a><a href="nixos-26.05-small/">x</a>`})
	t.Setenv("NIXVM_CHANNELS_URL", s.URL)

	name := "nixos-minimal-" + imagestest.DefaultVersion + "-x86_64-linux.iso"
	wantPath := filepath.Join(cache, "images", s.SHA256, name)
	out, errOut, err := runImage(t, "pull") // stable, from the listing
	if err != nil {
		t.Fatalf("pull: %v\n%s", err, errOut)
	}
	if out != wantPath+"\n" {
		t.Errorf("pull printed %q, want the path %q", out, wantPath)
	}
	if !strings.Contains(errOut, "downloading "+name) || !strings.Contains(errOut, "(100%)") ||
		!strings.Contains(errOut, "release 25.11, x86_64") || !strings.Contains(errOut, "sha256 "+s.SHA256+" (verified)") {
		t.Errorf("pull stderr:\n%s", errOut)
	}
	if got, _ := os.ReadFile(wantPath); !bytes.Equal(got, isoData) {
		t.Errorf("cached ISO differs from the served one")
	}

	out, _, err = runImage(t, "list")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "ID") || !strings.HasPrefix(lines[1], s.SHA256[:12]) ||
		!strings.Contains(lines[1], "25.11") || !strings.HasSuffix(lines[1], name) {
		t.Errorf("list:\n%s", out)
	}

	out, _, err = runImage(t, "list", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("list --json: %v\n%s", err, out)
	}
	want := map[string]any{"id": s.SHA256[:12], "release": "25.11", "arch": "x86_64", "name": name,
		"sha256": s.SHA256, "size": float64(len(isoData)), "path": wantPath}
	if len(rows) != 1 {
		t.Fatalf("list --json: %s", out)
	}
	for k, v := range want {
		if rows[0][k] != v {
			t.Errorf("list --json %s = %v, want %v", k, rows[0][k], v)
		}
	}

	for _, arg := range []string{"25.11", s.SHA256[:8], wantPath} {
		out, errOut, err = runImage(t, "inspect", arg, "--json")
		if err != nil {
			t.Fatalf("inspect %s: %v\n%s", arg, err, errOut)
		}
		var info map[string]any
		if err := json.Unmarshal([]byte(out), &info); err != nil {
			t.Fatalf("inspect --json: %v\n%s", err, out)
		}
		for k, v := range map[string]string{"label": "nixos-minimal-25.11-x86_64", "release": "25.11", "arch": "x86_64",
			"kernel": fixtureKernel, "initrd": fixtureInitrd, "cmdline": fixtureParams} {
			if info[k] != v {
				t.Errorf("inspect %s: %s = %v, want %q", arg, k, info[k], v)
			}
		}
	}
	out, _, err = runImage(t, "inspect", "25.11")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"label:", "nixos-minimal-25.11-x86_64", "kernel:", fixtureKernel, "cmdline:", fixtureParams, "path:", wantPath} {
		if !strings.Contains(out, l) {
			t.Errorf("inspect text lacks %q:\n%s", l, out)
		}
	}

	out, _, err = runImage(t, "rm", "25.11")
	if err != nil || out != "removed "+s.SHA256[:12]+" "+name+"\n" {
		t.Errorf("rm = %q, %v", out, err)
	}
	if out, _, _ := runImage(t, "list", "--json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("list --json after rm = %q, want []", out)
	}
	if _, err := os.Stat(wantPath); !os.IsNotExist(err) {
		t.Errorf("ISO still on disk after rm: %v", err)
	}
	if gets := s.Requests("GET", ".iso"); len(gets) != 1 {
		t.Errorf("%d ISO GETs; want 1", len(gets))
	}
}

func TestImagePullChannelsURLFlagBeatsEnv(t *testing.T) {
	imageEnv(t)
	s := imagestest.NewServer(t, imagestest.Config{Redirect: true})
	t.Setenv("NIXVM_CHANNELS_URL", "http://127.0.0.1:1") // nothing listens there
	out, errOut, err := runImage(t, "pull", "unstable", "--channels-url", s.URL, "--arch", "aarch64")
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	if !strings.HasSuffix(strings.TrimSpace(out), "-aarch64-linux.iso") {
		t.Errorf("pull printed %q", out)
	}
	if h := s.Requests("HEAD", ".iso"); len(h) != 2 || h[0].Path != "/nixos-unstable/latest-nixos-minimal-aarch64-linux.iso" {
		t.Errorf("alias lookups = %+v", h)
	}
}

func TestImagePullLocalISO(t *testing.T) {
	imageEnv(t)
	data := imagestest.Bytes(1<<20, 3)
	p := filepath.Join(t.TempDir(), "local.iso")
	os.WriteFile(p, data, 0o644)
	sum := imagestest.SHA256(data)

	out, _, err := runImage(t, "pull", "--iso", p, "--sha256", strings.ToUpper(sum))
	if err != nil || out != p+"\n" {
		t.Errorf("pull --iso = %q, %v", out, err)
	}
	_, _, err = runImage(t, "pull", "--iso", p, "--sha256", imagestest.SHA256([]byte("x")))
	if err == nil || !strings.Contains(err.Error(), "checksum mismatch") {
		t.Errorf("wrong --sha256: %v", err)
	}
	if out, _, _ := runImage(t, "list", "--json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("a local ISO was recorded in the cache: %s", out)
	}
}

func TestImageErrors(t *testing.T) {
	imageEnv(t)
	s := imagestest.NewServer(t, imagestest.Config{NotFound: true})
	notISO := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(notISO, []byte("hello"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"pull", "--arch", "riscv64", "--channels-url", s.URL}, `arch "riscv64": valid values are x86_64, aarch64`},
		{[]string{"pull", "25.04", "--channels-url", s.URL}, `release "25.04": valid values are`},
		{[]string{"pull", "25.11", "--channels-url", s.URL}, "HTTP 404 Not Found"},
		{[]string{"pull", "25.11", "--channels-url", "ftp://mirror"}, `channels URL "ftp://mirror"`},
		{[]string{"pull", "--iso", "https://example.invalid/x.iso"}, "give --sha256 HEX"},
		{[]string{"pull", "25.11", "--iso", notISO}, "either RELEASE or --iso"},
		{[]string{"rm", "25.11"}, `no cached image matches "25.11"`},
		{[]string{"rm", "abc"}, "at least 8 hex digits"},
		{[]string{"inspect", "25.11"}, "nixvm image pull 25.11"},
		{[]string{"inspect", "/no/such.iso"}, "/no/such.iso: no such file, nor a release or image ID"},
		{[]string{"inspect", notISO}, notISO},
	} {
		_, _, err := runImage(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("image %q = %v; want one line with %q", tc.args, err, tc.want)
		}
	}
}

func TestImageProgressKinds(t *testing.T) {
	if _, ok := newImageProgress(&bytes.Buffer{}).(*images.LineProgress); !ok {
		t.Errorf("a non-terminal writer does not get plain lines")
	}
	// The bar itself, drawn into a buffer: known and unknown sizes, success and failure.
	// For an unknown size the library's spinner goroutine draws too, so the
	// buffer is locked.
	var b lockedBuffer
	p := &barProgress{w: &b}
	p.Begin("x.iso", 10, 100)
	p.Advance(90)
	p.End(nil)
	p.Begin("y.iso", 0, -1)
	p.Advance(5)
	p.End(errors.New("cut"))
	if !strings.Contains(b.String(), "x.iso") || !strings.Contains(b.String(), "100%") {
		t.Errorf("bar output: %q", b.String())
	}
}
