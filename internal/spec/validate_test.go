package spec

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// validSpec is a fully defaulted spec that passes Validate; each case below
// changes one thing.
func validSpec() *Spec {
	s := &Spec{Name: "demo"}
	s.ApplyDefaults()
	return s
}

const sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(s *Spec)
		// want is "" for a valid spec, else the exact error (when it starts
		// with the field and a colon) or a prefix naming the field.
		want string
	}{
		{"defaults", func(s *Spec) {}, ""},

		// name
		{"name digits and dashes", func(s *Spec) { s.Name = "0-lab-1" }, ""},
		{"name 63 chars", func(s *Spec) { s.Name = strings.Repeat("a", 63) }, ""},
		{"name upper case", func(s *Spec) { s.Name = "Foo" }, `name: "Foo" is not a valid VM name (it becomes the NixOS host name: use 1-63 of a-z, 0-9 and -, starting and ending with a letter or digit)`},
		{"name empty", func(s *Spec) { s.Name = "" }, `name: is required (it becomes the NixOS host name: use 1-63 of a-z, 0-9 and -, starting and ending with a letter or digit)`},
		{"name leading dash", func(s *Spec) { s.Name = "-a" }, `name: "-a" is not a valid VM name`},
		{"name 64 chars", func(s *Spec) { s.Name = strings.Repeat("a", 64) }, `name: "aaaa`},
		{"name underscore", func(s *Spec) { s.Name = "a_b" }, `name: "a_b"`},
		{"name slash", func(s *Spec) { s.Name = "../x" }, `name: "../x"`},
		{"name trailing dash", func(s *Spec) { s.Name = "lab-" }, `name: "lab-" is not a valid VM name (it becomes the NixOS host name`},
		{"name one char", func(s *Spec) { s.Name = "a" }, ""},

		// substituters, keys, network timeout
		{"substituter loopback cache", func(s *Spec) { s.Substituters = []string{"http://10.0.2.2:8080"} }, ""},
		{"substituter two", func(s *Spec) {
			s.Substituters = []string{"https://cache.nixos.org", "https://nix-community.cachix.org"}
		}, ""},
		{"substituter no scheme", func(s *Spec) { s.Substituters = []string{"cache.nixos.org"} }, `substituters[0]: "cache.nixos.org" is not a binary cache URL (use http:// or https:// and a host`},
		{"substituter file", func(s *Spec) { s.Substituters = []string{"file:///nix/store"} }, `substituters[0]: "file:///nix/store" is not a binary cache URL`},
		{"substituter space", func(s *Spec) { s.Substituters = []string{"https://a b"} }, `substituters[0]:`},
		{"trusted key bad", func(s *Spec) { s.TrustedPublicKeys = []string{"cache.nixos.org-1"} }, `trustedPublicKeys[0]: "cache.nixos.org-1" is not a Nix public key (use NAME:BASE64`},
		{"network timeout small", func(s *Spec) { s.NetworkTimeout = time.Second }, `networkTimeout: 1s is out of range (use 10s to 1h0m0s)`},
		{"network timeout large", func(s *Spec) { s.NetworkTimeout = 2 * time.Hour }, `networkTimeout: 2h0m0s is out of range`},

		// enums
		{"arch aarch64", func(s *Spec) { s.Arch = "aarch64" }, ""},
		{"arch bad", func(s *Spec) { s.Arch = "arm64" }, `arch: "arm64" is not valid (use x86_64 or aarch64)`},
		{"firmware bios", func(s *Spec) { s.Firmware = "bios" }, ""},
		{"firmware bad", func(s *Spec) { s.Firmware = "efi" }, `firmware: "efi" is not valid (use uefi or bios)`},
		{"aarch64 bios", func(s *Spec) { s.Arch, s.Firmware = "aarch64", "bios" }, `firmware: bios is not available on aarch64 (QEMU's virt machine boots UEFI only; use firmware: uefi)`},
		{"partitionTable mbr", func(s *Spec) { s.PartitionTable = "mbr" }, ""},
		{"partitionTable bad", func(s *Spec) { s.PartitionTable = "dos" }, `partitionTable: "dos" is not valid (use gpt or mbr)`},
		{"raid bad", func(s *Spec) { s.RAID = "raid0" }, `raid: "raid0" is not valid (use none or raid1)`},
		{"filesystem bad", func(s *Spec) { s.Filesystem = "btrfs" }, `filesystem: "btrfs" is not valid (use ext4)`},
		{"desktop i3", func(s *Spec) { s.Desktop = "i3" }, ""},
		{"desktop dwm", func(s *Spec) { s.Desktop = "dwm" }, ""},
		{"desktop bad", func(s *Spec) { s.Desktop = "gnome" }, `desktop: "gnome" is not valid (use none, i3 or dwm)`},
		{"display vnc", func(s *Spec) { s.Display = "vnc" }, ""},
		{"display bad", func(s *Spec) { s.Display = "qxl" }, `display: "qxl" is not valid (use auto, none, gtk, sdl, spice or vnc)`},
		{"display spice", func(s *Spec) { s.Display = "spice" }, ""},
		{"keymap de", func(s *Spec) { s.Desktop, s.Keymap = "i3", "de" }, ""},
		{"keymap two layouts", func(s *Spec) { s.Keymap = "us,de" }, ""},
		{"keymap upper case", func(s *Spec) { s.Keymap = "US" }, `keymap: "US" is not an XKB layout name (use lower-case names such as us, de, fr or gb; up to four as us,de)`},
		{"keymap with a quote", func(s *Spec) { s.Keymap = `us";` }, `keymap: "us\";" is not an XKB layout name (use lower-case names such as us, de, fr or gb; up to four as us,de)`},
		{"desktop without display is fine", func(s *Spec) { s.Desktop, s.Display = "i3", "none" }, ""},
		{"empty enum (no defaults)", func(s *Spec) { s.Firmware = "" }, `firmware: "" is not valid`},

		// cpus, memory
		{"cpus 1", func(s *Spec) { s.CPUs = 1 }, ""},
		{"cpus 256", func(s *Spec) { s.CPUs = 256 }, ""},
		{"cpus 0", func(s *Spec) { s.CPUs = 0 }, `cpus: 0 is out of range (use 1 to 256)`},
		{"cpus 257", func(s *Spec) { s.CPUs = 257 }, `cpus: 257 is out of range (use 1 to 256)`},
		{"cpus negative", func(s *Spec) { s.CPUs = -1 }, `cpus: -1`},
		{"memory 256M", func(s *Spec) { s.Memory = 256 * MiB }, ""},
		{"memory 1T", func(s *Spec) { s.Memory = TiB }, ""},
		{"memory 255M", func(s *Spec) { s.Memory = 255 * MiB }, `memory: 255M is too small (use at least 256M)`},
		{"memory bytes hint", func(s *Spec) { s.Memory = 2048 }, `memory: 2K is too small (use at least 256M; a bare number is bytes, write e.g. 2048M)`},
		{"memory over 1T", func(s *Spec) { s.Memory = TiB + MiB }, `memory: 1048577M is too large (use at most 1T)`},

		// disks
		{"two disks, no raid: data disk", func(s *Spec) { s.Disks = []Disk{{20 * GiB}, {1 * GiB}} }, ""},
		{"no disks", func(s *Spec) { s.Disks = nil }, `disks: none given (use 1 or 2 disks)`},
		{"three disks", func(s *Spec) { s.Disks = []Disk{{GiB}, {GiB}, {GiB}} }, `disks: 3 given (use 1 or 2 disks)`},
		{"disk 1G bios", func(s *Spec) { s.Firmware, s.Disks = "bios", []Disk{{GiB}} }, ""},
		{"disk under 1G", func(s *Spec) { s.Disks = []Disk{{20 * GiB}, {1023 * MiB}} }, `disks[1].size: 1023M is too small (use at least 1G)`},
		{"disk zero", func(s *Spec) { s.Disks = []Disk{{0}} }, `disks[0].size: 0 is too small (use at least 1G)`},
		{"disk too small for ESP", func(s *Spec) { s.Disks = []Disk{{GiB}} }, `disks[0].size: 1G is too small for 1G root + 512M ESP (use at least 1536M)`},
		{"disk fits swap+root+ESP exactly", func(s *Spec) { s.Swap, s.Disks = GiB, []Disk{{2*GiB + 512*MiB}} }, ""},
		{"disk too small for swap", func(s *Spec) { s.Swap, s.Disks = GiB, []Disk{{2 * GiB}} }, `disks[0].size: 2G is too small for 1G swap + 1G root + 512M ESP (use at least 2560M)`},
		{"raid1 mirror checks both disks", func(s *Spec) {
			s.RAID, s.Swap, s.Disks = "raid1", 2*GiB, []Disk{{20 * GiB}, {2 * GiB}}
		}, `swap: 2G is not smaller than disk 1 (2G); use less swap or a bigger disk`},
		{"data disk need not fit swap", func(s *Spec) { s.Swap, s.Disks = 4*GiB, []Disk{{20 * GiB}, {GiB}} }, ""},

		// raid
		{"raid1 two disks", func(s *Spec) { s.RAID, s.Disks = "raid1", []Disk{{20 * GiB}, {20 * GiB}} }, ""},
		{"raid1 one disk", func(s *Spec) { s.RAID = "raid1" }, `raid: raid1 needs exactly two disks, got 1 (add a second disk or use raid none)`},
		{"lvm on raid1", func(s *Spec) { s.LVM, s.RAID, s.Disks = true, "raid1", []Disk{{20 * GiB}, {20 * GiB}} }, ""},
		{"lvm", func(s *Spec) { s.LVM = true }, ""},

		// mbr
		{"mbr 2T", func(s *Spec) { s.PartitionTable, s.Disks = "mbr", []Disk{{2 * TiB}} }, ""},
		{"mbr 3T", func(s *Spec) { s.PartitionTable, s.Disks = "mbr", []Disk{{3 * TiB}} }, `partitionTable: mbr cannot address disks over 2 TiB (disk 0 is 3T); use gpt`},
		{"mbr second disk", func(s *Spec) { s.PartitionTable, s.Disks = "mbr", []Disk{{20 * GiB}, {3 * TiB}} }, `partitionTable: mbr cannot address disks over 2 TiB (disk 1 is 3T); use gpt`},
		{"gpt 3T", func(s *Spec) { s.Disks = []Disk{{3 * TiB}} }, ""},

		// swap
		{"swap 0", func(s *Spec) { s.Swap = 0 }, ""},
		{"swap 2G", func(s *Spec) { s.Swap = 2 * GiB }, ""},
		{"swap negative", func(s *Spec) { s.Swap = -GiB }, `swap: -1G is negative (use 0 for no swap, or a size like 2G)`},
		{"swap equals disk", func(s *Spec) { s.Swap = 20 * GiB }, `swap: 20G is not smaller than disk 0 (20G); use less swap or a bigger disk`},

		// ports
		{"forwards", func(s *Spec) { s.PortForwards = []PortForward{{8080, 80, "tcp"}, {65535, 1, "tcp"}} }, ""},
		{"forward empty proto means tcp", func(s *Spec) { s.PortForwards = []PortForward{{8080, 80, ""}} }, ""},
		{"forward host 0", func(s *Spec) { s.PortForwards = []PortForward{{0, 80, "tcp"}} }, `portForwards[0]: host port 0 is out of range (use 1 to 65535)`},
		{"forward guest 65536", func(s *Spec) { s.PortForwards = []PortForward{{8080, 65536, "tcp"}} }, `portForwards[0]: guest port 65536 is out of range (use 1 to 65535)`},
		{"forward udp", func(s *Spec) { s.PortForwards = []PortForward{{53, 53, "udp"}} }, `portForwards[0]: protocol "udp" is not supported (use tcp)`},
		{"forward duplicate host", func(s *Spec) {
			s.PortForwards = []PortForward{{8080, 80, "tcp"}, {8081, 81, "tcp"}, {8080, 82, "tcp"}}
		}, `portForwards[2]: host port 8080 is already forwarded by portForwards[0] (use another host port)`},
		{"forward same guest twice is fine", func(s *Spec) { s.PortForwards = []PortForward{{8080, 80, "tcp"}, {8081, 80, "tcp"}} }, ""},
		{"forward on sshPort", func(s *Spec) { s.SSHPort, s.PortForwards = 2222, []PortForward{{2222, 22, "tcp"}} }, `portForwards[0]: host port 2222 is the sshPort (use another host port)`},
		{"sshPort 0", func(s *Spec) { s.SSHPort = 0 }, ""},
		{"sshPort 65535", func(s *Spec) { s.SSHPort = 65535 }, ""},
		{"sshPort 65536", func(s *Spec) { s.SSHPort = 65536 }, `sshPort: 65536 is out of range (use 0 to pick a free port, or 1 to 65535)`},
		{"sshPort negative", func(s *Spec) { s.SSHPort = -1 }, `sshPort: -1`},

		// release
		{"release unstable", func(s *Spec) { s.Release = "unstable" }, ""},
		{"release 25.11", func(s *Spec) { s.Release = "25.11" }, ""},
		{"release 20.05", func(s *Spec) { s.Release = "20.05" }, ""},
		{"release 19.11", func(s *Spec) { s.Release = "19.11" }, `release: "19.11" is too old (use stable, unstable or a release like 25.11: YY.05 or YY.11 with YY >= 20)`},
		{"release 25.04", func(s *Spec) { s.Release = "25.04" }, `release: "25.04" is not valid (use stable, unstable or a release like 25.11: YY.05 or YY.11 with YY >= 20)`},
		{"release 25.11.1", func(s *Spec) { s.Release = "25.11.1" }, `release: "25.11.1" is not valid`},
		{"release channel name", func(s *Spec) { s.Release = "nixos-25.11" }, `release: "nixos-25.11" is not valid`},
		{"release empty", func(s *Spec) { s.Release = "" }, `release: "" is not valid`},

		// iso
		{"iso local path", func(s *Spec) { s.ISO = "/tmp/nixos.iso" }, ""},
		{"iso url with sha", func(s *Spec) { s.ISO, s.ISOSHA256 = "https://example.org/x.iso", sha }, ""},
		{"iso url without sha", func(s *Spec) { s.ISO = "https://example.org/x.iso" }, `isoSha256: is required when iso is a URL (use the 64 hex digits published at https://example.org/x.iso.sha256)`},
		{"iso http url without sha", func(s *Spec) { s.ISO = "http://example.org/x.iso" }, `isoSha256: is required`},
		{"sha short", func(s *Spec) { s.ISOSHA256 = "abc" }, `isoSha256: "abc" is not a SHA-256 (use 64 hex digits)`},
		{"sha not hex", func(s *Spec) { s.ISOSHA256 = strings.Repeat("g", 64) }, `isoSha256: "gggg`},
		{"sha upper case accepted", func(s *Spec) { s.ISOSHA256 = strings.ToUpper(sha) }, ""},

		// extraConfig
		{"extraConfig", func(s *Spec) { s.ExtraConfig = "services.nginx.enable = true;\n" }, ""},
		{"extraConfig NUL", func(s *Spec) { s.ExtraConfig = "a\x00b" }, `extraConfig: contains a NUL byte at offset 1 (use plain Nix text)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validSpec()
			tt.mutate(s)
			err := s.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want %q", tt.want)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("Validate():\n got %s\nwant %s", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
		})
	}
}

// Validate reports the first problem only, in field order.
func TestValidateFirstProblem(t *testing.T) {
	s := validSpec()
	s.Name, s.CPUs, s.Release = "Bad", 0, "x"
	if err := s.Validate(); err == nil || !strings.HasPrefix(err.Error(), "name:") {
		t.Fatalf("Validate() = %v, want the name problem first", err)
	}
}

func TestValidateInstall(t *testing.T) {
	s := validSpec()
	if err := s.ValidateInstall(); err != nil {
		t.Fatalf("ValidateInstall() of the default spec = %v", err)
	}
	s.Memory = 1536 * MiB
	want := "memory: 1536M is too small for an unattended install (use at least 2G"
	var me *InstallMemoryError
	if err := s.ValidateInstall(); !errors.As(err, &me) || !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "--") {
		t.Fatalf("ValidateInstall() = %v, want an InstallMemoryError %q (no flag: the CLI names --manual)", err, want)
	}
	if err := s.Validate(); err != nil {
		t.Fatalf("Validate() of a 1536M VM = %v; only installs need 2G", err)
	}
}
