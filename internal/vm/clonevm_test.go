package vm

import (
	"errors"
	"testing"

	"github.com/nixvm/nixvm/internal/store"
)

// TestCloneVM: clone holds the source's lock only while it makes the
// clone (Made sees it free, the clone there), and lets both go when it
// returns; a source another command holds is refused at once.
func TestCloneVM(t *testing.T) {
	facts, srcLock := cloneSource(t)
	src := srcLock.Instance()

	var busy *store.BusyError
	if _, err := CloneVM(t.Context(), facts, src.Name, "c1", CloneRequest{}); !errors.As(err, &busy) {
		t.Errorf("clone of a locked source: %v, want a BusyError", err)
	}
	srcLock.Unlock()

	made := 0
	res, err := CloneVM(t.Context(), facts, src.Name, "c1", CloneRequest{Made: func(r CloneResult) {
		made++
		if r.Took <= 0 {
			t.Errorf("Made(%s), want the time making the clone took", r.Took)
		}
		if _, err := store.Lookup("c1"); err != nil {
			t.Errorf("Made before the clone exists: %v", err)
		}
		if err := tryLock(src.Name); err != nil {
			t.Errorf("source still locked once the clone exists: %v", err)
		}
		var busy *store.BusyError
		if err := tryLock("c1"); !errors.As(err, &busy) {
			t.Errorf("clone's lock while Made runs: %v, want it held (BusyError)", err)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if made != 1 || res.Instance.Name != "c1" || res.Took <= 0 || res.Ready != 0 || res.SSHPort != 0 {
		t.Errorf("CloneVM: %+v, Made called %d times; want c1, a time, no start, Made once", res, made)
	}
	for _, name := range []string{src.Name, "c1"} {
		if err := tryLock(name); err != nil {
			t.Errorf("VM %s still locked after CloneVM: %v", name, err)
		}
	}
}

// tryLock says whether VM name's lock can be taken (and lets it go).
func tryLock(name string) error {
	in, err := store.Lookup(name)
	if err != nil {
		return err
	}
	l, err := in.TryLock("test")
	if err == nil {
		l.Unlock()
	}
	return err
}
