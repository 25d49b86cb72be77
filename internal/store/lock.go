package store

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Lock is an exclusive per-VM lock held by the one nixvm process that is
// changing the VM (create, start, stop, rm). It is an flock, so a killed
// process releases it automatically. The holder writes its operation and
// PID into the lock file so that a loser can say whom it waits for.
//
// Changes of state.json go through the Lock (UpdateState, WriteState): a
// read-modify-write by anyone but the holder cannot happen.
type Lock struct {
	f  *os.File
	in Instance
	op string
}

// BusyError says that another nixvm command holds a VM's lock.
type BusyError struct {
	Name string
	// Holder is the operation of the holder and its PID ("create (pid
	// 123) since 19:58:01"); empty when it could not be read.
	Holder string
}

func (e *BusyError) Error() string {
	holder := "another nixvm command"
	if e.Holder != "" {
		holder = "nixvm " + e.Holder
	}
	return fmt.Sprintf("VM %s is busy: %s holds its lock; wait for it to finish and try again", e.Name, holder)
}

// ErrBusy matches every *BusyError with errors.Is.
var ErrBusy = errors.New("VM is busy")

func (e *BusyError) Is(target error) bool { return target == ErrBusy }

// TryLock takes the VM's lock for op ("start", "stop", ...) or fails at
// once with a *BusyError naming the holder's operation.
func (in Instance) TryLock(op string) (*Lock, error) {
	f, err := os.OpenFile(in.LockFile(), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock VM %s: %w", in.Name, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, &BusyError{Name: in.Name, Holder: readHolder(in.LockFile())}
		}
		return nil, fmt.Errorf("lock VM %s: %w", in.Name, err)
	}
	// Who holds it, for the error of a loser; best effort.
	if err := f.Truncate(0); err == nil {
		fmt.Fprintf(f, "%s %d %s\n", op, os.Getpid(), time.Now().Format(time.TimeOnly))
	}
	return &Lock{f: f, in: in, op: op}, nil
}

func readHolder(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return ""
	}
	if _, err := strconv.Atoi(f[1]); err != nil {
		return ""
	}
	h := fmt.Sprintf("%s (pid %s)", f[0], f[1])
	if len(f) >= 3 {
		h += " since " + f[2]
	}
	return h
}

// Instance is the VM this lock is for.
func (l *Lock) Instance() Instance { return l.in }

// Op is the operation the lock was taken for.
func (l *Lock) Op() string { return l.op }

// Moved tells the lock that its instance directory was renamed (create
// builds a VM in a temporary directory and renames it into place; the flock
// stays on the same file).
func (l *Lock) Moved(to Instance) { l.in = to }

// Unlock clears the holder and releases the lock.
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	_ = l.f.Truncate(0)
	err := unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}
