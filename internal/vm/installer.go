package vm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/nixvm/nixvm/internal/arch"
	"github.com/nixvm/nixvm/internal/images"
	"github.com/nixvm/nixvm/internal/iso"
	"github.com/nixvm/nixvm/internal/spec"
	"github.com/nixvm/nixvm/internal/store"
)

// Installer is a NixOS installer ISO ready for direct kernel boot.
type Installer struct {
	ISO  string
	Info *iso.Info
	Boot DirectBoot
}

// PrepareInstaller inspects a NixOS installer ISO and extracts its kernel
// and initrd into the cache (once per ISO file), so the installer can boot
// directly with the default entry's parameters: no boot menu, no timeout,
// the same on SeaBIOS and OVMF. The ISO must still be attached as a CD-ROM.
func PrepareInstaller(ctx context.Context, isoPath, guestArch string) (*Installer, error) {
	inst, err := InspectInstaller(isoPath, guestArch)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(inst.Boot.Kernel)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("make %s: %w", dir, err)
	}
	for _, f := range []struct{ inner, dst string }{{inst.Info.Kernel, inst.Boot.Kernel}, {inst.Info.Initrd, inst.Boot.Initrd}} {
		if _, err := os.Stat(f.dst); err == nil {
			continue // extracted before; Extract renames complete files only
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		if err := iso.Extract(ctx, inst.ISO, f.inner, f.dst); err != nil {
			return nil, err
		}
	}
	return inst, nil
}

// InspectInstaller is PrepareInstaller without the extraction: it reads the
// ISO and says where its kernel and initrd would be, writing nothing (a dry
// run's plan names the same files the real start boots).
func InspectInstaller(isoPath, guestArch string) (*Installer, error) {
	abs, err := filepath.Abs(isoPath)
	if err != nil {
		return nil, err
	}
	info, err := iso.Inspect(abs)
	if err != nil {
		return nil, err
	}
	if info.Arch != guestArch {
		return nil, withStep(fmt.Errorf("installer ISO %s is for %s, but the VM is %s", abs, info.Arch, guestArch), NextPullArch, "", guestArch)
	}
	dir, err := bootCacheDir(abs)
	if err != nil {
		return nil, err
	}
	boot, err := InstallerBoot(info, dir)
	if err != nil {
		return nil, err
	}
	return &Installer{ISO: abs, Info: info, Boot: boot}, nil
}

// InstallerBoot is the installer decision, the one function create, start
// --installer and plan use: boot the ISO's default entry directly, its
// kernel and initrd from dir (where PrepareInstaller extracts them), with
// its own kernel parameters plus the serial console (its device name is in
// internal/arch), so that the installer's console and auto-login shell
// appear on the serial port. It is pure.
func InstallerBoot(info *iso.Info, dir string) (DirectBoot, error) {
	m, err := arch.For(info.Arch)
	if err != nil {
		return DirectBoot{}, err
	}
	serialConsole := m.SerialConsole()
	appendLine := info.Cmdline
	if !slices.Contains(strings.Fields(appendLine), serialConsole) {
		appendLine = strings.TrimSpace(appendLine + " " + serialConsole)
	}
	return DirectBoot{Kernel: filepath.Join(dir, filepath.Base(info.Kernel)), Initrd: filepath.Join(dir, "initrd"), Append: appendLine}, nil
}

// bootCacheDir is where the kernel and initrd of one ISO file are kept:
// keyed by path, size and modification time, so a replaced ISO is extracted
// again without hashing gigabytes on every start.
func bootCacheDir(isoPath string) (string, error) {
	fi, err := os.Stat(isoPath)
	if err != nil {
		return "", err
	}
	cache, err := store.CacheDir()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(isoPath + "\x00" + strconv.FormatInt(fi.Size(), 10) + "\x00" + strconv.FormatInt(fi.ModTime().UnixNano(), 10)))
	return filepath.Join(cache, "boot", hex.EncodeToString(sum[:8])), nil
}

// InstallerSource says where the installer ISO of a VM comes from, first
// match wins: an explicit path, the ISO a manual VM was made with, the
// spec's iso (path, or URL with sha256), else the spec's release from the
// image cache or the channel server.
type InstallerSource struct {
	Override string // start --iso with --installer
	Pull     images.PullOptions
	// NoDownload takes the ISO from local files and the image cache only
	// (dry runs make no network request).
	NoDownload bool
}

// InstallerISO returns the path of the VM's verified installer ISO,
// downloading it when needed.
func InstallerISO(ctx context.Context, in store.Instance, s *spec.Spec, src InstallerSource) (string, error) {
	if src.Override != "" {
		return src.Override, nil
	}
	if st, err := in.ReadState(); err == nil && st.ISO != "" {
		return st.ISO, nil
	}
	if src.NoDownload {
		return CachedInstallerISO(s, src.Pull)
	}
	return SpecInstallerISO(ctx, s, src.Pull)
}

// ErrNotCached says that a dry run would have had to download the
// installer ISO.
var ErrNotCached = errors.New("installer ISO not in the image cache")

