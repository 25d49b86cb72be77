// Package spec defines the VM spec: what a user asks nixvm to build and run.
// It holds types, defaults, parsing (strict YAML) and validation. It never
// touches the host: host facts and plans live elsewhere.
package spec

import "time"

// Spec is one VM as the user described it, after defaults are applied.
// YAML field names are the stable file format (nixvm.yaml).
type Spec struct {
	// Version is the spec format's version (Version in docs/spec.md):
	// absent means 1; this nixvm reads up to SpecVersion and writes it
	// into every VM's spec.yaml, so a newer nixvm knows what it reads.
	Version        int           `yaml:"version,omitempty" json:"version,omitempty"`
	Name           string        `yaml:"name" json:"name"`
	Arch           string        `yaml:"arch" json:"arch"`                     // x86_64 (default) | aarch64
	CPUs           int           `yaml:"cpus,omitempty" json:"cpus"`           // default 2
	Memory         Size          `yaml:"memory,omitempty" json:"memory"`       // default 2GiB
	Disks          []Disk        `yaml:"disks" json:"disks"`                   // default one 20GiB disk; at most two
	Firmware       string        `yaml:"firmware" json:"firmware"`             // uefi (default) | bios
	PartitionTable string        `yaml:"partitionTable" json:"partitionTable"` // gpt (default) | mbr
	Swap           Size          `yaml:"swap" json:"swap"`                     // 0 = no swap
	LVM            bool          `yaml:"lvm" json:"lvm"`
	RAID           string        `yaml:"raid" json:"raid"`             // none (default) | raid1 (needs two disks)
	Filesystem     string        `yaml:"filesystem" json:"filesystem"` // ext4
	Desktop        string        `yaml:"desktop" json:"desktop"`       // none (default) | i3 | dwm
	Display        string        `yaml:"display" json:"display"`       // auto (default) | none (serial console) | gtk | sdl | spice | vnc
	Keymap         string        `yaml:"keymap" json:"keymap"`         // XKB layout of a desktop, default us
	PortForwards   []PortForward `yaml:"portForwards" json:"portForwards"`
	SSHPort        int           `yaml:"sshPort" json:"sshPort"`                   // host port for guest 22; 0 = pick a free one
	Release        string        `yaml:"release" json:"release"`                   // e.g. 25.11, unstable, stable (default)
	ISO            string        `yaml:"iso" json:"iso,omitempty"`                 // installer ISO: local path or http(s) URL
	ISOSHA256      string        `yaml:"isoSha256" json:"isoSha256,omitempty"`     // required for a URL, optional for a path
	ExtraConfig    string        `yaml:"extraConfig" json:"extraConfig,omitempty"` // Nix text added to configuration.nix
	// Substituters are the binary caches nixos-install and the installed
	// system fetch from; default https://cache.nixos.org.
	Substituters []string `yaml:"substituters" json:"substituters"`
	// TrustedPublicKeys verify what the substituters serve; default the
	// key of cache.nixos.org.
	TrustedPublicKeys []string `yaml:"trustedPublicKeys" json:"trustedPublicKeys"`
	// NetworkTimeout bounds the installer's wait for a default route and an
	// answering substituter before anything is written to the disks.
	NetworkTimeout time.Duration `yaml:"networkTimeout,omitempty" json:"networkTimeout"`
}

// Disk is one virtual disk.
type Disk struct {
	Size Size `yaml:"size" json:"size"`
}

// PortForward forwards a TCP port on the host's 127.0.0.1 to a guest port.
// In YAML and flags it is written "HOST:GUEST" (optionally "HOST:GUEST/tcp").
type PortForward struct {
	Host  int    `json:"host"`
	Guest int    `json:"guest"`
	Proto string `json:"proto"` // tcp
}

// Accepted values, in the order they are listed in error messages.
var (
	Arches          = []string{"x86_64", "aarch64"}
	Firmwares       = []string{"uefi", "bios"}
	PartitionTables = []string{"gpt", "mbr"}
	RAIDLevels      = []string{"none", "raid1"}
	Filesystems     = []string{"ext4"}
	Desktops        = []string{"none", "i3", "dwm"}
	// Displays: auto is a window (gtk) for a desktop VM when the host has
	// a display ($DISPLAY or $WAYLAND_DISPLAY), none otherwise.
	Displays = []string{"auto", "none", "gtk", "sdl", "spice", "vnc"}
)
