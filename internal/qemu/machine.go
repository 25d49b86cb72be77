package qemu

import (
	"strconv"

	"github.com/nixvm/nixvm/internal/arch"
	"github.com/nixvm/nixvm/internal/spec"
)

// Machine is the whole virtual machine nixvm asks for, as data: what Build
// makes from the spec and the host facts, before any renderer turns it into
// something a hypervisor reads (Argv: QEMU's command line). Keeping the
// planning here and the syntax in the renderer is what lets another
// renderer (e.g. libvirt domain XML) reuse the same decisions.
//
// The slices are in argv order, and that order is part of the machine:
// QEMU gives devices without an explicit address the next free PCI slot in
// argv order, and the guest names its NIC (enp0s3) by its slot.
type Machine struct {
	Binary string // qemu-system-<arch>
	Name   string // the VM's and the process's name: nixvm-<name>
	// Type is the machine type with its properties from internal/arch
	// (q35, pc, virt,gic-version=max); the firmware's flash nodes are
	// attached to it by the renderer.
	Type      string
	Accel     string // accelerator with its properties (tcg,thread=multi)
	CPU       string
	CPUs      int
	MemoryMiB int64
	// Firmware are the UEFI flash images, pflash0 (code) then pflash1
	// (variables); none for BIOS, which is QEMU's built-in default.
	Firmware []BlockNode
	Drives   []Drive
	NICs     []NIC
	RNG      bool // a virtio-rng device
	Serial   Serial
	QMP      string // the QMP monitor's unix socket
	Display  Display
	// GuestAgent is the guest agent's virtio-serial port; SpiceAgent adds
	// the SPICE agent's port on the same controller.
	GuestAgent GuestAgent
	SpiceAgent bool
	FWCfg      []FWCfgEntry
	Kernel     *KernelBoot // nil: boot from the drives
	// Daemonize detaches QEMU once the VM is set up; PIDFile is where it
	// writes the daemon's PID.
	Daemonize bool
	PIDFile   string
}

// Block node names. They are fixed (QEMU's own are #blockNNN, different
// each run) so the snapshot commands (snapshot-save, snapshot-load,
// blockdev-snapshot-internal-sync) can name the VM's images without asking,
// and a running VM's query-block answer maps back to its files. Each
// image's protocol node is its format node's name plus "-file".
const (
	EFICodeNode = "efi-code" // UEFI firmware code, read-only (pflash0)
	EFIVarsNode = "efi-vars" // the VM's UEFI variable store (pflash1)
	ISONode     = "cd0"      // the installer or a user's CD-ROM
	SeedNode    = "seed"     // the install's seed CD-ROM
)

// DiskNode is the block node name of the VM's disk i: disk0, disk1, ...
func DiskNode(i int) string { return "disk" + strconv.Itoa(i) }

// FileNode is the name of the protocol (file) node under format node n.
func FileNode(n string) string { return n + "-file" }

// SCSIController is the id of the virtio-scsi controller that CD-ROMs sit
// on where the machine has no IDE (virt).
const SCSIController = "scsi0"

// BlockNode is one image: a format node over a file.
type BlockNode struct {
	Node     string // the format node's name; the file's is FileNode(Node)
	File     string
	Format   string // qcow2 | raw
	ReadOnly bool
	// Discard passes the guest's discards down to the file, so freed
	// blocks give space back to the host.
	Discard bool
}

// DeviceKind is the guest device a drive is attached as.
type DeviceKind string

const (
	VirtioBlk DeviceKind = "virtio-blk-pci"
	IDECD     DeviceKind = "ide-cd"
	// SCSICD sits on the SCSIController, which the renderer adds before
	// the first one.
	SCSICD DeviceKind = "scsi-cd"
)

// Drive is an image and the guest device it is attached as.
type Drive struct {
	BlockNode
	Device DeviceKind
	Bus    string // "" = the device's default bus
	// Boot says whether the drive is in the boot order, at BootIndex.
	Boot      bool
	BootIndex int
}

