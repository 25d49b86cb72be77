package install

import (
	"bytes"
	"github.com/nixvm/nixvm/internal/golden"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nixvm/nixvm/internal/spec"
)

const testKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx0ZXN0a2V5dGVzdGtleXRlc3RrZXl0ZXN0a2V5 nixvm"

// requireTool skips when a tool is missing, unless CI demands the
// integration tests run (NIXVM_REQUIRE_INTEGRATION=1).
func requireTool(t testing.TB, name, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("NIXVM_REQUIRE_INTEGRATION") == "1" {
			t.Fatalf("%s is required (NIXVM_REQUIRE_INTEGRATION=1) but not found: %v", name, err)
		}
		t.Skipf("%s not installed (apt-get install %s): %v", name, pkg, err)
	}
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	golden.Check(t, filepath.Join("testdata", name), got)
}

// testSpec is a spec with defaults applied after mutate.
func testSpec(t testing.TB, mutate func(s *spec.Spec)) spec.Spec {
	t.Helper()
	s := spec.Spec{Name: "lab"}
	mutate(&s)
	s.ApplyDefaults()
	if err := s.Validate(); err != nil {
		t.Fatalf("test spec does not validate: %v", err)
	}
	return s
}

func inputs(s spec.Spec) Inputs {
	return Inputs{Spec: s, Release: "25.11", User: "nixos", AuthorizedKey: testKey, ArrayUUIDs: ArrayUUIDsFor(s.Name)}
}

// The matrix of issue 4: firmware x partition table x swap/LVM/RAID, the
// desktops and extraConfig.
var goldenCases = []struct {
	name   string
	mutate func(s *spec.Spec)
}{
	{"bios-mbr-swap", func(s *spec.Spec) { s.Firmware, s.PartitionTable, s.Swap = "bios", "mbr", 2*spec.GiB }},
	{"bios-gpt", func(s *spec.Spec) { s.Firmware, s.PartitionTable = "bios", "gpt" }},
	{"uefi-gpt-lvm-swap", func(s *spec.Spec) { s.LVM, s.Swap = true, 2*spec.GiB }},
	{"uefi-gpt-raid1", func(s *spec.Spec) { s.RAID = "raid1" }},
	{"uefi-gpt-raid1-lvm", func(s *spec.Spec) { s.RAID, s.LVM = "raid1", true }},
	{"bios-gpt-raid1", func(s *spec.Spec) { s.Firmware, s.RAID = "bios", "raid1" }},
	{"bios-mbr-raid1-swap", func(s *spec.Spec) {
		s.Firmware, s.PartitionTable, s.RAID, s.Swap = "bios", "mbr", "raid1", 1*spec.GiB
		s.Disks = []spec.Disk{{Size: 10 * spec.GiB}, {Size: 12 * spec.GiB}} // sized for the smaller disk
	}},
	{"uefi-mbr", func(s *spec.Spec) { s.PartitionTable = "mbr" }},
	// aarch64: the virt machine's PL011 console (ttyAMA0) for the kernel and,
	// on MBR, GRUB's EFI serial port.
	{"aarch64-uefi-gpt-swap", func(s *spec.Spec) { s.Arch, s.Swap = "aarch64", 1*spec.GiB }},
	{"aarch64-uefi-mbr", func(s *spec.Spec) { s.Arch, s.PartitionTable = "aarch64", "mbr" }},
	{"aarch64-uefi-gpt-raid1-lvm", func(s *spec.Spec) { s.Arch, s.RAID, s.LVM = "aarch64", "raid1", true }},
	{"desktop-i3", func(s *spec.Spec) { s.Desktop = "i3" }},
	{"desktop-dwm", func(s *spec.Spec) { s.Desktop, s.Firmware = "dwm", "bios" }},
	{"extraconfig", func(s *spec.Spec) {
		s.ExtraConfig = "services.nginx.enable = true;\nnetworking.firewall.allowedTCPPorts = [ 80 443 ];\n" +
			"environment.etc.\"motd\".text = ''\n  Welcome to ${config.networking.hostName} # not a comment\n'';"
	}},
	{"data-disk", func(s *spec.Spec) { s.Disks = []spec.Disk{{Size: 20 * spec.GiB}, {Size: 100 * spec.GiB}} }},
}

func TestGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Make(inputs(testSpec(t, tc.mutate)))
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, tc.name+".configuration.nix.golden", []byte(p.ConfigurationNix))
			checkGolden(t, tc.name+".nixvm-extra.nix.golden", []byte(p.ExtraNix))
			checkGolden(t, tc.name+".install.sh.golden", []byte(p.InstallScript))
			// The identity module is the same for every VM (a clone has
			// nothing of its base's to rewrite in it); the host name is the
			// VM's.
			checkGolden(t, "nixvm-identity.nix.golden", []byte(p.IdentityNix))
			if want := "{ networking.hostName = \"" + "lab" + "\"; }"; !strings.Contains(p.HostnameNix, want) {
				t.Errorf("nixvm-hostname.nix = %q, want it to hold %s", p.HostnameNix, want)
			}
		})
	}
}

// Every generated Nix file parses, so a syntax error cannot be found only
// at the end of an install.
func TestNixParses(t *testing.T) {
	requireTool(t, "nix-instantiate", "nix-bin")
	dir := t.TempDir()
	for _, tc := range goldenCases {
		p, err := Make(inputs(testSpec(t, tc.mutate)))
		if err != nil {
			t.Fatal(err)
		}
		for name, text := range map[string]string{"configuration.nix": p.ConfigurationNix, "nixvm-extra.nix": p.ExtraNix} {
			path := filepath.Join(dir, tc.name+"."+name)
			if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command("nix-instantiate", "--parse", path).CombinedOutput(); err != nil {
				t.Errorf("%s: %s does not parse: %v\n%s\n%s", tc.name, name, err, out, text)
			}
		}
	}
}

// The values nixvm interpolates reach Nix unchanged, however they are
// written: evaluate configuration.nix and read them back.
func TestNixValuesRoundTrip(t *testing.T) {
	requireTool(t, "nix-instantiate", "nix-bin")
	keys := []string{
		testKey,
		`ssh-ed25519 AAAA "quoted" back\slash ${interp} $${double} $ end$`,
		"ssh-ed25519 AAAA tab\there ''indented'' 'single' \u00e9t\u00e9",
	}
	dir := t.TempDir()
	for i, key := range keys {
		in := inputs(testSpec(t, func(*spec.Spec) {}))
		in.AuthorizedKey = key
		in.StateVersionComment = "a comment\n${not nix}"
		p, err := Make(in)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "configuration.nix")
		hostPath := filepath.Join(dir, SeedHostname)
		if err := os.WriteFile(path, []byte(p.ConfigurationNix), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(hostPath, []byte(p.HostnameNix), 0o644); err != nil {
			t.Fatal(err)
		}
		expr := `let c = import ` + path + ` { config = {}; lib = { mkDefault = x: x; }; pkgs = {}; }; h = import ` + hostPath + `; in ` +
			`builtins.head c.users.users.nixos.openssh.authorizedKeys.keys + "|" + h.networking.hostName + "|" + c.system.stateVersion`
		out, err := exec.Command("nix-instantiate", "--eval", "--strict", "--json", "-E", expr).Output()
		if err != nil {
			t.Fatalf("key %d: evaluate configuration.nix: %v\n%s", i, err, p.ConfigurationNix)
		}
		want := jsonString(key + "|lab|25.11")
		if string(bytes.TrimSpace(out)) != want {
			t.Errorf("key %d: got %s, want %s", i, out, want)
		}
	}
}

// jsonString is how nix-instantiate --json prints a string (no escaping of
// non-ASCII, unlike encoding/json's HTML-safe mode).
func jsonString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\t", `\t`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

func TestScriptsParse(t *testing.T) {
	requireTool(t, "bash", "bash")
	dir := t.TempDir()
	_, err := exec.LookPath("shellcheck")
	haveShellcheck := err == nil
	for _, tc := range goldenCases {
		p, err := Make(inputs(testSpec(t, tc.mutate)))
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, tc.name+".sh")
		if err := os.WriteFile(path, []byte(p.InstallScript), 0o755); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("bash", "-n", path).CombinedOutput(); err != nil {
			t.Errorf("%s: bash -n: %v\n%s", tc.name, err, out)
		}
		if haveShellcheck {
			if out, err := exec.Command("shellcheck", "-s", "bash", path).CombinedOutput(); err != nil {
				t.Errorf("%s: shellcheck: %v\n%s", tc.name, err, out)
			}
		}
	}
	if !haveShellcheck {
		t.Log("shellcheck not installed: only bash -n was run")
	}
}

