// Package qemu builds QEMU command lines (pure: Build makes the typed
// Machine, its Argv renders it; Command is both, Shell quotes) and runs
// them (process.go: Start, Alive, WaitExit, Kill). The builder takes every
// host fact as a parameter, so the same Params give the same argv on every
// machine; that is what the golden tests pin down.
package qemu

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/nixvm/nixvm/internal/arch"
	"github.com/nixvm/nixvm/internal/spec"
	"github.com/nixvm/nixvm/internal/store"
)

// Params are the inputs of Command: the VM spec plus the host facts that
// were resolved for this run.
type Params struct {
	Spec     spec.Spec      // validated, defaults applied
	Instance store.Instance // file paths (disks, efivars, sockets, logs, pidfile)
	Binary   string         // qemu-system-<arch> path
	Accel    string         // "kvm" | "hvf" | "tcg"
	UEFICode string         // firmware CODE (read-only pflash); "" for BIOS
	SSHPort  int            // resolved host port forwarded to guest 22
	Display  string         // effective display mode: none|gtk|sdl|spice|vnc (never auto)
	ISO      string         // CD-ROM image path; "" = none
	Seed     string         // read-only seed image (install script, config) as a second CD-ROM; never booted
	// Direct kernel boot; "" = none. Append is passed as one argv element.
	Kernel, Initrd, Append string
	// Daemonize adds -daemonize -pidfile (false for foreground runs, e.g.
	// benchmarks).
	Daemonize bool
	// Identity is handed to the guest; nil for VMs made before nixvm gave
	// each VM one (they keep QEMU's default MAC).
	Identity *Identity
}

// Identity is what makes the guest its own machine: its NIC's MAC address,
// and the host name, machine-id and SSH host key that the installed
// system's activation snippet (install's nixvm-identity.nix) applies at
// boot. They reach the guest through QEMU's fw_cfg, as files under
// /sys/firmware/qemu_fw_cfg/by_name/FWCfgPrefix*/raw (readable by root
// only): no extra drive shifts the guest's devices, and it works on every
// machine type nixvm uses (pc, q35 and virt).
type Identity struct {
	Hostname  string
	MachineID string
	MAC       string
	// HostKey and HostPub are the paths of the VM's SSH host key pair;
	// "" leaves them out (a VM nixvm made no host key for).
	HostKey, HostPub string
}

// FWCfgPrefix names nixvm's fw_cfg files. QEMU asks for "opt/" followed by
// a reverse domain name for files of other software.
const FWCfgPrefix = "opt/io.github.nixvm/"

// Accels lists the accelerators Command accepts.
var Accels = []string{"kvm", "hvf", "tcg"}

// VNCSocket is the unix socket QEMU's VNC server listens on for display
// "vnc". It sits next to the other sockets so it obeys the same path limit.
func VNCSocket(in store.Instance) string { return in.VNCSocket() }

// SpiceSocket is the unix socket QEMU's SPICE server listens on for
// display "spice", next to the other sockets.
func SpiceSocket(in store.Instance) string { return in.SpiceSocket() }

// SpiceAgentPort is the virtio-serial port name of the SPICE agent
// (spice-vdagent, NixOS's services.spice-vdagentd): over it the viewer
// tells the guest its window size, and the guest resizes its screen.
const SpiceAgentPort = "com.redhat.spice.0"

// Displays are the display modes Command takes: the spec's, with auto
// already resolved (vm.ChooseDisplay).
var Displays = []string{"none", "gtk", "sdl", "spice", "vnc"}

// GuestAgentPort is the virtio-serial port name the QEMU guest agent
// (qemu-ga, NixOS's services.qemuGuest) opens in the guest, as
// /dev/virtio-ports/org.qemu.guest_agent.0. Without a port of this name the
// agent's service has nothing to open and never runs.
const GuestAgentPort = "org.qemu.guest_agent.0"

// QGASocket is the unix socket on the host end of the guest agent's port
// (internal/qga talks to it). It sits next to the other sockets so it obeys
// the same path limit.
func QGASocket(in store.Instance) string { return in.QGASocket() }

// Command returns the QEMU argv for p (Build, rendered by Argv); argv[0] is
// p.Binary. It does no I/O.
func Command(p Params) ([]string, error) {
	m, err := Build(p)
	if err != nil {
		return nil, err
	}
	return m.Argv(), nil
}

// opt escapes a value for QEMU's comma-separated option syntax, where a
// literal comma is written twice.
func opt(v string) string { return strings.ReplaceAll(v, ",", ",,") }

