// Package iso inspects NixOS installer ISOs without mounting them: it reads
// the ISO 9660 volume label and the files named by Rock Ridge, parses the
// isolinux and GRUB boot configurations, and finds the default entry's
// kernel, initrd and kernel parameters, so that nixvm can boot the
// installer directly (-kernel/-initrd/-append) with no menu wait.
//
// Paths inside the image are never hard-coded: NixOS moved the kernel from
// /boot/bzImage (<= 24.11) to /boot/nix/store/<hash>-linux-<ver>/bzImage
// (>= 25.05), so the boot configuration is the only source of truth.
package iso

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Entry is one boot menu entry.
type Entry struct {
	Label  string   `json:"label,omitempty"` // isolinux LABEL; GRUB --id
	Title  string   `json:"title,omitempty"` // isolinux MENU LABEL; GRUB menuentry title
	Kernel string   `json:"kernel"`
	Initrd string   `json:"initrd"`
	Params []string `json:"params"`
	// Menu is the path of (sub)menus holding the entry, joined with " > ";
	// empty at top level.
	Menu string `json:"menu,omitempty"`
}

// Info describes a NixOS installer ISO.
type Info struct {
	Label   string `json:"label"`   // volume label, e.g. nixos-minimal-25.11-x86_64
	Release string `json:"release"` // from the label, e.g. 25.11
	Arch    string `json:"arch"`    // x86_64 | aarch64
	Version string `json:"version"` // /version.txt, trimmed, e.g. 25.11.1234.abcdef; empty if absent
	Kernel  string `json:"kernel"`  // default entry's kernel, absolute and clean
	Initrd  string `json:"initrd"`
	Cmdline string `json:"cmdline"` // default entry's kernel parameters, space-joined
	// BootConfigs are the boot configurations found, as spelled in the image.
	BootConfigs []string `json:"bootConfigs"`
	// Entries are the entries of the configuration the default came from.
	Entries []Entry `json:"entries"`
}

var (
	// ErrNotISO means the file has no ISO 9660 volume descriptor.
	ErrNotISO = errors.New("not an ISO 9660 image")
	// ErrNotNixOS means the file is an ISO 9660 image but not a NixOS
	// installer nixvm can boot.
	ErrNotNixOS = errors.New("does not look like a NixOS installer ISO")
)

// Where the boot configurations live. Lookups ignore case, so EFI/boot
// (old ISOs) is found too.
const (
	isolinuxCfg = "/isolinux/isolinux.cfg"
	grubCfg     = "/EFI/BOOT/grub.cfg"
	versionTxt  = "/version.txt"
	// maxConfig bounds the size of a boot configuration or version.txt.
	maxConfig = 1 << 20
)

// Inspect reads the volume label, version and boot configurations of the
// ISO at isoPath and resolves the default boot entry: from isolinux.cfg on
// x86_64 (falling back to grub.cfg), from grub.cfg's first entry otherwise.
// It reads a few sectors, never the whole image.
func Inspect(isoPath string) (*Info, error) {
	img, err := open(isoPath)
	if err != nil {
		return nil, err
	}
	defer img.Close()
	return inspect(img, isoPath)
}

func inspect(img *image, isoPath string) (*Info, error) {
	notNixOS := func(why string) error {
		return fmt.Errorf("%s %w: %s (expected volume label nixos-minimal-<release>-<arch> and isolinux/isolinux.cfg or EFI/BOOT/grub.cfg)", isoPath, ErrNotNixOS, why)
	}
	info := &Info{Label: img.label, BootConfigs: []string{}, Entries: []Entry{}}
	var err error
	info.Release, info.Arch, err = ParseLabel(img.label)
	if err != nil {
		return nil, notNixOS(err.Error())
	}
	version, _, err := img.readOptional(versionTxt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", isoPath, err)
	}
	info.Version = strings.TrimSpace(string(version))

	isoCfg, isoName, err := img.readOptional(isolinuxCfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", isoPath, err)
	}
	grub, grubName, err := img.readOptional(grubCfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", isoPath, err)
	}
	for _, n := range []string{isoName, grubName} {
		if n != "" {
			info.BootConfigs = append(info.BootConfigs, n)
		}
	}
	if len(info.BootConfigs) == 0 {
		return nil, notNixOS("no boot configuration found")
	}

	// The default entry: isolinux is what BIOS boots on x86_64; GRUB is
	// the only configuration on aarch64 and the fallback.
	var (
		def     Entry
		entries []Entry
		reasons []string
	)
	found := false
	if isoName != "" && info.Arch == "x86_64" {
		entries, def, err = isolinuxDefault(isoCfg, path.Dir(isoName))
		if err == nil {
			found = true
		} else {
			reasons = append(reasons, fmt.Sprintf("%s: %v", isoName, err))
		}
	}
	if !found && grubName != "" {
		entries, def, err = grubDefault(grub)
		if err == nil {
			found = true
		} else {
			reasons = append(reasons, fmt.Sprintf("%s: %v", grubName, err))
		}
	}
	if !found {
		if len(reasons) == 0 { // only an isolinux.cfg, on aarch64
			reasons = append(reasons, fmt.Sprintf("no grub.cfg for %s", info.Arch))
		}
		return nil, notNixOS(strings.Join(reasons, "; "))
	}
	for _, f := range []struct{ what, p string }{{"kernel", def.Kernel}, {"initrd", def.Initrd}} {
		if _, _, err := img.lookup(f.p); err != nil {
			return nil, notNixOS(fmt.Sprintf("the default entry's %s %s is not in the image", f.what, f.p))
		}
	}
	info.Kernel, info.Initrd = def.Kernel, def.Initrd
	info.Cmdline = strings.Join(def.Params, " ")
	info.Entries = entries
	return info, nil
}