// NotCachedError is the error of a dry run that would have had to download
// the installer ISO of What (the release Release); it matches ErrNotCached.
type NotCachedError struct {
	What    string
	Release string
}

func (e *NotCachedError) Error() string {
	return fmt.Sprintf("the installer ISO of %s is not in the image cache and a dry run downloads nothing", e.What)
}

func (e *NotCachedError) Is(target error) bool { return target == ErrNotCached }

// CachedInstallerISO is SpecInstallerISO without the network: a local ISO
// as is, a release from the image cache, else an error wrapping
// ErrNotCached that says how to get it.
func CachedInstallerISO(s *spec.Spec, pull images.PullOptions) (string, error) {
	if s.ISO != "" && !spec.IsURL(s.ISO) {
		return s.ISO, nil
	}
	if s.ISO == "" && s.Release != "" && s.Release != "stable" {
		cache := pull.CacheDir
		if cache == "" {
			c, err := store.CacheDir()
			if err != nil {
				return "", err
			}
			cache = c
		}
		ims, err := images.Find(cache, s.Release)
		if err == nil {
			for _, im := range ims {
				if im.Arch == s.Arch {
					return im.Path, nil
				}
			}
		}
	}
	what := "release " + s.Release
	if s.ISO != "" {
		what = s.ISO
	}
	if s.Release == "" || s.Release == "stable" {
		what = "the stable release"
	}
	return "", &NotCachedError{What: what, Release: s.Release}
}

// SpecInstallerISO returns the verified installer ISO the spec asks for: its
// iso (a path, verified when it has isoSha256; or a URL, downloaded and
// verified), else its release from the image cache or the channel server.
func SpecInstallerISO(ctx context.Context, s *spec.Spec, pull images.PullOptions) (string, error) {
	pull.Arch = s.Arch
	switch {
	case s.ISO != "" && !spec.IsURL(s.ISO) && s.ISOSHA256 == "":
		return s.ISO, nil
	case s.ISO != "" && !spec.IsURL(s.ISO):
		// A local ISO with a digest is verified before it is used.
		img, err := images.Import(ctx, s.ISO, s.ISOSHA256)
		if err != nil {
			return "", err
		}
		return img.Path, nil
	case s.ISO != "":
		pull.URL, pull.SHA256 = s.ISO, s.ISOSHA256
	default:
		pull.Release = s.Release
	}
	img, err := images.Ensure(ctx, pull)
	if err != nil {
		return "", err
	}
	return img.Path, nil
}

// BootRequest is what the user asked start to boot.
type BootRequest struct {
	ISO        string // --iso: attach this ISO
	Installer  bool   // --installer: boot the NixOS installer directly
	Pull       images.PullOptions
	NoDownload bool // local files and the image cache only
	// DryRun plans only: the installer's kernel and initrd are named, not
	// extracted into the cache (a dry run writes nothing).
	DryRun bool
}

// ResolveBoot turns a BootRequest into StartOptions:
//   - --installer boots the VM's installer ISO (or --iso) by direct kernel
//     boot with the ISO attached;
//   - --iso alone attaches the ISO as the first boot device;
//   - a VM made with create --manual boots its ISO like --installer when
//     it is a NixOS installer, else as a CD (any other OS's installer);
//   - otherwise the VM boots its disk.
func ResolveBoot(ctx context.Context, in store.Instance, s *spec.Spec, req BootRequest) (StartOptions, error) {
	var opts StartOptions
	isoPath := req.ISO
	installer := req.Installer
	fallbackToCD := false
	if !installer && isoPath == "" {
		st, err := in.ReadState()
		if err != nil || !st.Manual {
			return opts, nil
		}
		// st.ISO may be empty: InstallerISO then gets the spec's release.
		isoPath, installer, fallbackToCD = st.ISO, true, true
	}
	if installer {
		var err error
		if isoPath, err = InstallerISO(ctx, in, s, InstallerSource{Override: isoPath, Pull: req.Pull, NoDownload: req.NoDownload}); err != nil {
			return opts, err
		}
	}
	if isoPath != "" {
		abs, err := filepath.Abs(isoPath)
		if err != nil {
			return opts, err
		}
		if _, err := os.Stat(abs); err != nil {
			return opts, &ISONotFoundError{Path: isoPath, Err: err, Boot: true}
		}
		isoPath = abs
	}
	opts.ISO = isoPath
	if !installer {
		return opts, nil
	}
	prepare := PrepareInstaller
	if req.DryRun {
		prepare = func(_ context.Context, isoPath, guestArch string) (*Installer, error) {
			return InspectInstaller(isoPath, guestArch)
		}
	}
	inst, err := prepare(ctx, isoPath, s.Arch)
	if err != nil {
		if fallbackToCD && (errors.Is(err, iso.ErrNotNixOS) || errors.Is(err, iso.ErrNotISO)) {
			return opts, nil
		}
		return opts, err
	}
	opts.Boot = &inst.Boot
	return opts, nil
}
