package qemu

import (
	"github.com/nixvm/nixvm/internal/golden"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nixvm/nixvm/internal/spec"
	"github.com/nixvm/nixvm/internal/store"
)

const demoDir = "/home/u/.local/share/nixvm/vms/demo"

// base is a complete, valid Params for arch/firmware/accel/display.
func base(arch, firmware, accel, display string) Params {
	p := Params{
		Spec: spec.Spec{
			Name:     "demo",
			Arch:     arch,
			CPUs:     2,
			Memory:   2 * spec.GiB,
			Disks:    []spec.Disk{{Size: 20 * spec.GiB}},
			Firmware: firmware,
		},
		Instance:  store.Instance{Name: "demo", Dir: demoDir},
		Binary:    "/usr/bin/qemu-system-" + arch,
		Accel:     accel,
		SSHPort:   2222,
		Display:   display,
		Daemonize: true,
	}
	if firmware == "uefi" {
		p.UEFICode = "/usr/share/OVMF/OVMF_CODE_4M.fd"
		if arch == "aarch64" {
			p.UEFICode = "/usr/share/AAVMF/AAVMF_CODE.fd"
		}
	}
	return p
}

type goldenCase struct {
	name string
	p    Params
}

func goldenCases() []goldenCase {
	var cs []goldenCase
	for _, arch := range spec.Arches {
		for _, fw := range spec.Firmwares {
			if arch == "aarch64" && fw == "bios" {
				continue
			}
			for _, accel := range Accels {
				for _, d := range Displays {
					cs = append(cs, goldenCase{arch + "-" + fw + "-" + accel + "-" + d, base(arch, fw, accel, d)})
				}
			}
		}
	}

	twoDisks := base("x86_64", "uefi", "tcg", "none")
	twoDisks.Spec.Disks = []spec.Disk{{Size: 20 * spec.GiB}, {Size: 20 * spec.GiB}}
	twoDisks.ISO = "/home/u/.cache/nixvm/isos/nixos-minimal-25.11.1234.abcdef-x86_64-linux.iso"
	cs = append(cs, goldenCase{"two-disks-iso", twoDisks})

	armISO := base("aarch64", "uefi", "tcg", "none")
	armISO.Spec.Disks = twoDisks.Spec.Disks
	armISO.ISO = "/home/u/.cache/nixvm/isos/nixos-minimal-25.11.1234.abcdef-aarch64-linux.iso"
	cs = append(cs, goldenCase{"aarch64-two-disks-iso", armISO})

	kernel := base("x86_64", "bios", "tcg", "none")
	kernel.ISO = twoDisks.ISO
	kernel.Kernel = "/home/u/.cache/nixvm/boot/abc/bzImage"
	kernel.Initrd = "/home/u/.cache/nixvm/boot/abc/initrd"
	kernel.Append = `init=/nix/store/x-nixos-system/init root=LABEL=nixos-minimal-25.11-x86_64 console=ttyS0,115200n8 motd="it's a \"test\""`
	cs = append(cs, goldenCase{"direct-kernel-boot", kernel})

	install := kernel
	install.Seed = "/home/u/.local/share/nixvm/vms/demo/seed.iso"
	cs = append(cs, goldenCase{"install-with-seed", install})

	uefiSeed := twoDisks
	uefiSeed.Seed = install.Seed
	cs = append(cs, goldenCase{"uefi-install-with-seed", uefiSeed})

	armSeed := base("aarch64", "uefi", "tcg", "none")
	armSeed.Seed = install.Seed
	cs = append(cs, goldenCase{"aarch64-seed-without-iso", armSeed})

	fwd := base("x86_64", "uefi", "kvm", "none")
	fwd.Spec.PortForwards = []spec.PortForward{{Host: 8080, Guest: 80, Proto: "tcp"}, {Host: 5432, Guest: 5432}}
	cs = append(cs, goldenCase{"port-forwards", fwd})

	// A desktop needs a screen even headless (nixvm screenshot): aarch64
	// gets its virtio-gpu without input devices.
	for _, arch := range spec.Arches {
		d := base(arch, "uefi", "tcg", "none")
		d.Spec.Desktop = "i3"
		cs = append(cs, goldenCase{arch + "-desktop-headless", d})
	}

	long := base("x86_64", "uefi", "tcg", "vnc")
	long.Instance.Dir = "/home/a-rather-long-user-name/" + strings.Repeat("deeply/nested/", 5) + ".local/share/nixvm/vms/demo"
	cs = append(cs, goldenCase{"long-instance-dir", long})

	comma := base("x86_64", "uefi", "tcg", "none")
	comma.Instance.Dir = "/home/o'brien,jr/.local/share/nixvm/vms/demo"
	cs = append(cs, goldenCase{"comma-and-quote-in-path", comma})

	fg := base("x86_64", "bios", "tcg", "none")
	fg.Spec.CPUs = 1
	fg.Spec.Memory = 1536 * spec.MiB
	fg.Daemonize = false
	cs = append(cs, goldenCase{"foreground-one-cpu", fg})

	ident := base("x86_64", "bios", "tcg", "none")
	ident.Identity = &Identity{
		Hostname: "demo", MachineID: "0123456789abcdef0123456789abcdef", MAC: "52:54:00:ab:cd:ef",
		HostKey: demoDir + "/ssh_host_ed25519_key", HostPub: demoDir + "/ssh_host_ed25519_key.pub",
	}
	cs = append(cs, goldenCase{"identity", ident})
	armIdent := base("aarch64", "uefi", "tcg", "none")
	armIdent.Identity = &Identity{Hostname: "demo", MachineID: ident.Identity.MachineID, MAC: ident.Identity.MAC}
	cs = append(cs, goldenCase{"aarch64-identity-without-host-key", armIdent})
	return cs
}