// NIC is a network card on QEMU's user-mode network.
type NIC struct {
	ID  string // the netdev's id
	MAC string // "" = QEMU's default
	// Forwards are host ports forwarded to the guest, always bound to the
	// host's loopback.
	Forwards []Forward
}

// Forward is a TCP port forward from the host's 127.0.0.1:Host to the
// guest's Guest.
type Forward struct{ Host, Guest int }

// Serial is the serial console: a listening unix socket, with everything
// the guest prints also appended to Log.
type Serial struct {
	ID, Socket, Log string
}

// Display is the guest's screen and how the host shows it.
type Display struct {
	Mode   string // none | gtk | sdl | spice | vnc
	Socket string // the VNC or SPICE server's unix socket
	// Devices are the graphics and input devices as QEMU arguments
	// (internal/arch's DisplayArgs); QEMU-specific, like arch's tables.
	Devices []string
}

// GuestAgent is a virtio-serial port whose host end is a listening unix
// socket.
type GuestAgent struct {
	Socket, Port string
}

// FWCfgEntry is a file the guest reads from QEMU's fw_cfg: a string or
// the contents of a host file.
type FWCfgEntry struct {
	Name         string
	String, File string // exactly one is set
}

// KernelBoot is direct kernel boot (-kernel); Initrd and Append may be "".
type KernelBoot struct {
	Kernel, Initrd, Append string
}

// Build makes the machine for p. It does no I/O; an invalid p is an error
// naming the field.
//
// The machine is built for -nodefaults -no-user-config: QEMU's implicit
// devices (a VGA, a NIC, a CD-ROM drive, a monitor and serial on virtual
// consoles, a parallel port) differ between machine types and versions, and
// a host's /etc/qemu config could add more. Everything the VM needs is in
// the model, so it says the whole machine. On x86 that includes a VGA even
// when headless, so the installer's framebuffer console has somewhere to
// go and nixvm screenshot has a screen; aarch64 gets its virtio-gpu
// headless when the guest runs a desktop (arch's DisplayArgs).
func Build(p Params) (Machine, error) {
	if err := check(p); err != nil {
		return Machine{}, err
	}
	s := p.Spec
	in := p.Instance
	a := arch.MustFor(s.Arch) // check() validated it
	m := Machine{
		Binary:    p.Binary,
		Name:      "nixvm-" + s.Name,
		Type:      a.MachineType(p.Accel, s.Firmware),
		Accel:     a.Accel(p.Accel, s.CPUs),
		CPU:       a.CPU(p.Accel),
		CPUs:      s.CPUs,
		MemoryMiB: int64(s.Memory / spec.MiB),
	}

	if s.Firmware == "uefi" {
		m.Firmware = []BlockNode{
			{Node: EFICodeNode, File: p.UEFICode, Format: "raw", ReadOnly: true},
			{Node: EFIVarsNode, File: in.EFIVars(), Format: in.EFIVarsFormat()},
		}
	}

	// Boot order: the installer CD first (when attached), then the disks.
	// With -kernel, x86 QEMU gives bootindex 0 to its linuxboot option ROM
	// and rejects a second 0, so devices start at 1 there.
	boot := 0
	if p.Kernel != "" {
		boot = 1
	}
	cd, cdBus := IDECD, ""
	if !a.IDE {
		// virt has no IDE/AHCI controller.
		cd, cdBus = SCSICD, SCSIController+".0"
	}
	if p.ISO != "" {
		m.Drives = append(m.Drives, Drive{
			BlockNode: BlockNode{Node: ISONode, File: p.ISO, Format: "raw", ReadOnly: true},
			Device:    cd, Bus: cdBus, Boot: true, BootIndex: boot,
		})
		boot++
	}
	for i := range s.Disks {
		m.Drives = append(m.Drives, Drive{
			BlockNode: BlockNode{Node: DiskNode(i), File: in.Disk(i), Format: "qcow2", Discard: true},
			Device:    VirtioBlk, Boot: true, BootIndex: boot + i,
		})
	}
	if p.Seed != "" {
		// A CD-ROM, not a virtio disk: it must not shift the guest's
		// /dev/vdX names, which the install script partitions.
		bus := cdBus
		if a.IDE {
			// q35's AHCI buses take one unit each, so name the second
			// bus (also free on pc's PIIX: secondary master).
			bus = "ide.1"
		}
		m.Drives = append(m.Drives, Drive{
			BlockNode: BlockNode{Node: SeedNode, File: p.Seed, Format: "raw", ReadOnly: true},
			Device:    cd, Bus: bus,
		})
	}

	nic := NIC{ID: "net0", Forwards: []Forward{{Host: p.SSHPort, Guest: 22}}}
	for _, f := range s.PortForwards {
		nic.Forwards = append(nic.Forwards, Forward{Host: f.Host, Guest: f.Guest})
	}
	if p.Identity != nil {
		nic.MAC = p.Identity.MAC
	}
	m.NICs = []NIC{nic}
	m.RNG = true

	m.Serial = Serial{ID: "serial0", Socket: in.SerialSocket(), Log: in.SerialLog()}
	m.QMP = in.QMPSocket()

	m.Display = Display{Mode: p.Display, Devices: a.DisplayArgs(p.Display, s.Desktop != "" && s.Desktop != "none")}
	switch p.Display {
	case "vnc":
		m.Display.Socket = VNCSocket(in)
	case "spice":
		m.Display.Socket = SpiceSocket(in)
	}

	m.GuestAgent = GuestAgent{Socket: QGASocket(in), Port: GuestAgentPort}
	m.SpiceAgent = p.Display == "spice"

	if id := p.Identity; id != nil {
		m.FWCfg = []FWCfgEntry{
			{Name: FWCfgPrefix + "hostname", String: id.Hostname},
			{Name: FWCfgPrefix + "machine-id", String: id.MachineID},
		}
		if id.HostKey != "" {
			m.FWCfg = append(m.FWCfg,
				FWCfgEntry{Name: FWCfgPrefix + "ssh_host_ed25519_key", File: id.HostKey},
				FWCfgEntry{Name: FWCfgPrefix + "ssh_host_ed25519_key.pub", File: id.HostPub})
		}
	}

	if p.Kernel != "" {
		m.Kernel = &KernelBoot{Kernel: p.Kernel, Initrd: p.Initrd, Append: p.Append}
	}
	m.Daemonize = p.Daemonize
	if p.Daemonize {
		m.PIDFile = in.PIDFile()
	}
	return m, nil
}

