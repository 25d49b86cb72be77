// Package install is the plan of an unattended install, and only the plan:
// from a validated spec (and the installer's release) it makes the
// configuration.nix, the extraConfig module, the identity and host-name
// modules, the install script run inside the installer and the partition
// layout, all as data that can be printed (nixvm plan) and golden-tested,
// plus the pure checks of a spec against a release (CheckSpec,
// CheckRelease, InstallerRelease). It runs no process and touches no VM,
// QEMU or console. Its only effects: NewArrayUUIDs reads random bytes, and
// WriteSeed writes the plan's files into an ISO 9660 image file (in Go).
// internal/installer runs the plan.
package install

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/nixvm/nixvm/internal/spec"
)

// Phase markers printed by install.sh on the serial console, each on a line
// of its own, which the driver waits for:
//
//	NIXVM-PHASE network | partitioning | formatting | configuring | installing | done
//	NIXVM-FAILED phase=<phase> rc=<n> cmd=<the failing command>
//	NIXVM-FAILED phase=<phase> rc=<n> msg=<what is wrong, for people>
const (
	MarkerPhase  = "NIXVM-PHASE"
	MarkerFailed = "NIXVM-FAILED"
)

// The phases install.sh reports, in order; the driver's phases of the
// same names follow them.
const (
	phaseNetwork      = "network"
	phasePartitioning = "partitioning"
	phaseFormatting   = "formatting"
	phaseConfiguring  = "configuring"
	phaseInstalling   = "installing"
	phaseDone         = "done"
)

// SeedLabel is the volume label of the seed image; BootCommand mounts it by
// this label.
const SeedLabel = "NIXVMSEED"

// Names of the files on the seed image; install.sh refers to them.
const (
	SeedInstallScript = "install.sh"
	SeedConfiguration = "configuration.nix"
	SeedExtra         = "nixvm-extra.nix"
	SeedHostKey       = "ssh_host_ed25519_key"
	SeedHostKeyPub    = "ssh_host_ed25519_key.pub"
)

// seedMount is where BootCommand mounts the seed inside the installer. Not
// /mnt: that is where the new system goes.
const seedMount = "/run/nixvm-seed"

// Inputs are everything a plan depends on.
type Inputs struct {
	Spec spec.Spec // validated, defaults applied
	// Release is the NixOS release of the installer ISO as YY.MM, e.g.
	// "25.11"; it becomes system.stateVersion. For an unstable ISO the
	// caller takes it from the ISO's label or version.
	Release string
	// StateVersionComment, when set, is written as a comment above
	// system.stateVersion (nixvm plan uses it to say the release was
	// assumed).
	StateVersionComment string
	User                string // the wheel user to create, e.g. "nixos"
	AuthorizedKey       string // the user's key: "ssh-ed25519 AAAA... comment"
	// ArrayUUIDs name the RAID1 arrays; NewArrayUUIDs makes random ones.
	// Needed only with raid1.
	ArrayUUIDs ArrayUUIDs
}

// ArrayUUIDs are the md UUIDs of the RAID1 arrays, in mdadm's form
// (xxxxxxxx:xxxxxxxx:xxxxxxxx:xxxxxxxx). They are chosen at plan time so
// that install.sh creates the arrays with them and configuration.nix lists
// them in ARRAY lines.
type ArrayUUIDs struct {
	Root, Swap string
}

var mdUUIDRE = regexp.MustCompile(`^[0-9a-f]{8}(:[0-9a-f]{8}){3}$`)

// NewArrayUUIDs makes random array UUIDs.
func NewArrayUUIDs() (ArrayUUIDs, error) {
	var u ArrayUUIDs
	for _, dst := range []*string{&u.Root, &u.Swap} {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return u, fmt.Errorf("make a RAID array UUID: %w", err)
		}
		h := hex.EncodeToString(b[:])
		*dst = h[0:8] + ":" + h[8:16] + ":" + h[16:24] + ":" + h[24:32]
	}
	return u, nil
}

// ArrayUUIDsFor derives fixed array UUIDs from a name, for plans that are
// only printed (nixvm plan): the same spec prints the same plan. create
// uses NewArrayUUIDs.
func ArrayUUIDsFor(name string) ArrayUUIDs {
	f := func(what string) string {
		sum := sha256.Sum256([]byte("nixvm md " + what + " " + name))
		h := hex.EncodeToString(sum[:16])
		return h[0:8] + ":" + h[8:16] + ":" + h[16:24] + ":" + h[24:32]
	}
	return ArrayUUIDs{Root: f("root"), Swap: f("swap")}
}

// Plan is the install as data.
type Plan struct {
	ConfigurationNix string      // /etc/nixos/configuration.nix
	ExtraNix         string      // /etc/nixos/nixvm-extra.nix: the spec's extraConfig as a module of its own
	IdentityNix      string      // /etc/nixos/nixvm-identity.nix: applies the identity nixvm gives the VM at boot
	HostnameNix      string      // /etc/nixos/nixvm-hostname.nix: networking.hostName
	InstallScript    string      // install.sh, run as root inside the installer
	Partitions       []Partition // the partitions, the same on every system disk
	// RootSize is the expected size of the root file system: the root
	// partition less RAID and LVM metadata and the swap LV. An estimate
	// (md's and LVM's metadata sizes depend on their versions), within a
	// few MiB.
	RootSize spec.Size
}

