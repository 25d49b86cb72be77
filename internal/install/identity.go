package install

import (
	"strings"

	"github.com/nixvm/nixvm/internal/qemu"
)

// Names of the identity modules on the seed and in /etc/nixos.
const (
	SeedIdentity = "nixvm-identity.nix"
	SeedHostname = "nixvm-hostname.nix"
)

// fwCfgDir is where the guest kernel's qemu_fw_cfg driver shows nixvm's
// fw_cfg files (qemu.FWCfgPrefix), each as DIR/NAME/raw.
const fwCfgDir = "/sys/firmware/qemu_fw_cfg/by_name/" + qemu.FWCfgPrefix

// identityNix is the module that makes a VM take the identity nixvm hands
// it (qemu.Identity): the host name, machine-id and SSH host key in fw_cfg.
// It is an activation snippet, not a systemd unit, because NixOS runs the
// activation script in stage 2 before it starts systemd: systemd then reads
// the new /etc/machine-id and /etc/hostname, and sshd the new host key,
// from the clone's first boot on. Booted without nixvm (no fw_cfg files)
// it changes nothing. Its text is fixed: the same for every VM, so a clone
// has nothing of its base's to rewrite in it.
//
// The host name also lives in nixvm-hostname.nix (networking.hostName),
// which the snippet rewrites when the name changes, so the next
// nixos-rebuild builds a system under the new name. Until then
// /etc/hostname, which NixOS links into the store at each activation
// ("etc" snippet, hence deps), is replaced by a file with the new name.
//
// Only commands of the activation script's PATH (coreutils) are used.
func identityNix() string {
	script := `d=` + strings.TrimSuffix(fwCfgDir, "/") + `
if [ -r "$d/hostname/raw" ]; then
  name=$(cat "$d/hostname/raw")
  if [ -r "$d/machine-id/raw" ]; then
    id=$(cat "$d/machine-id/raw")
    if [ "$(cat /etc/machine-id 2>/dev/null)" != "$id" ]; then
      echo "nixvm: machine-id $id"
      printf '%s\n' "$id" > /etc/.machine-id.nixvm && mv -f /etc/.machine-id.nixvm /etc/machine-id
    fi
  fi
  k=/etc/ssh/ssh_host_ed25519_key
  if [ -r "$d/ssh_host_ed25519_key.pub/raw" ] && [ "$(cat "$d/ssh_host_ed25519_key.pub/raw")" != "$(cat $k.pub 2>/dev/null)" ]; then
    echo "nixvm: new SSH host key"
    mkdir -p /etc/ssh
    (umask 077 && cat "$d/ssh_host_ed25519_key/raw" > $k.nixvm) && mv -f $k.nixvm $k
    cat "$d/ssh_host_ed25519_key.pub/raw" > $k.pub.nixvm && chmod 644 $k.pub.nixvm && mv -f $k.pub.nixvm $k.pub
  fi
  if [ "$(cat /etc/hostname 2>/dev/null)" != "$name" ]; then
    echo "nixvm: host name $name"
    rm -f /etc/hostname && printf '%s\n' "$name" > /etc/hostname
    printf '%s' "$name" > /proc/sys/kernel/hostname
    if [ -d /etc/nixos ]; then
      printf '%s\n{ networking.hostName = "%s"; }\n' "` + hostnameHeader + `" "$name" > /etc/nixos/.` + SeedHostname + `.nixvm && mv -f /etc/nixos/.` + SeedHostname + `.nixvm /etc/nixos/` + SeedHostname + `
    fi
  fi
fi
`
	var b strings.Builder
	b.WriteString(`# nixvm-identity.nix: written by nixvm, the same for every VM; do not edit.
# A VM started by nixvm is told its identity through QEMU's fw_cfg
# (` + fwCfgDir + `): its host name, machine-id
# and SSH host key. The activation snippet below applies it before systemd
# starts, so that a clone (nixvm clone) is its own machine from its first
# boot. Booted without nixvm, it changes nothing.
{ config, lib, pkgs, ... }:
{
  boot.initrd.kernelModules = [ "qemu_fw_cfg" ];
  system.activationScripts.nixvmIdentity = {
    deps = [ "etc" ];
    text = ''
`)
	for _, l := range strings.Split(strings.TrimSuffix(script, "\n"), "\n") {
		if l == "" {
			b.WriteString("\n")
			continue
		}
		b.WriteString("      " + l + "\n")
	}
	b.WriteString("    '';\n  };\n}\n")
	return b.String()
}

const hostnameHeader = "# nixvm-hostname.nix: written by nixvm: the VM's name, rewritten at boot when it changes."

// hostnameNix sets the host name: the VM's name.
func hostnameNix(name string) string {
	return hostnameHeader + "\n{ networking.hostName = " + nixString(name) + "; }\n"
}