func TestCommandGolden(t *testing.T) {
	// Sockets of a long instance dir move to the runtime dir, which
	// store takes from the environment.
	t.Setenv("XDG_RUNTIME_DIR", "/run/user/1000")
	for _, c := range goldenCases() {
		t.Run(c.name, func(t *testing.T) {
			argv, err := Command(c.p)
			if err != nil {
				t.Fatalf("Command: %v", err)
			}
			if argv[0] != c.p.Binary {
				t.Errorf("argv[0] = %q, want %q", argv[0], c.p.Binary)
			}
			golden.Check(t, filepath.Join("testdata", c.name+".golden"), []byte(goldenArgv(argv)))
		})
	}
}

// TestCommandInvariants checks promises that must hold for every case, so a
// careless -update cannot bless a regression in them.
func TestCommandInvariants(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", "/run/user/1000")
	for _, c := range goldenCases() {
		argv, err := Command(c.p)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		line := strings.Join(argv, " ")
		for _, bad := range []string{"-nographic", "hostfwd=tcp::", "hostfwd=tcp:0.0.0.0", "-vnc :", "-vnc 0", "-vnc 127", "port=", "tls-port="} {
			if strings.Contains(line, bad) {
				t.Errorf("%s: argv contains %q: %s", c.name, bad, line)
			}
		}
		// A display that can be used has an absolute pointer (no grab) and a
		// graphics device; SPICE and VNC listen on unix sockets only.
		if c.p.Display != "none" && !has(argv, "usb-tablet") {
			t.Errorf("%s: display %s without a USB tablet: %s", c.name, c.p.Display, line)
		}
		// A desktop has a screen even headless; x86 always has a VGA.
		device := strings.Contains(line, "-vga std") || strings.Contains(line, "-vga qxl") || strings.Contains(line, "-device virtio-gpu-pci")
		desktop := c.p.Spec.Desktop != "" && c.p.Spec.Desktop != "none"
		if (c.p.Display != "none" || desktop || c.p.Spec.Arch == "x86_64") && !device {
			t.Errorf("%s: display %s, desktop %q, without a display device: %s", c.name, c.p.Display, c.p.Spec.Desktop, line)
		}
		// SPICE's viewer sets the screen size: not the fixed-size std VGA.
		if c.p.Display == "spice" && strings.Contains(line, "-vga std") {
			t.Errorf("%s: SPICE with a VGA the viewer cannot resize: %s", c.name, line)
		}
		if c.p.Display == "spice" && !strings.Contains(line, "-spice unix=on,addr=/") {
			t.Errorf("%s: SPICE not on a unix socket: %s", c.name, line)
		}
		if n := strings.Count(line, "hostfwd="); n != strings.Count(line, "hostfwd=tcp:127.0.0.1:") {
			t.Errorf("%s: a forward is not bound to 127.0.0.1: %s", c.name, line)
		}
		if has(argv, "-daemonize") != c.p.Daemonize {
			t.Errorf("%s: -daemonize present = %v, want %v", c.name, has(argv, "-daemonize"), c.p.Daemonize)
		}
		if c.p.Append != "" && !has(argv, c.p.Append) {
			t.Errorf("%s: -append value is not one argv element", c.name)
		}
		// Images are named -blockdev nodes (the snapshot code finds them
		// by name), and every device's drive is one of them.
		if has(argv, "-drive") {
			t.Errorf("%s: argv has -drive: %s", c.name, line)
		}
		for _, m := range regexp.MustCompile(`(?:drive|pflash[01])=([a-z0-9-]+)`).FindAllStringSubmatch(line, -1) {
			if !strings.Contains(line, "node-name="+m[1]+",file="+FileNode(m[1])) {
				t.Errorf("%s: %s names no format node %s: %s", c.name, m[0], m[1], line)
			}
		}
		// Without this port services.qemuGuest.enable does nothing.
		qga := QGASocket(c.p.Instance)
		if !strings.Contains(line, "-device virtserialport,bus=vser0.0,chardev=qga0,name=org.qemu.guest_agent.0") ||
			!strings.Contains(line, "-chardev socket,id=qga0,path="+opt(qga)+",server=on,wait=off") {
			t.Errorf("%s: no guest agent port on %s: %s", c.name, qga, line)
		}
		if filepath.Dir(qga) != filepath.Dir(c.p.Instance.QMPSocket()) || len(qga) > 107 {
			t.Errorf("%s: guest agent socket %s is not beside qmp.sock within the 107-byte limit", c.name, qga)
		}
	}
}

