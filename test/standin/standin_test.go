// Package standin tests the stand-in installer's strictness rules without
// booting anything: the configuration checker (scripts/standin/nixconf-dump
// --check with scripts/standin/nixos-options.tsv) and the mdadm wrapper run
// on the host. Each case is a mistake that real NixOS refuses, and must fail
// here with NixOS's wording (issue 10, item 6).
package standin

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var dir = filepath.Join("..", "..", "scripts", "standin")

// check runs the checker on a configuration.nix (plus files it imports) for
// release and returns its stderr and whether it passed.
func check(t *testing.T, release string, files map[string]string) (string, bool) {
	t.Helper()
	perl, err := exec.LookPath("perl")
	if err != nil {
		t.Fatalf("perl is needed: %v", err)
	}
	d := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(d, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(perl, filepath.Join(dir, "nixconf-dump"), "--check", "--release", release,
		"--options", filepath.Join(dir, "nixos-options.tsv"), filepath.Join(d, "configuration.nix"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err = cmd.Run()
	return strings.ReplaceAll(stderr.String(), d+"/", ""), err == nil
}

// grub makes a configuration bootable, so that only the case's mistake fails.
const grub = `boot.loader.grub.device = "/dev/vda"; fileSystems."/" = { device = "/dev/vda1"; fsType = "ext4"; };`

func conf(body string) map[string]string {
	return map[string]string{"configuration.nix": "{ config, lib, pkgs, ... }:\n{\n" + grub + "\n" + body + "\n}\n"}
}

func TestCheckerRefuses(t *testing.T) {
	cases := []struct {
		name, release string
		files         map[string]string
		want          []string
	}{
		{"unknown option", "25.11", conf(`services.opensshd.enable = true;`),
			[]string{"error: The option `services.opensshd' does not exist. Definition values:", "- In `configuration.nix':"}},
		{"unknown sub-option", "25.11", conf(`services.openssh.enabled = true;`),
			[]string{"The option `services.openssh.enabled' does not exist. Definition values:", "- In `configuration.nix': true"}},
		{"host name ending in -", "25.11", conf(`networking.hostName = "lab-";`),
			[]string{"A definition for option `networking.hostName' is not of type `string matching the pattern ^$|^[[:alnum:]]([[:alnum:]_-]{0,61}[[:alnum:]])?$'. Definition values:",
				`- In ` + "`configuration.nix'" + `: "lab-"`}},
		{"host name with a dot", "25.11", conf(`networking.hostName = "lab.example.org";`),
			[]string{"A definition for option `networking.hostName' is not of type `string matching the pattern"}},
		{"bool as a string", "25.11", conf(`services.openssh.enable = "true";`),
			[]string{"A definition for option `services.openssh.enable' is not of type `boolean'."}},
		{"int as a string", "25.11", conf(`boot.loader.timeout = "1";`),
			[]string{"A definition for option `boot.loader.timeout' is not of type `null or signed integer'."}},
		{"string for a list", "25.11", conf(`boot.kernelParams = "console=ttyS0";`),
			[]string{"A definition for option `boot.kernelParams' is not of type `list of string"}},
		{"enum", "25.11", conf(`services.openssh.settings.PermitRootLogin = "nope";`),
			[]string{"is not of type `one of \"yes\", \"without-password\", \"prohibit-password\", \"forced-commands-only\", \"no\"'"}},
		{"port out of range", "25.11", conf(`networking.firewall.allowedTCPPorts = [ 70000 ];`),
			[]string{"A definition for option `networking.firewall.allowedTCPPorts' is not of type `list of (16 bit unsigned integer; between 0 and 65535 (both inclusive))'."}},
		{"unknown attribute in a list of submodules", "25.11", conf(`swapDevices = [ { devise = "/dev/vda2"; } ];`),
			[]string{"The option `swapDevices.[definition 1-entry 1].devise' does not exist."}},
		{"removed option", "25.11", conf(`sound.enable = true;`),
			[]string{"Failed assertions:", "- The option definition `sound' in `configuration.nix' no longer has any effect; please remove it.",
				"The option was heavily overloaded and can be removed from most configurations."}},
		{"renamed option", "25.11", conf(`services.xserver.displayManager.autoLogin.enable = true;`),
			[]string{"evaluation warning: The option `services.xserver.displayManager.autoLogin' defined in `configuration.nix' has been renamed to `services.displayManager.autoLogin'."}},
		{"renamed openssh option", "25.11", conf(`services.openssh.passwordAuthentication = false;`),
			[]string{"has been renamed to `services.openssh.settings.PasswordAuthentication'."}},
		{"grub.version", "25.11", conf(`boot.loader.grub.version = 2;`),
			[]string{"The boot.loader.grub.version option does not have any effect anymore"}},
		{"swraid too new for 23.05", "23.05", conf(`boot.swraid.enable = true;`),
			[]string{"The option `boot.swraid' does not exist."}},
		{"displayManager too new for 23.11", "23.11", conf(`services.displayManager.autoLogin.enable = true;`),
			[]string{"The option `services.displayManager' does not exist."}},
		{"openssh.settings too new for 22.11", "22.11", conf(`services.openssh.settings.PasswordAuthentication = false;`),
			[]string{"The option `services.openssh.settings' does not exist."}},
		{"conflicting definitions", "25.11", map[string]string{
			"configuration.nix": "{\n  imports = [ ./other.nix ];\n  " + grub + "\n  networking.hostName = \"a\";\n}\n",
			"other.nix":         "{ networking.hostName = \"b\"; }\n",
		}, []string{"The option `networking.hostName' has conflicting definition values:", "Use `lib.mkForce value` or `lib.mkDefault value`"}},
		{"missing import", "25.11", map[string]string{"configuration.nix": "{ imports = [ ./nixvm-extra.nix ]; }\n"},
			[]string{"error: path '", "nixvm-extra.nix' does not exist"}},
		{"grub without a device", "25.11", map[string]string{"configuration.nix": `{ networking.hostName = "a"; }`},
			[]string{"Failed assertions:", "You must set the option ‘boot.loader.grub.devices’ or 'boot.loader.grub.mirroredBoots' to make the system bootable."}},
		{"grub removable and canTouchEfiVariables", "25.11", map[string]string{"configuration.nix": `{
  boot.loader.grub.enable = true; boot.loader.grub.efiSupport = true; boot.loader.grub.device = "nodev";
  boot.loader.grub.efiInstallAsRemovable = true; boot.loader.efi.canTouchEfiVariables = true; }`},
			[]string{"If you wish to to use boot.loader.grub.efiInstallAsRemovable, then turn off boot.loader.efi.canTouchEfiVariables"}},
		{"grub removable without efiSupport", "25.11", conf(`boot.loader.grub.efiInstallAsRemovable = true;`),
			[]string{"If you wish to to use boot.loader.grub.efiInstallAsRemovable, then turn on boot.loader.grub.efiSupport"}},
		{"user neither normal nor system", "25.11", conf(`users.users.bob.extraGroups = [ "wheel" ];`),
			[]string{"Exactly one of users.users.bob.isSystemUser and users.users.bob.isNormalUser must be set."}},
		{"activation script that is no script", "25.11", conf(`system.activationScripts.x = 5;`),
			[]string{"A definition for option `system.activationScripts"}},
		{"activation script with an unknown field", "25.11", conf(`system.activationScripts.x.txt = "echo";`),
			[]string{"A definition for option `system.activationScripts"}},
		{"swraid without MAILADDR", "25.11", conf(`boot.swraid.enable = true; boot.swraid.mdadmConf = "ARRAY /dev/md/root UUID=1:2:3:4";`),
			[]string{"evaluation warning: mdadm: Neither MAILADDR nor PROGRAM has been set. This will cause the `mdmon` service to crash."}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, ok := check(t, c.release, c.files)
			if ok {
				t.Fatalf("passed on %s; want a failure with %q", c.release, c.want[0])
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

// TestCheckerAccepts: what NixOS accepts passes, including expressions the
// checker cannot evaluate where the option's type allows them, and the
// option ages at the edge of their release range.
func TestCheckerAccepts(t *testing.T) {
	cases := []struct {
		name, release string
		files         map[string]string
	}{
		{"packages and library calls", "25.11", conf(`environment.systemPackages = with pkgs; [ vim git ];
  users.users.bob = { isNormalUser = true; packages = [ pkgs.htop ]; };
  networking.hostName = lib.mkDefault "lab";
  services.xserver = { enable = true; xkb.layout = "de"; windowManager.i3.enable = true; excludePackages = [ pkgs.xterm ]; };
  services.displayManager.autoLogin = { enable = true; user = "bob"; };
  services.openssh.settings.Ciphers = [ "aes256-gcm@openssh.com" ];`)},
		{"GRUB EFI removable, nodev", "25.11", map[string]string{"configuration.nix": `{
  boot.loader.grub = { enable = true; efiSupport = true; device = "nodev"; efiInstallAsRemovable = true; extraConfig = "serial; terminal_output serial"; };
  boot.swraid = { enable = true; mdadmConf = ''
    MAILADDR root
    ARRAY /dev/md/root metadata=1.2 UUID=0:1:2:3 name=lab:root
  ''; };
  nix.settings.substituters = [ "http://10.0.2.2:8080" ]; nix.settings.trusted-public-keys = [ "k:1" ]; }`}},
		{"sound on 24.05", "24.05", conf(`sound.enable = true;`)},
		{"old openssh names on 22.11", "22.11", conf(`services.openssh.passwordAuthentication = false;`)},
		{"mkDefault loses to a plain definition", "25.11", map[string]string{
			"configuration.nix": "{ lib, ... }: {\n  imports = [ ./hw.nix ];\n  " + grub + "\n  networking.useDHCP = lib.mkDefault true;\n}\n",
			"hw.nix":            "{ networking.useDHCP = false; }\n",
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if out, ok := check(t, c.release, c.files); !ok {
				t.Errorf("refused on %s:\n%s", c.release, out)
			}
		})
	}
}

// mdadm runs the stand-in's mdadm wrapper with `echo` in place of the real
// mdadm, so the arguments it would pass show on stdout.
func mdadm(t *testing.T, stdin string, args ...string) (stdout, stderr string) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(dir, "mdadm-wrapper"))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(src), "real=/sbin/mdadm", "real=echo", 1)
	if s == string(src) {
		t.Fatal("mdadm-wrapper: no real=/sbin/mdadm line")
	}
	w := filepath.Join(t.TempDir(), "mdadm")
	if err := os.WriteFile(w, []byte(s), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", append([]string{w}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil {
		t.Fatalf("mdadm wrapper: %v: %s", err, e.String())
	}
	return o.String(), e.String()
}

// TestMdadmBitmapQuestion: like mdadm >= 4.3, --create of a mirror asks
// about a write-intent bitmap unless --bitmap or --run is given; no answer
// (end of input) means none.
func TestMdadmBitmapQuestion(t *testing.T) {
	const q = "To optimalize recovery speed, it is recommended to enable write-indent bitmap, do you want to enable it now? [y/N]? "
	create := []string{"--create", "/dev/md/root", "--level=1", "--raid-devices=2", "/dev/vda2", "/dev/vdb2"}

	out, errOut := mdadm(t, "", create...)
	if !strings.Contains(errOut, q) || !strings.HasSuffix(strings.TrimSpace(out), "--bitmap=none") {
		t.Errorf("no answer: want the question and no bitmap, got stdout %q stderr %q", out, errOut)
	}
	out, errOut = mdadm(t, "y\n", create...)
	if !strings.Contains(errOut, q) || !strings.HasSuffix(strings.TrimSpace(out), "--bitmap=internal") {
		t.Errorf("answer y: want an internal bitmap, got stdout %q stderr %q", out, errOut)
	}
	out, errOut = mdadm(t, "", append(create, "--run")...)
	if errOut != "" || !strings.HasSuffix(strings.TrimSpace(out), "--bitmap=none") {
		t.Errorf("--run: want no question and no bitmap, got stdout %q stderr %q", out, errOut)
	}
	out, errOut = mdadm(t, "", append(create, "--bitmap=internal", "--run")...)
	if errOut != "" || strings.Count(out, "--bitmap") != 1 {
		t.Errorf("--bitmap=internal --run: want it passed through, got stdout %q stderr %q", out, errOut)
	}
	out, errOut = mdadm(t, "", "--detail", "--scan")
	if errOut != "" || strings.TrimSpace(out) != "--detail --scan" {
		t.Errorf("other modes: want the arguments unchanged, got %q %q", out, errOut)
	}
}
