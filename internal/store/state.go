package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Phase is how far the making of a VM got. It is recorded in state.json;
// whether the VM runs is never recorded, it is derived from the pidfile.
type Phase string

const (
	PhaseCreating   Phase = "creating"   // instance directory being made
	PhaseInstalling Phase = "installing" // unattended install under way
	PhaseReady      Phase = "ready"      // disks exist; the VM can start
	PhaseFailed     Phase = "failed"     // making or installing failed; see Reason
)

// State is the content of state.json.
type State struct {
	Phase   Phase  `json:"phase"`
	Reason  string `json:"reason,omitempty"`
	Manual  bool   `json:"manual,omitempty"`  // made with create --manual: boots its ISO
	ISO     string `json:"iso,omitempty"`     // ISO attached on start (manual installs)
	SSHPort int    `json:"sshPort,omitempty"` // host port of the last start
	Display string `json:"display,omitempty"` // the last nixvm start --display, used until another is given
	// Protected keeps a golden base as it is (nixvm protect): it is
	// neither started nor removed until unprotected; clones of it work.
	Protected bool      `json:"protected,omitempty"`
	Updated   time.Time `json:"updated"`
}

// ReadState reads state.json. A missing file is reported with os.ErrNotExist.
func (in Instance) ReadState() (State, error) {
	var st State
	b, err := os.ReadFile(in.StateFile())
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("read %s: %w", in.StateFile(), err)
	}
	return st, nil
}

// WriteState replaces state.json atomically (temp file, fsync, rename), so a
// crash never leaves a torn state file. Only the lock holder writes.
func (l *Lock) WriteState(st State) error { return l.in.writeState(st) }

func (in Instance) writeState(st State) error {
	st.Updated = time.Now().UTC()
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(in.StateFile(), append(b, '\n'), 0o600)
}

// UpdateState applies f to the current state (zero State when none) and
// writes it back. It is a method of the Lock so that the read-modify-write
// cannot race with another nixvm command.
func (l *Lock) UpdateState(f func(*State)) error {
	st, err := l.in.ReadState()
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("update the state of VM %s: %w", l.in.Name, err)
	}
	f(&st)
	if err := l.in.writeState(st); err != nil {
		return fmt.Errorf("update the state of VM %s: %w", l.in.Name, err)
	}
	return nil
}

// WriteFileAtomic writes data to path through a temporary file in the same
// directory, fsyncs it and renames it over path.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