// The script's form matters to the driver and to the installer's tools.
func TestScriptContract(t *testing.T) {
	for _, tc := range goldenCases {
		p, err := Make(inputs(testSpec(t, tc.mutate)))
		if err != nil {
			t.Fatal(err)
		}
		sc := p.InstallScript
		// Phases in order, each announced once.
		last := -1
		for _, ph := range []string{"partitioning", "formatting", "configuring", "installing", "done"} {
			marker := "\nenter \"" + ph + "\"\n"
			i := strings.Index(sc, marker)
			if i < 0 || i < last || strings.Count(sc, marker) != 1 {
				t.Errorf("%s: phase %s missing, repeated or out of order", tc.name, ph)
			}
			last = i
		}
		// swapon comes before nixos-generate-config.
		if i := strings.Index(sc, "\nswapon "); i >= 0 && i > strings.Index(sc, "\nnixos-generate-config ") {
			t.Errorf("%s: swapon after nixos-generate-config", tc.name)
		}
		// Only the installer's tools (nixos-facts.md), coreutils and bash.
		for _, cmd := range scriptCommands(sc) {
			if !scriptTools[cmd] {
				t.Errorf("%s: the script runs %q, which is not a tool of the installer ISO, coreutils or bash", tc.name, cmd)
			}
		}
		for _, word := range []string{MarkerPhase, MarkerFailed} {
			if !strings.Contains(sc, word) {
				t.Errorf("%s: no %s in the script", tc.name, word)
			}
		}
	}
}

func TestBootCommand(t *testing.T) {
	c := BootCommand()
	if len(c) >= 200 {
		t.Errorf("BootCommand is %d bytes, want < 200: %s", len(c), c)
	}
	for _, word := range []string{MarkerPhase, MarkerFailed, "\n"} {
		if strings.Contains(c, word) {
			t.Errorf("BootCommand contains %q: %s", word, c)
		}
	}
	for _, want := range []string{"/dev/disk/by-label/" + SeedLabel, "mount -r", "udevadm settle", seedMount, "/install.sh", "sudo"} {
		if !strings.Contains(c, want) {
			t.Errorf("BootCommand lacks %q: %s", want, c)
		}
	}
	requireTool(t, "bash", "bash")
	if out, err := exec.Command("bash", "-n", "-c", c).CombinedOutput(); err != nil {
		t.Errorf("bash -n: %v\n%s", err, out)
	}
}