var (
	stateVersionRE = regexp.MustCompile(`^[0-9]{2}\.[0-9]{2}$`)
	userRE         = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)
)

// Make makes the plan of an install. Errors are one line naming what is
// wrong: a field of the spec, the release, the user or the key.
func Make(in Inputs) (*Plan, error) {
	s := in.Spec
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if s.Filesystem != "ext4" {
		return nil, fmt.Errorf("filesystem: %q cannot be installed (use ext4)", s.Filesystem)
	}
	if !stateVersionRE.MatchString(in.Release) {
		return nil, fmt.Errorf("release: %q is not a NixOS release number like 25.11 (system.stateVersion is the installer's YY.MM)", in.Release)
	}
	if !userRE.MatchString(in.User) {
		return nil, fmt.Errorf("user: %q is not a valid user name (use lower-case letters, digits, _ and -, starting with a letter or _)", in.User)
	}
	if err := checkAuthorizedKey(in.AuthorizedKey); err != nil {
		return nil, err
	}
	if err := CheckExtraConfig(s.ExtraConfig); err != nil {
		return nil, err
	}
	if s.RAID == "raid1" {
		for _, u := range []string{in.ArrayUUIDs.Root, in.ArrayUUIDs.Swap} {
			if !mdUUIDRE.MatchString(u) {
				return nil, fmt.Errorf("array UUID: %q is not in mdadm's form xxxxxxxx:xxxxxxxx:xxxxxxxx:xxxxxxxx (lower-case hex)", u)
			}
		}
	}
	if err := CheckSpec(&s); err != nil {
		return nil, err
	}
	l, err := makeLayout(&s, in.ArrayUUIDs)
	if err != nil {
		return nil, err
	}
	conf := configurationNix(in, l)
	if err := checkRelease(in.Release, conf); err != nil {
		return nil, err
	}
	return &Plan{
		ConfigurationNix: conf,
		ExtraNix:         extraNix(s.ExtraConfig),
		IdentityNix:      identityNix(),
		HostnameNix:      hostnameNix(s.Name),
		InstallScript:    installScript(&s, l),
		Partitions:       l.parts,
		RootSize:         l.rootSize,
	}, nil
}

func checkAuthorizedKey(k string) error {
	switch {
	case strings.TrimSpace(k) == "":
		return fmt.Errorf("authorized key: empty (give a public key line like \"ssh-ed25519 AAAA... comment\")")
	case strings.ContainsAny(k, "\n\r\x00"):
		return fmt.Errorf("authorized key: must be one line (give a public key line like \"ssh-ed25519 AAAA... comment\")")
	}
	return nil
}

// CheckSpec checks what an unattended install of s needs beyond a valid
// VM: enough memory for the live installer and enough disk for the root
// file system after the layout's other partitions. It is pure and quick, so
// create runs it before anything is downloaded or made.
func CheckSpec(s *spec.Spec) error {
	if err := s.ValidateInstall(); err != nil {
		return err
	}
	_, err := makeLayout(s, ArrayUUIDsFor(s.Name))
	return err
}

// SeedFile is one file of the seed image.
type SeedFile struct {
	Name string
	Data []byte
	Mode os.FileMode
}

// SeedFiles lists what the seed image carries: the plan's files and the
// VM's SSH host key, which install.sh puts in place so that nixvm knows the
// host key before the first connection.
func (p *Plan) SeedFiles(hostKeyPriv, hostKeyPub []byte) []SeedFile {
	return []SeedFile{
		{Name: SeedInstallScript, Data: []byte(p.InstallScript), Mode: 0o755},
		{Name: SeedConfiguration, Data: []byte(p.ConfigurationNix), Mode: 0o644},
		{Name: SeedExtra, Data: []byte(p.ExtraNix), Mode: 0o644},
		{Name: SeedIdentity, Data: []byte(p.IdentityNix), Mode: 0o644},
		{Name: SeedHostname, Data: []byte(p.HostnameNix), Mode: 0o644},
		{Name: SeedHostKey, Data: hostKeyPriv, Mode: 0o600},
		{Name: SeedHostKeyPub, Data: hostKeyPub, Mode: 0o644},
	}
}

// BootCommand is the one line the driver types at the installer's
// auto-login shell prompt (user nixos, passwordless sudo). It waits for the
// seed drive to appear (udev names it by label asynchronously; the wait is
// bounded at about a minute), mounts it read-only and runs install.sh as
// root with its output on the console. It is short, so typing it over a
// slow serial line is quick, and holds no marker word, so its echo can
// never be taken for a marker.
func BootCommand() string {
	return "sudo bash -c 'd=/dev/disk/by-label/" + SeedLabel + " m=" + seedMount +
		";for i in $(seq 300);do [ -e $d ]&&break;udevadm settle -t 1;sleep .2;done" +
		";mkdir -p $m;mount -r $d $m&&bash $m/" + SeedInstallScript + "'"
}
