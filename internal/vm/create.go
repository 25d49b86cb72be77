// Package vm carries out the life of one VM: create, start, stop, status,
// remove. It joins the pure planners (spec, qemu.Command) to the executors
// (qemu-img, the QEMU process, QMP) and keeps the instance directory
// consistent; commands in internal/cli only parse and print.
package vm

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/nixvm/nixvm/internal/host"
	"github.com/nixvm/nixvm/internal/qemuimg"
	"github.com/nixvm/nixvm/internal/spec"
	"github.com/nixvm/nixvm/internal/store"
)

// CreateOptions are the choices of create beyond the spec.
type CreateOptions struct {
	// Manual prepares a VM that boots its installer (the spec's iso, or
	// its release) for a hand install.
	Manual bool
}

// Create makes the instance directory of s (validated) with its disks and,
// for UEFI, its own copy of the firmware variables, and returns the VM's
// lock, held: the caller keeps it for the rest of its work on the VM (the
// install) and unlocks it. Create is all or nothing: everything is made in
// a temporary directory next to the final one and renamed into place at the
// end, so a failure or an interrupt (ctx) leaves no VM behind. The lock is
// taken on the temporary directory's lock file before anything else is
// made there; the rename keeps it, so no other command can act on the VM
// between its appearance and the end of create.
func Create(ctx context.Context, facts *host.Facts, s *spec.Spec, opts CreateOptions) (lock *store.Lock, err error) {
	if in, err := store.Open(s.Name); err != nil {
		return nil, err
	} else if in.Exists() {
		return nil, &ExistsError{Name: s.Name}
	}
	qemuImg, err := facts.RequireQEMUImg()
	if err != nil {
		return nil, err
	}
	if _, err := facts.QEMUFor(s.Arch); err != nil {
		return nil, err
	}
	var firmware host.UEFIPair
	if s.Firmware == "uefi" {
		if firmware, err = facts.UEFIFor(s.Arch); err != nil {
			return nil, err
		}
	}
	if s.ISO != "" && !spec.IsURL(s.ISO) {
		// spec.yaml outlives the working directory of this command.
		abs, err := filepath.Abs(s.ISO)
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(abs); err != nil {
			return nil, &ISONotFoundError{Path: s.ISO, Err: err}
		}
		s.ISO = abs
	}
	sg, err := stage(s.Name, "create")
	if err != nil {
		return nil, err
	}
	tmp := sg.tmp
	lock = sg.lock
	defer func() {
		if err != nil {
			sg.abort()
			if ctx.Err() != nil {
				err = interrupted(ctx, fmt.Sprintf("VM %s was not created (what was made of it is removed)", s.Name))
			}
		}
	}()
	id, err := store.NewIdentity()
	if err != nil {
		return nil, err
	}
	if err := lock.WriteIdentity(id); err != nil {
		return nil, err
	}

	for i, d := range s.Disks {
		if err := qemuimg.Create(ctx, qemuImg.Path, tmp.Disk(i), d.Size.Bytes()); err != nil {
			return nil, fmt.Errorf("create disk %d: %w", i, err)
		}
		// qemu-img honours the umask; disks hold the guest's secrets.
		if err := os.Chmod(tmp.Disk(i), 0o600); err != nil {
			return nil, err
		}
	}
	if s.Firmware == "uefi" {
		// A qcow2 copy (format 2): a raw writable pflash would block
		// QEMU's internal snapshots.
		q := qemuimg.Tool{Path: qemuImg.Path}
		if err := q.Convert(ctx, firmware.Vars, tmp.EFIVars(), qemuimg.ConvertOptions{Format: tmp.EFIVarsFormat()}); err != nil {
			return nil, fmt.Errorf("copy UEFI variables from %s: %w", firmware.Vars, err)
		}
		if err := os.Chmod(tmp.EFIVars(), 0o600); err != nil {
			return nil, err
		}
	}
	data, err := s.Marshal()
	if err != nil {
		return nil, err
	}
	if err := store.WriteFileAtomic(tmp.SpecFile(), data, 0o600); err != nil {
		return nil, err
	}
	// An unattended create goes on with the install under this lock: until
	// the install says otherwise the VM is incomplete, whatever happens to
	// this process.
	st := store.State{Phase: store.PhaseInstalling, Manual: opts.Manual}
	if opts.Manual {
		st.Phase = store.PhaseReady
	}
	if opts.Manual && s.ISO != "" && !spec.IsURL(s.ISO) {
		st.ISO = s.ISO
	}
	if err := lock.WriteState(st); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return sg.commit()
}

// ISONotFoundError is a create refused because the spec's iso, a local
// path, names no file; or (Boot) a start whose ISO to attach is not there.
type ISONotFoundError struct {
	Path string // as the spec or the caller gives it
	Err  error  // os.Stat's
	Boot bool   // the ISO of a start: a local file only
}

func (e *ISONotFoundError) Error() string {
	if errors.Is(e.Err, fs.ErrNotExist) || e.Err == nil {
		return e.Path + ": no such file"
	}
	var pe *fs.PathError
	if errors.As(e.Err, &pe) {
		return e.Path + ": " + pe.Err.Error()
	}
	return e.Path + ": " + e.Err.Error()
}
func (e *ISONotFoundError) Unwrap() error { return e.Err }

// LoadSpec reads the resolved spec saved in the instance directory; a VM
// of a newer on-disk format than this nixvm's is refused.
func LoadSpec(in store.Instance) (*spec.Spec, error) {
	if err := in.CheckFormat(); err != nil {
		return nil, err
	}
	s, err := spec.Load(in.SpecFile())
	if err != nil {
		return nil, &StateError{Name: in.Name, State: StateIncomplete, Op: "loaded", Why: "no readable spec.yaml: " + err.Error(), Err: err}
	}
	return s, nil
}