func TestConfigurationOptions(t *testing.T) {
	// The option lines a test installer reads with grep, exactly.
	tests := []struct {
		name       string
		mutate     func(s *spec.Spec)
		want, not  []string
		partitions int
	}{
		{"bios one disk", func(s *spec.Spec) { s.Firmware = "bios" },
			[]string{`  boot.loader.grub.enable = true;`, `  boot.loader.grub.device = "/dev/vda";`},
			[]string{"systemd-boot", "grub.devices", "swraid", "lvm", "xserver"}, 2},
		{"bios raid1", func(s *spec.Spec) { s.Firmware, s.RAID = "bios", "raid1" },
			[]string{`  boot.loader.grub.devices = [ "/dev/vda" "/dev/vdb" ];`, `  boot.swraid.enable = true;`, `  boot.swraid.mdadmConf = ''`, `    MAILADDR root`,
				`    ARRAY /dev/md/root metadata=1.2 UUID=` + ArrayUUIDsFor("lab").Root + ` name=lab:root`},
			[]string{"grub.device =", "systemd-boot", "/dev/md/swap"}, 2},
		{"bios raid1 swap", func(s *spec.Spec) { s.Firmware, s.RAID, s.Swap = "bios", "raid1", spec.GiB },
			[]string{`    ARRAY /dev/md/root metadata=1.2 UUID=` + ArrayUUIDsFor("lab").Root + ` name=lab:root`,
				`    ARRAY /dev/md/swap metadata=1.2 UUID=` + ArrayUUIDsFor("lab").Swap + ` name=lab:swap`},
			nil, 3},
		{"uefi gpt: systemd-boot", func(s *spec.Spec) {},
			[]string{`  boot.loader.systemd-boot.enable = true;`, `  boot.loader.efi.canTouchEfiVariables = true;`},
			[]string{"grub"}, 2},
		// bootctl refuses an ESP on MBR: GRUB in EFI mode, removable path,
		// and not canTouchEfiVariables too (NixOS asserts one of them).
		{"uefi mbr: grub efi", func(s *spec.Spec) { s.PartitionTable = "mbr" },
			[]string{`  boot.loader.grub.enable = true;`, `  boot.loader.grub.efiSupport = true;`, `  boot.loader.grub.device = "nodev";`,
				`  boot.loader.grub.efiInstallAsRemovable = true;`},
			[]string{"boot.loader.systemd-boot", "canTouchEfiVariables", "/dev/vda\""}, 2},
		{"uefi lvm", func(s *spec.Spec) { s.LVM = true },
			[]string{`  boot.loader.systemd-boot.enable = true;`, `  boot.loader.efi.canTouchEfiVariables = true;`, `  boot.initrd.services.lvm.enable = true;`},
			[]string{"grub", "swraid"}, 2},
		{"dwm", func(s *spec.Spec) { s.Desktop = "dwm" },
			[]string{`  services.xserver.enable = true;`, `  services.xserver.windowManager.dwm.enable = true;`,
				`  services.spice-vdagentd.enable = true;`, `  services.xserver.displayManager.sessionCommands = ''`, `    spice-vdagent`}, []string{"i3"}, 2},
		{"i3", func(s *spec.Spec) { s.Desktop = "i3" },
			[]string{`  services.xserver.windowManager.i3.enable = true;`,
				`  services.spice-vdagentd.enable = true;`, `  services.xserver.displayManager.sessionCommands = ''`, `    spice-vdagent`}, []string{"dwm", "i3-gaps"}, 2},
		{"bios mbr no swap", func(s *spec.Spec) { s.Firmware, s.PartitionTable = "bios", "mbr" }, nil, nil, 1},
	}
	common := []string{
		`  imports = [ ./hardware-configuration.nix ./nixvm-extra.nix ./nixvm-identity.nix ./nixvm-hostname.nix ];`,
		`  boot.loader.timeout = 1;`,
		`  boot.kernelParams = [ "console=tty0" "console=ttyS0,115200n8" ];`,
		`  networking.useDHCP = lib.mkDefault true;`,
		`  services.qemuGuest.enable = true;`,
		`  nix.settings.substituters = [ "https://cache.nixos.org" ];`,
		`  nix.settings.trusted-public-keys = [ "` + spec.DefaultTrustedPublicKey + `" ];`,
		`  services.openssh.enable = true;`,
		`  services.openssh.settings.PasswordAuthentication = false;`,
		`  services.openssh.settings.KbdInteractiveAuthentication = false;`,
		`  services.openssh.settings.PermitRootLogin = "no";`,
		`  services.openssh.hostKeys = [ { path = "/etc/ssh/ssh_host_ed25519_key"; type = "ed25519"; } ];`,
		`  users.users.nixos.isNormalUser = true;`,
		`  users.users.nixos.extraGroups = [ "wheel" ];`,
		`  users.users.nixos.openssh.authorizedKeys.keys = [ "` + testKey + `" ];`,
		`  security.sudo.wheelNeedsPassword = false;`,
		`  system.stateVersion = "25.11";`,
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Make(inputs(testSpec(t, tt.mutate)))
			if err != nil {
				t.Fatal(err)
			}
			lines := map[string]bool{}
			for _, l := range strings.Split(p.ConfigurationNix, "\n") {
				lines[l] = true
			}
			for _, w := range append(append([]string{}, common...), tt.want...) {
				if !lines[w] {
					t.Errorf("configuration.nix lacks the line %q:\n%s", w, p.ConfigurationNix)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(p.ConfigurationNix, n) {
					t.Errorf("configuration.nix mentions %q:\n%s", n, p.ConfigurationNix)
				}
			}
			if len(p.Partitions) != tt.partitions {
				t.Errorf("%d partitions, want %d: %v", len(p.Partitions), tt.partitions, p.Partitions)
			}
			if !regexp.MustCompile(`(?m)^# .*generated by nixvm`).MatchString(p.ConfigurationNix) {
				t.Errorf("configuration.nix has no header saying nixvm generated it")
			}
		})
	}
}

var scriptTools = map[string]bool{}

func init() {
	for _, c := range strings.Fields(`
		sgdisk sfdisk wipefs mkswap swapon swapoff mkfs.ext4 mkfs.fat mount umount udevadm
		mdadm pvcreate vgcreate lvcreate vgchange nixos-generate-config nixos-install poweroff
		install mkdir sync sleep readlink dirname ip grep curl until network_down
		set shopt exec trap local printf echo exit return break for if then fi done do [ } !
		enter wait_for failed`) {
		scriptTools[c] = true
	}
}

// scriptCommands lists the first word of each command line of a script,
// skipping comments, assignments, here-document bodies and function heads.
func scriptCommands(script string) []string {
	var cmds []string
	heredoc := ""
	assign := regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)
	for _, l := range strings.Split(script, "\n") {
		l = strings.TrimSpace(l)
		if heredoc != "" {
			if l == heredoc {
				heredoc = ""
			}
			continue
		}
		if m := regexp.MustCompile(`<<'(\w+)'$`).FindStringSubmatch(l); m != nil {
			heredoc = m[1]
		}
		f := strings.Fields(l)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") || strings.HasSuffix(f[0], "()") || assign.MatchString(f[0]) {
			continue
		}
		cmds = append(cmds, f[0])
	}
	return cmds
}