// Argv renders m as QEMU's argv; argv[0] is m.Binary.
func (m Machine) Argv() []string {
	a := []string{m.Binary, "-nodefaults", "-no-user-config"}
	a = append(a, "-name", opt(m.Name)+",process="+opt(m.Name))

	// Flash is attached by node name to the machine's pflashN properties
	// (if=pflash would make the nodes anonymous).
	mt := m.Type
	for i, f := range m.Firmware {
		mt += ",pflash" + strconv.Itoa(i) + "=" + f.Node
	}
	a = append(a, "-machine", mt)
	a = append(a, "-accel", m.Accel)
	a = append(a, "-cpu", m.CPU)
	a = append(a, "-smp", strconv.Itoa(m.CPUs), "-m", strconv.FormatInt(m.MemoryMiB, 10)+"M")

	for _, f := range m.Firmware {
		a = append(a, blockdev(f)...)
	}
	scsi := false
	for _, d := range m.Drives {
		a = append(a, blockdev(d.BlockNode)...)
		if d.Device == SCSICD && !scsi {
			a = append(a, "-device", "virtio-scsi-pci,id="+SCSIController)
			scsi = true
		}
		dev := string(d.Device)
		if d.Bus != "" {
			dev += ",bus=" + d.Bus
		}
		dev += ",drive=" + d.Node
		if d.Boot {
			dev += ",bootindex=" + strconv.Itoa(d.BootIndex)
		}
		a = append(a, "-device", dev)
	}

	for _, n := range m.NICs {
		// Every forward binds the host's loopback only.
		netdev := "user,id=" + n.ID
		for _, f := range n.Forwards {
			netdev += ",hostfwd=tcp:127.0.0.1:" + strconv.Itoa(f.Host) + "-:" + strconv.Itoa(f.Guest)
		}
		dev := "virtio-net-pci,netdev=" + n.ID
		if n.MAC != "" {
			dev += ",mac=" + n.MAC
		}
		a = append(a, "-netdev", netdev, "-device", dev)
	}
	if m.RNG {
		a = append(a, "-device", "virtio-rng-pci")
	}

	// The log outlives a connection to the socket (attach/expect).
	s := m.Serial
	a = append(a,
		"-chardev", "socket,id="+s.ID+",path="+opt(s.Socket)+",server=on,wait=off,logfile="+opt(s.Log)+",logappend=on",
		"-serial", "chardev:"+s.ID,
		"-qmp", "unix:"+opt(m.QMP)+",server=on,wait=off")

	// -nographic is never used: it would put the monitor and serial on
	// stdio, which -daemonize forbids.
	a = append(a, m.Display.Devices...)
	switch m.Display.Mode {
	case "none":
		a = append(a, "-display", "none")
	case "gtk", "sdl":
		a = append(a, "-display", m.Display.Mode)
	case "vnc":
		// A unix socket only: a TCP VNC server would be reachable by
		// every local user without a password.
		a = append(a, "-vnc", "unix:"+opt(m.Display.Socket), "-display", "none")
	case "spice":
		// A unix socket only, like VNC: SPICE's TCP port would be open to
		// every local user (ticketing off, the socket is mode 0700's dir).
		a = append(a, "-spice", "unix=on,addr="+opt(m.Display.Socket)+",disable-ticketing=on", "-display", "none")
	}

	// The guest agent's controller is added after every other PCI device on
	// purpose: devices without an explicit address take the next free slot
	// in argv order, and an earlier insertion would move the NIC of
	// existing VMs (and with it the guest's predictable interface name,
	// e.g. enp0s3).
	a = append(a,
		"-chardev", "socket,id=qga0,path="+opt(m.GuestAgent.Socket)+",server=on,wait=off",
		"-device", "virtio-serial-pci,id=vser0",
		"-device", "virtserialport,bus=vser0.0,chardev=qga0,name="+m.GuestAgent.Port)
	if m.SpiceAgent {
		// On the same controller: no new PCI device, so nothing moves.
		a = append(a,
			"-chardev", "spicevmc,id=vdagent0,name=vdagent",
			"-device", "virtserialport,bus=vser0.0,chardev=vdagent0,name="+SpiceAgentPort)
	}

	for _, f := range m.FWCfg {
		v := "string=" + opt(f.String)
		if f.File != "" {
			v = "file=" + opt(f.File)
		}
		a = append(a, "-fw_cfg", "name="+f.Name+","+v)
	}

	if k := m.Kernel; k != nil {
		a = append(a, "-kernel", k.Kernel)
		if k.Initrd != "" {
			a = append(a, "-initrd", k.Initrd)
		}
		if k.Append != "" {
			a = append(a, "-append", k.Append)
		}
	}
	if m.Daemonize {
		a = append(a, "-daemonize", "-pidfile", m.PIDFile)
	}
	return a
}

// blockdev renders n as two -blockdev nodes: the file, and the format node
// over it that a device or the machine uses. Read-only is set on both, so
// neither opens the file for writing. No backing option is given: a qcow2
// overlay (a linked clone) opens its backing file from its header.
func blockdev(n BlockNode) []string {
	var extra string
	if n.ReadOnly {
		extra += ",read-only=on"
	}
	if n.Discard {
		extra += ",discard=unmap"
	}
	file := FileNode(n.Node)
	return []string{
		"-blockdev", "driver=file,node-name=" + file + ",filename=" + opt(n.File) + extra,
		"-blockdev", "driver=" + n.Format + ",node-name=" + n.Node + ",file=" + file + extra,
	}
}