// check validates p, naming the field that is wrong and what is valid.
func check(p Params) error {
	s := p.Spec
	if p.Binary == "" {
		return fmt.Errorf("binary: empty QEMU binary path")
	}
	if s.Name == "" {
		return fmt.Errorf("name: empty VM name")
	}
	if !oneOf(s.Arch, spec.Arches) {
		return fmt.Errorf("arch: %q is not one of %s", s.Arch, strings.Join(spec.Arches, ", "))
	}
	if !oneOf(s.Firmware, spec.Firmwares) {
		return fmt.Errorf("firmware: %q is not one of %s", s.Firmware, strings.Join(spec.Firmwares, ", "))
	}
	if err := arch.MustFor(s.Arch).CheckFirmware(s.Firmware); err != nil {
		return err
	}
	if !oneOf(p.Accel, Accels) {
		return fmt.Errorf("accel: %q is not one of %s", p.Accel, strings.Join(Accels, ", "))
	}
	if !oneOf(p.Display, Displays) {
		return fmt.Errorf("display: %q is not one of %s (auto is resolved before the command is built)", p.Display, strings.Join(Displays, ", "))
	}
	if s.CPUs < 1 {
		return fmt.Errorf("cpus: %d, need at least 1", s.CPUs)
	}
	if s.Memory < spec.MiB || s.Memory%spec.MiB != 0 {
		return fmt.Errorf("memory: %s is not a whole number of MiB (use e.g. 2G, 1536M)", s.Memory)
	}
	if len(s.Disks) == 0 {
		return fmt.Errorf("disks: need at least one disk")
	}
	if !validPort(p.SSHPort) {
		return fmt.Errorf("sshPort: %d is not a TCP port (1-65535)", p.SSHPort)
	}
	hostPorts := map[int]string{p.SSHPort: "sshPort"}
	for i, f := range s.PortForwards {
		field := fmt.Sprintf("portForwards[%d]", i)
		if f.Proto != "" && f.Proto != "tcp" {
			return fmt.Errorf("%s: protocol %q is not supported (use tcp)", field, f.Proto)
		}
		if !validPort(f.Host) || !validPort(f.Guest) {
			return fmt.Errorf("%s: %d:%d, ports must be 1-65535", field, f.Host, f.Guest)
		}
		if other, dup := hostPorts[f.Host]; dup {
			return fmt.Errorf("%s: host port %d is already used by %s", field, f.Host, other)
		}
		hostPorts[f.Host] = field
	}
	if s.Firmware == "uefi" && p.UEFICode == "" {
		return fmt.Errorf("uefiCode: firmware uefi needs the UEFI code image (e.g. OVMF_CODE_4M.fd)")
	}
	if s.Firmware == "bios" && p.UEFICode != "" {
		return fmt.Errorf("uefiCode: set for firmware bios; leave it empty or use firmware uefi")
	}
	if id := p.Identity; id != nil {
		if id.Hostname == "" || id.MachineID == "" || id.MAC == "" {
			return fmt.Errorf("identity: hostname, machine-id and MAC must all be set")
		}
		if (id.HostKey == "") != (id.HostPub == "") {
			return fmt.Errorf("identity: give both halves of the SSH host key or neither")
		}
	}
	if p.Kernel == "" && (p.Initrd != "" || p.Append != "") {
		return fmt.Errorf("kernel: initrd or append given without a kernel")
	}
	// QEMU -daemonize changes directory to /, so a relative path would
	// silently mean something else in the saved cmdline.
	paths := []struct{ field, path string }{
		{"instance dir", p.Instance.Dir}, {"uefiCode", p.UEFICode}, {"iso", p.ISO},
		{"seed", p.Seed}, {"kernel", p.Kernel}, {"initrd", p.Initrd},
	}
	if p.Identity != nil {
		paths = append(paths, struct{ field, path string }{"identity host key", p.Identity.HostKey},
			struct{ field, path string }{"identity host key", p.Identity.HostPub})
	}
	for _, f := range paths {
		if f.field == "instance dir" || f.path != "" {
			if !filepath.IsAbs(f.path) {
				return fmt.Errorf("%s: %q is not an absolute path", f.field, f.path)
			}
		}
	}
	return nil
}

func validPort(p int) bool { return p >= 1 && p <= 65535 }

func oneOf(v string, list []string) bool {
	for _, x := range list {
		if v == x {
			return true
		}
	}
	return false
}

// Shell renders argv as one POSIX shell line that runs the same argv when
// pasted: words with anything but safe characters are single-quoted.
func Shell(argv []string) string {
	var b strings.Builder
	for i, w := range argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(shellQuote(w, i == 0))
	}
	return b.String()
}

// ShellLines renders argv like Shell, but one option with its value per
// line, continued with a backslash: the same command when pasted, and a
// plan a person can read and diff.
func ShellLines(argv []string) string {
	var b strings.Builder
	for i, w := range argv {
		if i > 0 {
			if strings.HasPrefix(w, "-") {
				b.WriteString(" \\\n  ")
			} else {
				b.WriteByte(' ')
			}
		}
		b.WriteString(shellQuote(w, i == 0))
	}
	return b.String()
}

func shellQuote(w string, first bool) string {
	safe := w != ""
	for _, c := range w {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("_-+=,.:/@%", c)) {
			safe = false
			break
		}
	}
	// In command position NAME=value would be an assignment, not a command.
	if first && strings.Contains(w, "=") {
		safe = false
	}
	if safe {
		return w
	}
	return "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
}
