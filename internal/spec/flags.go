package spec

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// Flags are the command-line overrides of a spec. Only flags the user set
// are applied, so "-f vm.yaml --cpus 4" keeps everything else from the file.
type Flags struct {
	fs *pflag.FlagSet

	arch, firmware, partitionTable, raid, filesystem, desktop, display enumValue

	cpus, sshPort   intValue
	memory, swap    sizeValue
	disks           sizeListValue
	forwards        forwardListValue
	lvm             bool
	substituters    []string
	trustedKeys     []string
	networkTimeout  time.Duration
	release, iso    string
	sha256          string
	extraConfig     string
	extraConfigFile string
	keymap          string
}

// BindFlags registers one flag per spec field (the name is the command's
// argument, not a flag) on fs.
func BindFlags(fs *pflag.FlagSet) *Flags {
	f := &Flags{fs: fs}
	f.arch = enumValue{valid: Arches}
	f.firmware = enumValue{valid: Firmwares}
	f.partitionTable = enumValue{valid: PartitionTables}
	f.raid = enumValue{valid: RAIDLevels}
	f.filesystem = enumValue{valid: Filesystems}
	f.desktop = enumValue{valid: Desktops}
	f.display = enumValue{valid: Displays}

	fs.Var(&f.arch, "arch", "guest CPU architecture: "+orList(Arches)+" (default "+DefaultArch+")")
	fs.Var(&f.cpus, "cpus", "number of virtual CPUs, 1 to 256 (default 2)")
	fs.Var(&f.memory, "memory", "guest RAM, e.g. 512M, 4G; at least 256M (default 2G)")
	fs.Var(&f.disks, "disk", "size of a disk, e.g. 20G; repeat for a second disk: --disk 20G --disk 20G (default one 20G disk, two with --raid raid1)")
	fs.Var(&f.firmware, "firmware", "boot firmware: "+orList(Firmwares)+" (default "+DefaultFirmware+")")
	fs.Var(&f.partitionTable, "partition-table", "partition table: "+orList(PartitionTables)+"; mbr addresses at most 2T per disk (default "+DefaultPartitionTable+")")
	fs.Var(&f.swap, "swap", "swap size, e.g. 2G; 0 for none (default 0)")
	fs.BoolVar(&f.lvm, "lvm", false, "put the root filesystem on LVM (works with --raid raid1: LVM on the md device)")
	fs.Var(&f.raid, "raid", "software RAID across the disks: "+orList(RAIDLevels)+"; raid1 mirrors two disks (default "+DefaultRAID+")")
	fs.Var(&f.filesystem, "filesystem", "root filesystem: "+orList(Filesystems)+" (default "+DefaultFilesystem+")")
	fs.Var(&f.desktop, "desktop", "desktop to install: "+orList(Desktops)+" (default "+DefaultDesktop+")")
	fs.Var(&f.display, "display", "QEMU display: "+orList(Displays)+"; auto opens a window for a desktop when the host has one, none uses the serial console (default "+DefaultDisplay+")")
	fs.StringVar(&f.keymap, "keymap", "", "keyboard `layout` of the desktop (XKB), e.g. us, de, fr or us,de (default "+DefaultKeymap+")")
	fs.Var(&f.forwards, "forward", "forward 127.0.0.1:HOST on the host to GUEST in the VM (TCP), e.g. 8080:80; repeatable")
	fs.Var(&f.sshPort, "ssh-port", "host port forwarded to the guest's SSH port 22; 0 picks a free one (default 0)")
	fs.StringVar(&f.release, "release", "", "NixOS `version`: stable, unstable or YY.05/YY.11 such as 25.11 (default stable)")
	fs.StringVar(&f.iso, "iso", "", "installer ISO file `path|url` to use instead of the release's (an http(s) URL needs --sha256)")
	fs.StringVar(&f.sha256, "sha256", "", "expected SHA-256 of --iso, 64 `hex` digits")
	fs.StringSliceVar(&f.substituters, "substituter", nil, "binary cache `url` for nixos-install and the installed system; repeatable (default "+DefaultSubstituter+")")
	fs.StringSliceVar(&f.trustedKeys, "trusted-public-key", nil, "public `key` (NAME:BASE64) that signs the substituters' paths; repeatable (default cache.nixos.org's)")
	fs.DurationVar(&f.networkTimeout, "network-timeout", 0, "how long the installer waits for a network and an answering substituter before it gives up, 10s to 1h (default "+DefaultNetworkTimeout.String()+")")
	fs.StringVar(&f.extraConfig, "extra-config", "", "Nix `text` added to the generated configuration.nix")
	fs.StringVar(&f.extraConfigFile, "extra-config-file", "", "read Nix text for the generated configuration.nix from `path`")
	return f
}

