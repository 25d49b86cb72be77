package vm

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nixvm/nixvm/internal/store"
)

// staged is an instance directory being made: a hidden temporary directory
// next to its final place, locked before anything is made in it, and
// renamed into place by commit. Whatever ends before commit calls abort,
// which removes it: a VM appears whole or not at all.
type staged struct {
	final store.Instance
	tmp   store.Instance
	lock  *store.Lock
}

// stage starts making VM name. op names the operation in the lock.
func stage(name, op string) (*staged, error) {
	in, err := store.Open(name)
	if err != nil {
		return nil, err
	}
	if in.Exists() {
		return nil, &ExistsError{Name: name}
	}
	parent := filepath.Dir(in.Dir)
	sweepLeftovers(parent)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return nil, fmt.Errorf("make %s: %w", parent, err)
	}
	tmpDir, err := os.MkdirTemp(parent, "."+name+".creating-")
	if err != nil {
		return nil, fmt.Errorf("make instance directory: %w", err)
	}
	tmp := store.Instance{Name: name, Dir: tmpDir}
	lock, err := tmp.TryLock(op)
	if err != nil {
		os.RemoveAll(tmpDir)
		return nil, err
	}
	st := &staged{final: in, tmp: tmp, lock: lock}
	if err := os.Chmod(tmpDir, 0o700); err != nil {
		st.abort()
		return nil, err
	}
	if err := lock.WriteFormat(); err != nil {
		st.abort()
		return nil, err
	}
	return st, nil
}

// abort unlocks and removes the temporary directory.
func (s *staged) abort() {
	s.lock.Unlock()
	os.RemoveAll(s.tmp.Dir)
}

// commit renames the directory into place; the lock stays held (the
// rename keeps the flock's inode) and now names the final instance.
func (s *staged) commit() (*store.Lock, error) {
	if err := os.Rename(s.tmp.Dir, s.final.Dir); err != nil {
		return nil, fmt.Errorf("make VM %s: %w", s.final.Name, err)
	}
	s.lock.Moved(s.final)
	return s.lock, nil
}

// sweepLeftovers removes the hidden directories that a create, clone or rm
// killed with SIGKILL left next to the VMs (.NAME.creating-*,
// .NAME.removing-*): nothing refers to them, and a --full clone's can be
// as large as its disks. A directory whose lock is held (its command still
// runs), whose QEMU is alive, or that changed in the last minute is left
// alone: the last covers the moment between a stage's MkdirTemp and its
// TryLock, when a live directory is not locked yet. Errors are ignored: the sweep
// is housekeeping, never the reason a command fails.
const leftoverAge = time.Minute

func sweepLeftovers(vmsDir string) {
	ents, err := os.ReadDir(vmsDir)
	if err != nil {
		return
	}
	for _, e := range ents {
		name := e.Name()
		if !e.IsDir() || !strings.HasPrefix(name, ".") ||
			!(strings.Contains(name, ".creating-") || strings.Contains(name, ".removing-")) {
			continue
		}
		if fi, err := e.Info(); err != nil || time.Since(fi.ModTime()) < leftoverAge {
			continue
		}
		in := store.Instance{Name: name, Dir: filepath.Join(vmsDir, name)}
		lock, err := in.TryLock("sweep")
		if err != nil {
			continue
		}
		if Status(in).PID == 0 {
			os.RemoveAll(in.Dir)
		}
		lock.Unlock()
	}
}
