// Package store owns nixvm's on-disk state: where instance directories and
// the cache live (XDG), the file names inside an instance directory, the
// per-VM lock and the state file. The instance directory is the whole state
// of a VM; nothing else is kept anywhere.
package store

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// maxSocketPath is the longest usable unix socket path (sun_path is 108
// bytes including the terminating NUL).
const maxSocketPath = 107

// DataDir is $XDG_DATA_HOME/nixvm (default ~/.local/share/nixvm).
func DataDir() (string, error) { return xdgDir("XDG_DATA_HOME", ".local/share") }

// CacheDir is $XDG_CACHE_HOME/nixvm (default ~/.cache/nixvm).
func CacheDir() (string, error) { return xdgDir("XDG_CACHE_HOME", ".cache") }

// ConfigDir is $XDG_CONFIG_HOME/nixvm (default ~/.config/nixvm).
func ConfigDir() (string, error) { return xdgDir("XDG_CONFIG_HOME", ".config") }

// VMsDir is where instance directories live.
func VMsDir() (string, error) {
	d, err := DataDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "vms"), nil
}

func xdgDir(env, fallback string) (string, error) {
	if d := os.Getenv(env); d != "" {
		if !filepath.IsAbs(d) {
			return "", fmt.Errorf("%s=%q is not an absolute path", env, d)
		}
		return filepath.Join(d, "nixvm"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find home directory (set %s): %w", env, err)
	}
	return filepath.Join(home, fallback, "nixvm"), nil
}

// runtimeDir is where sockets go when the instance directory path is too
// long: $XDG_RUNTIME_DIR/nixvm, else /tmp/nixvm-UID.
func runtimeDir() string {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "nixvm")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("nixvm-%d", os.Getuid()))
}

// Instance names the files of one VM's instance directory.
type Instance struct {
	Name string
	Dir  string
}

// Open returns the Instance for name under the current XDG data dir. It does
// not check that the directory exists.
func Open(name string) (Instance, error) {
	vms, err := VMsDir()
	if err != nil {
		return Instance{}, err
	}
	return Instance{Name: name, Dir: filepath.Join(vms, name)}, nil
}

func (in Instance) path(f string) string { return filepath.Join(in.Dir, f) }

func (in Instance) SpecFile() string    { return in.path("spec.yaml") }
func (in Instance) StateFile() string   { return in.path("state.json") }
func (in Instance) EventsFile() string  { return in.path("events.jsonl") }
func (in Instance) PIDFile() string     { return in.path("qemu.pid") }
func (in Instance) SerialLog() string   { return in.path("serial.log") }
func (in Instance) QEMULog() string     { return in.path("qemu.log") }
func (in Instance) CmdlineFile() string { return in.path("cmdline") }

// EFIVars is this VM's UEFI variable store: efivars.qcow2 from on-disk
// format 2 on, efivars.fd (raw) before.
func (in Instance) EFIVars() string {
	if in.rawEFIVars() {
		return in.path("efivars.fd")
	}
	return in.path("efivars.qcow2")
}

// EFIVarsFormat is the QEMU block format of EFIVars: qcow2 or raw.
func (in Instance) EFIVarsFormat() string {
	if in.rawEFIVars() {
		return "raw"
	}
	return "qcow2"
}

// rawEFIVars: a VM of format 1 keeps its raw efivars.fd.
func (in Instance) rawEFIVars() bool {
	v, err := in.Format()
	return err == nil && v < 2
}
func (in Instance) LockFile() string  { return in.path("lock") }
func (in Instance) SeedImage() string { return in.path("seed.iso") }

// SidecarPID and SidecarLog are the pidfile ("PID STARTTIME") and log of
// the VM's sidecar process name (virtiofsd, a proxy, ...).
func (in Instance) SidecarPID(name string) string { return in.path("sidecar-" + name + ".pid") }
func (in Instance) SidecarLog(name string) string { return in.path("sidecar-" + name + ".log") }

// SidecarPIDs lists the sidecar pidfiles present.
func (in Instance) SidecarPIDs() []string {
	m, _ := filepath.Glob(in.path("sidecar-*.pid"))
	return m
}

// Disk returns the path of disk i (disk0.qcow2, disk1.qcow2).
func (in Instance) Disk(i int) string { return in.path(fmt.Sprintf("disk%d.qcow2", i)) }

// SocketDir is the directory holding qmp.sock and serial.sock: the instance
// directory itself when the paths fit in a unix socket address, otherwise a
// short per-instance directory under the runtime dir.
func (in Instance) SocketDir() string {
	if len(in.path("serial.sock")) <= maxSocketPath {
		return in.Dir
	}
	sum := sha256.Sum256([]byte(in.Dir))
	return filepath.Join(runtimeDir(), hex.EncodeToString(sum[:6]))
}

func (in Instance) QMPSocket() string    { return filepath.Join(in.SocketDir(), "qmp.sock") }
func (in Instance) SerialSocket() string { return filepath.Join(in.SocketDir(), "serial.sock") }

// QGASocket is the host end of the guest agent's virtio-serial port;
// VNCSocket and SpiceSocket are where QEMU's VNC and SPICE servers listen.
// All sit next to the other sockets, under the same path limit.
func (in Instance) QGASocket() string   { return filepath.Join(in.SocketDir(), "qga.sock") }
func (in Instance) VNCSocket() string   { return filepath.Join(in.SocketDir(), "vnc.sock") }
func (in Instance) SpiceSocket() string { return filepath.Join(in.SocketDir(), "spice.sock") }

// HostKey is the VM's SSH host key (its .pub beside it), KnownHosts the
// known_hosts line nixvm verifies it with, SSHConfig the OpenSSH client
// config nixvm ssh writes.
func (in Instance) HostKey() string    { return in.path("ssh_host_ed25519_key") }
func (in Instance) KnownHosts() string { return in.path("known_hosts") }
func (in Instance) SSHConfig() string  { return in.path("ssh_config") }

// BaseDisk is a new name for a frozen base of disk i (nixvm clone),
// disk<i>.base-<unix nanos>.qcow2: in the VM's own directory, so that
// relative backing names inside it stay valid.
func (in Instance) BaseDisk(i int, t time.Time) string {
	return in.path("disk" + strconv.Itoa(i) + ".base-" + strconv.FormatInt(t.UnixNano(), 10) + ".qcow2")
}

// BaseDisks lists the VM's frozen bases.
func (in Instance) BaseDisks() []string {
	m, _ := filepath.Glob(in.path("disk[0-9]*.base-*.qcow2"))
	return m
}

// IsBaseDisk says whether path is a frozen base of in (BaseDisk's name, in
// in's directory).
func (in Instance) IsBaseDisk(path string) bool {
	return filepath.Dir(path) == in.Dir && strings.Contains(filepath.Base(path), ".base-")
}
