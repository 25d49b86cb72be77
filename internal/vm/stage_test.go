package vm

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nixvm/nixvm/internal/store"
)

// TestSweepLeftovers: the hidden directories of a killed create, clone or
// rm go; a VM, one whose command still holds its lock, and one made a
// moment ago stay.
func TestSweepLeftovers(t *testing.T) {
	vms := t.TempDir()
	old := time.Now().Add(-2 * leftoverAge)
	mk := func(name string, age time.Time) store.Instance {
		in := store.Instance{Name: name, Dir: filepath.Join(vms, name)}
		if err := os.MkdirAll(in.Dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(in.Dir, "disk0.qcow2"), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(in.Dir, age, age); err != nil {
			t.Fatal(err)
		}
		return in
	}
	mk(".a.creating-123", old)
	mk(".b.removing-456", old)
	held := mk(".c.removing-789", old)
	mk(".d.creating-000", time.Now())
	mk("e", old)
	mk(".f", old) // hidden, but not nixvm's leftover
	lock, err := held.TryLock("rm")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Unlock()
	if err := os.Chtimes(held.Dir, old, old); err != nil { // TryLock wrote the lock file
		t.Fatal(err)
	}

	sweepLeftovers(vms)

	for name, want := range map[string]bool{
		".a.creating-123": false, ".b.removing-456": false,
		".c.removing-789": true, ".d.creating-000": true, "e": true, ".f": true,
	} {
		_, err := os.Stat(filepath.Join(vms, name))
		if got := err == nil; got != want {
			t.Errorf("%s: kept = %v, want %v (%v)", name, got, want, err)
		}
	}
}
