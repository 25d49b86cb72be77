// Package host finds out, at run time, what this machine offers nixvm: the
// QEMU binaries and their versions, qemu-img, UEFI and BIOS firmware files,
// and which accelerator a guest can use. Planning code takes these facts as
// data; everything that touches the machine is here, behind an env that
// tests replace.
package host

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Arches are the guest architectures nixvm knows, in search order.
var Arches = []string{"x86_64", "aarch64"}

// Binary is an executable found in PATH.
type Binary struct {
	Path    string `json:"path"`
	Version string `json:"version"` // "7.2.22"
}

// UEFIPair is a firmware CODE image and the VARS template that belongs to it.
// A VM gets its own copy of Vars; Code is used read-only.
type UEFIPair struct {
	Code string `json:"code"`
	Vars string `json:"vars"`
}

// Accel is the accelerator a guest runs with and why it was chosen.
type Accel struct {
	Name    string `json:"name"` // kvm | hvf | tcg
	Reason  string `json:"reason"`
	Warning string `json:"warning,omitempty"`
}

// Facts are what Detect found.
type Facts struct {
	OS     string `json:"os"`     // runtime.GOOS
	Arch   string `json:"arch"`   // host arch: x86_64 | aarch64 (else GOARCH)
	Distro string `json:"distro"` // debian | fedora | arch | suse | darwin | "" (unknown)

	QEMU    map[string]Binary     `json:"qemu"`    // guest arch -> qemu-system-<arch>
	QEMUImg *Binary               `json:"qemuImg"` // nil if missing
	UEFI    map[string][]UEFIPair `json:"uefi"`    // guest arch -> pairs found, best first
	SeaBIOS string                `json:"seabios"` // "" if none

	// Searched holds, for each missing item (qemu-system-<arch>, qemu-img,
	// uefi-<arch>, seabios), the paths that were tried.
	Searched map[string][]string `json:"searched"`

	notes map[string]string // item -> why a file that was found is unusable
	env   *env              // nil: the real machine

	accelMu sync.Mutex
	accels  map[string]Accel // guest arch -> decided accelerator, once per Facts
}

// Item names used as keys of Facts.Searched.
const (
	ItemQEMUImg = "qemu-img"
	ItemSeaBIOS = "seabios"
)

// ItemQEMU is the Searched key of qemu-system-<arch>.
func ItemQEMU(arch string) string { return "qemu-system-" + arch }

// ItemUEFI is the Searched key of the UEFI firmware for arch guests.
func ItemUEFI(arch string) string { return "uefi-" + arch }

// MissingError says what is missing, where nixvm looked and what to install.
type MissingError struct {
	Item     string   // a Searched key
	What     string   // "qemu-system-aarch64", "UEFI firmware for aarch64 guests"
	Searched []string // paths tried
	Note     string   // why a file that exists was not usable, if one was found
	Install  string   // "install ovmf (Debian/Ubuntu)"
	inPath   bool
}

func (e *MissingError) Error() string {
	var b strings.Builder
	b.WriteString(e.What)
	switch {
	case e.inPath:
		b.WriteString(" not found in PATH")
	case len(e.Searched) > 0:
		fmt.Fprintf(&b, " not found (searched %s)", strings.Join(e.Searched, ", "))
	default:
		b.WriteString(" not found")
	}
	if e.Note != "" {
		b.WriteString("; " + e.Note)
	}
	if e.Install != "" {
		b.WriteString("; " + e.Install)
	}
	return b.String()
}

func (f *Facts) missing(item, what string, inPath bool) *MissingError {
	return &MissingError{
		Item:     item,
		What:     what,
		Searched: f.Searched[item],
		Note:     f.notes[item],
		Install:  installHint(f.Distro, item),
		inPath:   inPath,
	}
}