// Apply copies the flags the user set onto s, replacing the file's values
// (--disk and --forward replace the whole list). Run it before
// ApplyDefaults, then Validate.
func (f *Flags) Apply(s *Spec) error {
	set := f.fs.Changed
	for _, e := range []struct {
		flag string
		dst  *string
		v    *enumValue
	}{
		{"arch", &s.Arch, &f.arch},
		{"firmware", &s.Firmware, &f.firmware},
		{"partition-table", &s.PartitionTable, &f.partitionTable},
		{"raid", &s.RAID, &f.raid},
		{"filesystem", &s.Filesystem, &f.filesystem},
		{"desktop", &s.Desktop, &f.desktop},
		{"display", &s.Display, &f.display},
	} {
		if set(e.flag) {
			*e.dst = e.v.value
		}
	}
	// 0 means "not set" in a Spec and would be replaced by the default;
	// given explicitly it is a mistake, not a request for the default.
	if set("cpus") {
		if f.cpus < 1 || f.cpus > MaxCPUs {
			return fmt.Errorf("--cpus: %d is out of range (use 1 to %d)", f.cpus, MaxCPUs)
		}
		s.CPUs = int(f.cpus)
	}
	if set("ssh-port") {
		s.SSHPort = int(f.sshPort)
	}
	if set("keymap") {
		s.Keymap = f.keymap
	}
	if set("memory") {
		if f.memory == 0 {
			return fmt.Errorf("--memory: 0 is too small (use at least %s, e.g. 2G)", MinMemory)
		}
		s.Memory = Size(f.memory)
	}
	if set("swap") {
		s.Swap = Size(f.swap)
	}
	if set("disk") {
		s.Disks = nil
		for _, d := range f.disks {
			s.Disks = append(s.Disks, Disk{Size: d})
		}
	}
	if set("forward") {
		s.PortForwards = slices.Clone([]PortForward(f.forwards))
	}
	if set("lvm") {
		s.LVM = f.lvm
	}
	if set("release") {
		s.Release = f.release
	}
	if set("iso") {
		s.ISO = f.iso
	}
	if set("sha256") {
		s.ISOSHA256 = f.sha256
	}
	if set("substituter") {
		s.Substituters = slices.Clone(f.substituters)
	}
	if set("trusted-public-key") {
		s.TrustedPublicKeys = slices.Clone(f.trustedKeys)
	}
	if set("network-timeout") {
		if f.networkTimeout < MinNetworkTimeout || f.networkTimeout > MaxNetworkTimeout {
			return fmt.Errorf("--network-timeout: %s is out of range (use %s to %s)", f.networkTimeout, MinNetworkTimeout, MaxNetworkTimeout)
		}
		s.NetworkTimeout = f.networkTimeout
	}
	if set("extra-config") && set("extra-config-file") {
		return errors.New("--extra-config and --extra-config-file are both set (use one)")
	}
	if set("extra-config") {
		s.ExtraConfig = f.extraConfig
	}
	if set("extra-config-file") {
		b, err := os.ReadFile(f.extraConfigFile)
		if err != nil {
			return fmt.Errorf("--extra-config-file: %w", err)
		}
		s.ExtraConfig = string(b)
	}
	return nil
}

// FlagError rewrites pflag's "invalid argument "2X" for "--memory" flag: ..."
// as "--memory: ...", the one-line form used everywhere else. Pass it to
// cobra's Command.SetFlagErrorFunc.
func FlagError(err error) error {
	var ive *pflag.InvalidValueError
	if errors.As(err, &ive) {
		return fmt.Errorf("--%s: %w", ive.GetFlag().Name, errors.Unwrap(ive))
	}
	return err
}

// enumValue accepts one of a fixed list, so a typo fails at parse time
// with the valid values listed.
type enumValue struct {
	value string
	valid []string
}

func (e *enumValue) String() string { return e.value }
func (e *enumValue) Type() string   { return "string" }
func (e *enumValue) Set(v string) error {
	if !slices.Contains(e.valid, v) {
		return fmt.Errorf("%q is not valid (use %s)", v, orList(e.valid))
	}
	e.value = v
	return nil
}

type intValue int

func (i *intValue) String() string { return strconv.Itoa(int(*i)) }
func (i *intValue) Type() string   { return "int" }
func (i *intValue) Set(v string) error {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return fmt.Errorf("%q is not a whole number", v)
	}
	*i = intValue(n)
	return nil
}

type sizeValue Size

func (s *sizeValue) String() string { return Size(*s).String() }
func (s *sizeValue) Type() string   { return "size" }
func (s *sizeValue) Set(v string) error {
	n, err := ParseSize(v)
	if err != nil {
		return err
	}
	*s = sizeValue(n)
	return nil
}

// sizeListValue collects repeated --disk flags; "20G,20G" works too.
type sizeListValue []Size

func (l *sizeListValue) String() string {
	var parts []string
	for _, s := range *l {
		parts = append(parts, s.String())
	}
	return strings.Join(parts, ",")
}
func (l *sizeListValue) Type() string { return "size" }
func (l *sizeListValue) Set(v string) error {
	for p := range strings.SplitSeq(v, ",") {
		n, err := ParseSize(p)
		if err != nil {
			return err
		}
		*l = append(*l, n)
	}
	return nil
}

// forwardListValue collects repeated --forward flags; "8080:80,2222:22"
// works too.
type forwardListValue []PortForward

func (l *forwardListValue) String() string {
	var parts []string
	for _, p := range *l {
		parts = append(parts, p.String())
	}
	return strings.Join(parts, ",")
}
func (l *forwardListValue) Type() string { return "HOST:GUEST" }
func (l *forwardListValue) Set(v string) error {
	for p := range strings.SplitSeq(v, ",") {
		pf, err := ParsePortForward(p)
		if err != nil {
			return err
		}
		*l = append(*l, pf)
	}
	return nil
}