// isolinuxDefault parses isolinux.cfg and returns its entries (paths made
// absolute against dir, where isolinux resolves relative names) and the
// DEFAULT one.
func isolinuxDefault(cfg []byte, dir string) ([]Entry, Entry, error) {
	entries, label, err := ParseIsolinux(cfg)
	if err != nil {
		return nil, Entry{}, err
	}
	for i := range entries {
		entries[i].Kernel = absPath(dir, entries[i].Kernel)
		entries[i].Initrd = absPath(dir, entries[i].Initrd)
	}
	for _, match := range []func(a, b string) bool{
		func(a, b string) bool { return a == b },
		strings.EqualFold,
	} {
		for _, e := range entries {
			if match(e.Label, label) {
				return entries, e, checkBootable(e)
			}
		}
	}
	return nil, Entry{}, fmt.Errorf("DEFAULT %q names no LABEL", label)
}

// grubDefault parses grub.cfg and returns its entries and the first one,
// which is GRUB's default (NixOS sets no `default`).
func grubDefault(cfg []byte) ([]Entry, Entry, error) {
	entries, err := ParseGrub(cfg)
	if err != nil {
		return nil, Entry{}, err
	}
	for i := range entries {
		entries[i].Kernel = absPath("/", entries[i].Kernel)
		entries[i].Initrd = absPath("/", entries[i].Initrd)
	}
	if entries[0].Menu != "" {
		return nil, Entry{}, errors.New("no top-level menuentry")
	}
	return entries, entries[0], checkBootable(entries[0])
}

func checkBootable(e Entry) error {
	name := e.Label
	if name == "" {
		name = e.Title
	}
	switch {
	case e.Kernel == "":
		return fmt.Errorf("default entry %q has no kernel", name)
	case e.Initrd == "":
		return fmt.Errorf("default entry %q has no initrd", name)
	}
	return nil
}

// absPath makes p absolute against dir and clean.
func absPath(dir, p string) string {
	if p == "" || strings.HasPrefix(p, "/") {
		return cleanPath(p)
	}
	return path.Clean(dir + "/" + p)
}

// cleanPath cleans an absolute path: NixOS >= 25.05 writes
// /boot//nix/store/..., which is /boot/nix/store/... in the image.
// Relative paths are left to the caller, who knows the base.
func cleanPath(p string) string {
	if strings.HasPrefix(p, "/") {
		return path.Clean(p)
	}
	return p
}

// open opens an ISO, turning "no volume descriptor" into ErrNotISO.
func open(isoPath string) (*image, error) {
	img, err := openImage(isoPath)
	if errors.Is(err, errNotISO) {
		return nil, fmt.Errorf("%s is %w", isoPath, ErrNotISO)
	}
	if err != nil {
		return nil, fmt.Errorf("open ISO: %w", err)
	}
	return img, nil
}

// readOptional reads a small file, returning its spelled path; a missing
// file is not an error (nil data, empty name).
func (img *image) readOptional(p string) ([]byte, string, error) {
	_, real, err := img.lookup(p)
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, errNotDir) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	b, err := img.readFile(real, maxConfig)
	if err != nil {
		return nil, "", err
	}
	return b, real, nil
}

// Extract copies the file inner (e.g. the kernel path from Info) out of the
// ISO at isoPath to dst, through a temporary file in dst's directory that
// is synced and renamed into place, so dst is either complete or absent.
func Extract(ctx context.Context, isoPath, inner, dst string) (err error) {
	img, err := open(isoPath)
	if err != nil {
		return err
	}
	defer img.Close()
	r, size, err := img.open(inner)
	if err != nil {
		return fmt.Errorf("extract %s from %s: %w", inner, isoPath, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp-*")
	if err != nil {
		return fmt.Errorf("extract %s: %w", inner, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	// The struct hides os.File's ReaderFrom so the 1 MiB buffer is used.
	n, err := io.CopyBuffer(struct{ io.Writer }{tmp}, ctxReader{ctx, r}, make([]byte, 1<<20))
	if err != nil {
		return fmt.Errorf("extract %s from %s: %w", inner, isoPath, err)
	}
	if n != size {
		return fmt.Errorf("extract %s from %s: got %d of %d bytes (is the ISO truncated? download it again)", inner, isoPath, n, size)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("extract %s: %w", inner, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("extract %s: %w", inner, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("extract %s: %w", inner, err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("extract %s: %w", inner, err)
	}
	return nil
}

// ctxReader stops a copy when the context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
