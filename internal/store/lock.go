package store

import (
	"fmt"

	"github.com/gofrs/flock"
)

// Lock is an exclusive per-VM lock held by the one nixvm process that is
// changing the VM (create, start, stop, rm). It is an flock, so a killed
// process releases it automatically.
type Lock struct{ fl *flock.Flock }

// TryLock takes the VM's lock or fails at once, saying who to wait for.
func (in Instance) TryLock() (*Lock, error) {
	fl := flock.New(in.LockFile())
	ok, err := fl.TryLock()
	if err != nil {
		return nil, fmt.Errorf("lock VM %s: %w", in.Name, err)
	}
	if !ok {
		return nil, fmt.Errorf("VM %s is busy: another nixvm command (create, start, stop or rm) holds its lock; wait for it to finish and try again", in.Name)
	}
	return &Lock{fl: fl}, nil
}

// Unlock releases the lock.
func (l *Lock) Unlock() error { return l.fl.Unlock() }