func TestCommandErrors(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Params)
		want   string // the field the message must name
	}{
		{"aarch64 bios", func(p *Params) { p.Spec.Arch = "aarch64"; p.UEFICode = ""; p.Spec.Firmware = "bios" }, "firmware: bios is not available on aarch64"},
		{"bad arch", func(p *Params) { p.Spec.Arch = "riscv64" }, "arch:"},
		{"bad firmware", func(p *Params) { p.Spec.Firmware = "coreboot" }, "firmware:"},
		{"bad accel", func(p *Params) { p.Accel = "xen" }, "accel:"},
		{"bad display", func(p *Params) { p.Display = "qxl" }, "display:"},
		{"unresolved auto display", func(p *Params) { p.Display = "auto" }, "display:"},
		{"no binary", func(p *Params) { p.Binary = "" }, "binary:"},
		{"no name", func(p *Params) { p.Spec.Name = "" }, "name:"},
		{"zero cpus", func(p *Params) { p.Spec.CPUs = 0 }, "cpus:"},
		{"odd memory", func(p *Params) { p.Spec.Memory = spec.GiB + 1 }, "memory:"},
		{"no disks", func(p *Params) { p.Spec.Disks = nil }, "disks:"},
		{"ssh port 0", func(p *Params) { p.SSHPort = 0 }, "sshPort:"},
		{"ssh port too big", func(p *Params) { p.SSHPort = 70000 }, "sshPort:"},
		{"forward udp", func(p *Params) { p.Spec.PortForwards = []spec.PortForward{{Host: 53, Guest: 53, Proto: "udp"}} }, "portForwards[0]:"},
		{"forward bad port", func(p *Params) { p.Spec.PortForwards = []spec.PortForward{{Host: 8080, Guest: 0}} }, "portForwards[0]:"},
		{"forward clashes with ssh", func(p *Params) { p.Spec.PortForwards = []spec.PortForward{{Host: 2222, Guest: 22}} }, "portForwards[0]: host port 2222 is already used by sshPort"},
		{"forward dup", func(p *Params) {
			p.Spec.PortForwards = []spec.PortForward{{Host: 8080, Guest: 80}, {Host: 8080, Guest: 81}}
		}, "portForwards[1]: host port 8080 is already used by portForwards[0]"},
		{"uefi without code", func(p *Params) { p.UEFICode = "" }, "uefiCode:"},
		{"bios with code", func(p *Params) { p.Spec.Firmware = "bios" }, "uefiCode:"},
		{"initrd without kernel", func(p *Params) { p.Initrd = "/boot/initrd" }, "kernel:"},
		{"append without kernel", func(p *Params) { p.Append = "quiet" }, "kernel:"},
		{"relative iso", func(p *Params) { p.ISO = "nixos.iso" }, "iso:"},
		{"relative seed", func(p *Params) { p.Seed = "seed.iso" }, "seed:"},
		{"relative kernel", func(p *Params) { p.Kernel = "bzImage" }, "kernel:"},
		{"relative initrd", func(p *Params) { p.Kernel = "/k"; p.Initrd = "initrd" }, "initrd:"},
		{"relative code", func(p *Params) { p.UEFICode = "OVMF_CODE.fd" }, "uefiCode:"},
		{"relative instance", func(p *Params) { p.Instance.Dir = "vms/demo" }, "instance dir:"},
		{"identity without MAC", func(p *Params) { p.Identity = &Identity{Hostname: "demo", MachineID: "ab"} }, "identity:"},
		{"identity with half a host key", func(p *Params) {
			p.Identity = &Identity{Hostname: "demo", MachineID: "ab", MAC: "52:54:00:00:00:01", HostKey: "/k"}
		}, "identity:"},
		{"identity with relative host key", func(p *Params) {
			p.Identity = &Identity{Hostname: "demo", MachineID: "ab", MAC: "52:54:00:00:00:01", HostKey: "k", HostPub: "k.pub"}
		}, "identity host key:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := base("x86_64", "uefi", "tcg", "none")
			tt.mutate(&p)
			argv, err := Command(p)
			if err == nil {
				t.Fatalf("Command succeeded, want error naming %q: %v", tt.want, argv)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error %q does not start with %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

var shellCases = [][]string{
	{"/usr/bin/qemu-system-x86_64", "-m", "2048M"},
	{"a b", "c'd", `e"f`, "", "$HOME", "`x`", "*", "~", "#c", "a\nb", "x=y", "\\"},
	{"A=B", "cmd"},
	{"-append", `init=/x root=LABEL=n console=ttyS0,115200n8 msg="it's"`},
	{"'", "''", "it's", "!", "a;b", "a&b", "a|b", "(x)", "{a,b}", "[ab]", "a?"},
}

func TestShell(t *testing.T) {
	tests := []struct {
		argv []string
		want string
	}{
		{[]string{"/usr/bin/qemu", "-m", "2048M", "file=/a/b,format=raw"}, "/usr/bin/qemu -m 2048M file=/a/b,format=raw"},
		{[]string{"q", "a b", "it's", ""}, `q 'a b' 'it'\''s' ''`},
		{[]string{"A=B", "x=y"}, `'A=B' x=y`},
	}
	for _, tt := range tests {
		if got := Shell(tt.argv); got != tt.want {
			t.Errorf("Shell(%q) = %s, want %s", tt.argv, got, tt.want)
		}
	}
}

// TestShellRoundTrip has a real POSIX shell parse Shell's output back.
func TestShellRoundTrip(t *testing.T) {
	for _, argv := range shellCases {
		checkRoundTrip(t, argv)
	}
}

func FuzzShell(f *testing.F) {
	for _, c := range shellCases {
		f.Add(strings.Join(c, "\x00"))
	}
	f.Fuzz(func(t *testing.T, s string) {
		// NUL cannot be in an argv element; use it to split the input.
		checkRoundTrip(t, strings.Split(s, "\x00"))
	})
}

// checkRoundTrip runs `sh -c 'printf "%s\0" <Shell(argv)>'` (and the same
// through ShellLines) and compares.
func checkRoundTrip(t *testing.T, argv []string) {
	t.Helper()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh in PATH")
	}
	for _, render := range []func([]string) string{Shell, ShellLines} {
		line := render(append([]string{"printf", `%s\0`}, argv...))
		out, err := exec.Command(sh, "-c", line).Output()
		if err != nil {
			t.Fatalf("sh -c %s: %v", line, err)
		}
		got := strings.Split(string(out), "\x00")
		got = got[:len(got)-1]
		if strings.Join(got, "\x00") != strings.Join(argv, "\x00") || len(got) != len(argv) {
			t.Errorf("round trip of %q through sh gave %q (line %s)", argv, got, line)
		}
	}
}

func TestShellLines(t *testing.T) {
	got := ShellLines([]string{"/usr/bin/qemu", "-m", "2048M", "-display", "none", "-daemonize", "a b"})
	want := "/usr/bin/qemu \\\n  -m 2048M \\\n  -display none \\\n  -daemonize 'a b'"
	if got != want {
		t.Errorf("ShellLines = %q, want %q", got, want)
	}
}

// goldenArgv renders argv one argument per line (each shell-quoted, so the
// file is unambiguous), which keeps a diff of two commands readable.
func goldenArgv(argv []string) string {
	var b strings.Builder
	for _, a := range argv {
		b.WriteString(Shell([]string{a}) + "\n")
	}
	return b.String()
}
