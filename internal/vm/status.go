package vm

import (
	"os"
	"syscall"

	"github.com/nixvm/nixvm/internal/qemu"
	"github.com/nixvm/nixvm/internal/store"
)

// The states a VM can be in, as shown by status and list.
const (
	StateRunning    = "running"
	StateInstalling = "installing" // the installer runs (nixvm create)
	StateStopped    = "stopped"
	StateCrashed    = "crashed"    // QEMU died without a clean exit (pidfile left behind)
	StateIncomplete = "incomplete" // create or install did not finish
	StateFailed     = "failed"     // create or install failed; see reason
	// The VM was made by a newer nixvm (its on-disk format is newer); this
	// one neither starts nor replaces it.
	StateUnsupported = "unsupported"
)

// Info is what status and list report about a VM.
type Info struct {
	Name      string `json:"name"`
	State     string `json:"state"`
	Reason    string `json:"reason,omitempty"`
	PID       int    `json:"pid,omitempty"`
	Arch      string `json:"arch,omitempty"`
	Firmware  string `json:"firmware,omitempty"`
	CPUs      int    `json:"cpus,omitempty"`
	Memory    string `json:"memory,omitempty"`
	DiskBytes int64  `json:"diskBytes"` // bytes the disk images use on the host
	SSHPort   int    `json:"sshPort,omitempty"`
	// CloneOf names the VM this one is a linked clone of (its disks read
	// through that VM's frozen base images).
	CloneOf string `json:"cloneOf,omitempty"`
	// Protected: a golden base (nixvm protect), not started or removed.
	Protected bool   `json:"protected,omitempty"`
	Dir       string `json:"dir"`
}

// processState is the pure decision: what state a VM is in given what was
// found on disk.
func processState(haveSpec bool, st store.State, stateErr error, pidfile bool, alive bool) string {
	switch {
	case alive && st.Phase == store.PhaseInstalling:
		return StateInstalling
	case alive:
		return StateRunning
	case pidfile:
		// QEMU removes its pidfile on every clean exit; one left behind
		// with no process means QEMU was killed or crashed.
		return StateCrashed
	case !haveSpec || stateErr != nil:
		return StateIncomplete
	case st.Phase == store.PhaseFailed:
		return StateFailed
	case st.Phase == store.PhaseCreating || st.Phase == store.PhaseInstalling:
		return StateIncomplete
	default:
		return StateStopped
	}
}

// Status derives the VM's state from its instance directory: spec, state
// file, pidfile and the process table. Nothing is kept anywhere else.
func Status(in store.Instance) Info {
	info := Info{Name: in.Name, Dir: in.Dir}
	s, specErr := LoadSpec(in)
	st, stErr := in.ReadState()
	pid, pidErr := qemu.ReadPID(in.PIDFile())
	_, statErr := os.Stat(in.PIDFile())
	pidfile := statErr == nil
	alive := pidErr == nil && qemu.Alive(pid, in.PIDFile())
	if !pidfile {
		// A QEMU whose pidfile was deleted under it still runs the VM:
		// running means a live QEMU, whatever the files say.
		if p := qemu.FindByPidfile(in.PIDFile()); p != 0 {
			pid, alive = p, true
		}
	}
	info.State = processState(specErr == nil, st, stErr, pidfile, alive)
	if ferr := in.CheckFormat(); ferr != nil && !alive {
		info.State, info.Reason = StateUnsupported, ferr.Error()
	}
	info.Protected = st.Protected
	if alive {
		info.PID = pid
		info.SSHPort = st.SSHPort
	}
	if info.State == StateFailed || info.State == StateIncomplete {
		info.Reason = st.Reason
	}
	if specErr == nil {
		info.Arch, info.Firmware, info.CPUs, info.Memory = s.Arch, s.Firmware, s.CPUs, s.Memory.String()
		for i := range s.Disks {
			info.DiskBytes += allocated(in.Disk(i))
		}
		// Frozen bases (nixvm clone) are this VM's disks too.
		for _, b := range in.BaseDisks() {
			info.DiskBytes += allocated(b)
		}
		info.CloneOf, _ = BaseOf(in)
		if !alive && s.SSHPort != 0 {
			info.SSHPort = s.SSHPort
		}
	}
	return info
}

// allocated is the space a file takes on the host (qcow2 files are sparse).
func allocated(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Blocks * 512
	}
	return fi.Size()
}
