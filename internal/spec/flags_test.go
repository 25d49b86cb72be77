package spec

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func parseFlags(t *testing.T, args ...string) (*Flags, error) {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	fs.SetOutput(new(strings.Builder))
	f := BindFlags(fs)
	return f, fs.Parse(args)
}

func TestFlagsOverrideFile(t *testing.T) {
	file := `name: lab
cpus: 8
memory: 4G
disks:
  - size: 40G
firmware: bios
swap: 1G
lvm: true
sshPort: 2200
portForwards: ["8080:80"]
release: "25.05"
extraConfig: "a = 1;"
`
	tests := []struct {
		name   string
		args   []string
		mutate func(want *Spec) // from the file's values
	}{
		{"no flags keep the file", nil, func(*Spec) {}},
		{"cpus only", []string{"--cpus", "4"}, func(w *Spec) { w.CPUs = 4 }},
		{"memory", []string{"--memory=1G"}, func(w *Spec) { w.Memory = GiB }},
		{"disks replace the list", []string{"--disk", "20G", "--disk", "30G"}, func(w *Spec) { w.Disks = []Disk{{20 * GiB}, {30 * GiB}} }},
		{"disks comma list", []string{"--disk", "20G,30G"}, func(w *Spec) { w.Disks = []Disk{{20 * GiB}, {30 * GiB}} }},
		{"forward replaces the list", []string{"--forward", "2000:20", "--forward", "3000:30/tcp"}, func(w *Spec) {
			w.PortForwards = []PortForward{{2000, 20, "tcp"}, {3000, 30, "tcp"}}
		}},
		{"lvm=false overrides true", []string{"--lvm=false"}, func(w *Spec) { w.LVM = false }},
		{"enums", []string{"--arch", "aarch64", "--firmware", "uefi", "--partition-table", "mbr", "--raid", "raid1", "--filesystem", "ext4", "--desktop", "dwm", "--display", "sdl"}, func(w *Spec) {
			w.Arch, w.Firmware, w.PartitionTable, w.RAID, w.Filesystem, w.Desktop, w.Display = "aarch64", "uefi", "mbr", "raid1", "ext4", "dwm", "sdl"
		}},
		{"keymap", []string{"--keymap", "de"}, func(w *Spec) { w.Keymap = "de" }},
		{"swap and ports", []string{"--swap", "2G", "--ssh-port", "2222"}, func(w *Spec) { w.Swap, w.SSHPort = 2*GiB, 2222 }},
		{"zero values set explicitly", []string{"--swap", "0", "--ssh-port", "0"}, func(w *Spec) { w.Swap, w.SSHPort = 0, 0 }},
		{"strings", []string{"--release", "unstable", "--iso", "https://x/y.iso", "--sha256", sha, "--extra-config", "b = 2;"}, func(w *Spec) {
			w.Release, w.ISO, w.ISOSHA256, w.ExtraConfig = "unstable", "https://x/y.iso", sha, "b = 2;"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(file))
			if err != nil {
				t.Fatal(err)
			}
			want, _ := Parse([]byte(file))
			tt.mutate(want)
			f, err := parseFlags(t, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Apply(got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("Apply:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

// Flags go on before defaults, so --raid raid1 alone gets two default disks.
func TestFlagsThenDefaults(t *testing.T) {
	f, err := parseFlags(t, "--raid", "raid1")
	if err != nil {
		t.Fatal(err)
	}
	s := &Spec{Name: "demo"}
	if err := f.Apply(s); err != nil {
		t.Fatal(err)
	}
	s.ApplyDefaults()
	if err := s.Validate(); err != nil || len(s.Disks) != 2 {
		t.Fatalf("after --raid raid1: disks %v, Validate %v; want two disks and no error", s.Disks, err)
	}
}

func TestFlagExtraConfigFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "extra.nix")
	if err := os.WriteFile(path, []byte("services.nginx.enable = true;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := parseFlags(t, "--extra-config-file", path)
	if err != nil {
		t.Fatal(err)
	}
	s := &Spec{ExtraConfig: "old"}
	if err := f.Apply(s); err != nil || s.ExtraConfig != "services.nginx.enable = true;\n" {
		t.Fatalf("Apply = %v, extraConfig %q", err, s.ExtraConfig)
	}

	f, _ = parseFlags(t, "--extra-config-file", filepath.Join(t.TempDir(), "missing.nix"))
	if err := f.Apply(&Spec{}); err == nil || !strings.HasPrefix(err.Error(), "--extra-config-file: ") {
		t.Fatalf("Apply(missing file) = %v, want an error naming --extra-config-file", err)
	}

	f, _ = parseFlags(t, "--extra-config-file", path, "--extra-config", "x")
	if err := f.Apply(&Spec{}); err == nil || !strings.Contains(err.Error(), "--extra-config and --extra-config-file") {
		t.Fatalf("Apply(both) = %v, want an error naming both flags", err)
	}
}

func TestFlagErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--memory", "2X"}, `--memory: invalid size "2X" (use a whole number with an optional unit: 512M, 20G, 20GiB)`},
		{[]string{"--swap", "-1G"}, `--swap: invalid size "-1G"`},
		{[]string{"--disk", "20G", "--disk", "1.5G"}, `--disk: invalid size "1.5G"`},
		{[]string{"--cpus", "many"}, `--cpus: "many" is not a whole number`},
		{[]string{"--cpus", "0"}, `--cpus: 0 is out of range (use 1 to 256)`},
		{[]string{"--cpus", "-1"}, `--cpus: -1 is out of range (use 1 to 256)`},
		{[]string{"--cpus", "257"}, `--cpus: 257 is out of range (use 1 to 256)`},
		{[]string{"--memory", "0"}, `--memory: 0 is too small (use at least 256M`},
		{[]string{"--network-timeout", "1s"}, `--network-timeout: 1s is out of range (use 10s to 1h0m0s)`},
		{[]string{"--network-timeout", "0"}, `--network-timeout: 0s is out of range`},
		{[]string{"--ssh-port", "x"}, `--ssh-port: "x" is not a whole number`},
		{[]string{"--forward", "8080"}, `--forward: invalid port forward "8080" (use HOST:GUEST, e.g. 8080:80)`},
		{[]string{"--firmware", "efi"}, `--firmware: "efi" is not valid (use uefi or bios)`},
		{[]string{"--arch", "arm64"}, `--arch: "arm64" is not valid (use x86_64 or aarch64)`},
		{[]string{"--partition-table", "dos"}, `--partition-table: "dos" is not valid (use gpt or mbr)`},
		{[]string{"--raid", "5"}, `--raid: "5" is not valid (use none or raid1)`},
		{[]string{"--filesystem", "zfs"}, `--filesystem: "zfs" is not valid (use ext4)`},
		{[]string{"--desktop", "kde"}, `--desktop: "kde" is not valid (use none, i3 or dwm)`},
		{[]string{"--display", "qxl"}, `--display: "qxl" is not valid (use auto, none, gtk, sdl, spice or vnc)`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			f, err := parseFlags(t, tt.args...)
			if err == nil {
				// Values that parse but are out of range fail in Apply.
				err = f.Apply(&Spec{})
			}
			if err == nil {
				t.Fatalf("parse %v succeeded, want %q", tt.args, tt.want)
			}
			if got := FlagError(err).Error(); !strings.HasPrefix(got, tt.want) {
				t.Fatalf("FlagError:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

// Every spec field except name (the command's argument) and version (the
// file format's, not the VM's) has a flag with help text.
func TestFlagsCoverSpec(t *testing.T) {
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	BindFlags(fs)
	for _, name := range []string{"arch", "cpus", "memory", "disk", "firmware", "partition-table", "swap", "lvm", "raid",
		"filesystem", "desktop", "display", "forward", "ssh-port", "release", "iso", "sha256", "extra-config", "extra-config-file",
		"substituter", "trusted-public-key", "network-timeout", "keymap"} {
		f := fs.Lookup(name)
		if f == nil || f.Usage == "" {
			t.Errorf("flag --%s missing or without help", name)
		}
	}
	if n := len(yamlFields(reflect.TypeFor[Spec]())); n != 24 {
		t.Errorf("Spec has %d fields; add a flag for the new one and update this test", n)
	}
}