// QEMUFor returns qemu-system-<guestArch>, or a *MissingError naming the
// package to install.
func (f *Facts) QEMUFor(guestArch string) (Binary, error) {
	if err := checkArch(guestArch); err != nil {
		return Binary{}, err
	}
	if b, ok := f.QEMU[guestArch]; ok {
		return b, nil
	}
	return Binary{}, f.missing(ItemQEMU(guestArch), ItemQEMU(guestArch), true)
}

// UEFIFor returns the best CODE/VARS pair for guestArch, or a *MissingError
// listing the paths searched and the package to install.
func (f *Facts) UEFIFor(guestArch string) (UEFIPair, error) {
	if err := checkArch(guestArch); err != nil {
		return UEFIPair{}, err
	}
	if pairs := f.UEFI[guestArch]; len(pairs) > 0 {
		return pairs[0], nil
	}
	return UEFIPair{}, f.missing(ItemUEFI(guestArch), "UEFI firmware for "+guestArch+" guests", false)
}

// RequireQEMUImg returns qemu-img, or a *MissingError.
func (f *Facts) RequireQEMUImg() (Binary, error) {
	if f.QEMUImg != nil {
		return *f.QEMUImg, nil
	}
	return Binary{}, f.missing(ItemQEMUImg, "qemu-img", true)
}

// RequireSeaBIOS returns the SeaBIOS image, or a *MissingError.
func (f *Facts) RequireSeaBIOS() (string, error) {
	if f.SeaBIOS != "" {
		return f.SeaBIOS, nil
	}
	return "", f.missing(ItemSeaBIOS, "SeaBIOS (bios-256k.bin)", false)
}

func checkArch(arch string) error {
	if !slices.Contains(Arches, arch) {
		return fmt.Errorf("guest arch %q is not supported (valid: %s)", arch, strings.Join(Arches, ", "))
	}
	return nil
}

// Detect looks at the real machine.
func Detect(ctx context.Context) (*Facts, error) { return detect(ctx, realEnv()) }

// Find is Detect without running the binaries for their versions (Version
// stays empty): for commands such as start that need only paths, where
// three extra process starts would be most of nixvm's own start-up time.
func Find(ctx context.Context) (*Facts, error) {
	e := realEnv()
	e.noVersions = true
	return detect(ctx, e)
}

func detect(ctx context.Context, e *env) (*Facts, error) {
	f := &Facts{
		OS:       e.goos,
		Arch:     archName(e.goarch),
		Distro:   distro(e),
		QEMU:     map[string]Binary{},
		UEFI:     map[string][]UEFIPair{},
		Searched: map[string][]string{},
		notes:    map[string]string{},
		env:      e,
	}
	var bins []string
	find := func(name string) (*Binary, error) {
		b, searched, note, err := findBinary(ctx, e.path, name, !e.noVersions)
		if err != nil {
			return nil, err
		}
		if b == nil {
			f.Searched[name] = searched
			if note != "" {
				f.notes[name] = note
			}
			return nil, nil
		}
		bins = append(bins, b.Path)
		return b, nil
	}
	for _, arch := range Arches {
		b, err := find(ItemQEMU(arch))
		if err != nil {
			return nil, err
		}
		if b != nil {
			f.QEMU[arch] = *b
		}
	}
	b, err := find(ItemQEMUImg)
	if err != nil {
		return nil, err
	}
	f.QEMUImg = b

	dirs := searchDirs{system: e.systemShare, prefixes: prefixesOf(bins, e.prefixes)}
	for _, arch := range Arches {
		pairs, searched := findUEFI(arch, dirs)
		if len(pairs) > 0 {
			f.UEFI[arch] = pairs
		} else {
			f.Searched[ItemUEFI(arch)] = searched
		}
	}
	var searched []string
	if f.SeaBIOS, searched = findSeaBIOS(dirs); f.SeaBIOS == "" {
		f.Searched[ItemSeaBIOS] = searched
	}
	return f, nil
}

// archName maps a GOARCH to QEMU's name for it.
func archName(goarch string) string {
	switch goarch {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	}
	return goarch
}
