package store

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func tempInstance(t *testing.T) Instance {
	t.Helper()
	return Instance{Name: "vm1", Dir: t.TempDir()}
}

// TestLockNamesHolder: the loser fails at once with a BusyError naming the
// holder's operation and PID; after Unlock the lock is free and the holder
// line is gone.
func TestLockNamesHolder(t *testing.T) {
	in := tempInstance(t)
	l, err := in.TryLock("create")
	if err != nil {
		t.Fatal(err)
	}
	_, err = in.TryLock("stop")
	var busy *BusyError
	if !errors.As(err, &busy) || !errors.Is(err, ErrBusy) {
		t.Fatalf("second TryLock: %v, want a *BusyError", err)
	}
	for _, want := range []string{"VM vm1 is busy", "nixvm create (pid ", "wait for it"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("busy error %q does not say %q", err, want)
		}
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(in.LockFile()); len(b) != 0 {
		t.Errorf("lock file after Unlock holds %q, want empty", b)
	}
	l2, err := in.TryLock("stop")
	if err != nil {
		t.Fatalf("TryLock after Unlock: %v", err)
	}
	l2.Unlock()
}

func TestBusyHolderUnreadable(t *testing.T) {
	for _, content := range []string{"", "garbage", "start notapid"} {
		in := tempInstance(t)
		os.WriteFile(in.LockFile(), []byte(content), 0o600)
		if got := readHolder(in.LockFile()); got != "" {
			t.Errorf("holder of %q = %q, want none", content, got)
		}
	}
	err := (&BusyError{Name: "x"}).Error()
	if !strings.Contains(err, "another nixvm command") {
		t.Errorf("busy error without a holder: %q", err)
	}
}

// TestUpdateState: updates through the lock keep what they do not change,
// and a torn or unreadable state file is an error naming it, not a silent
// reset to a zero state.
func TestUpdateState(t *testing.T) {
	in := tempInstance(t)
	l, err := in.TryLock("test")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	if err := l.WriteState(State{Phase: PhaseReady, Manual: true}); err != nil {
		t.Fatal(err)
	}
	if err := l.UpdateState(func(st *State) { st.SSHPort = 2222 }); err != nil {
		t.Fatal(err)
	}
	st, err := in.ReadState()
	if err != nil || st.SSHPort != 2222 || st.Phase != PhaseReady || !st.Manual {
		t.Fatalf("state = %+v, %v; want phase ready, manual, port 2222", st, err)
	}
	os.WriteFile(in.StateFile(), []byte("{torn"), 0o600)
	err = l.UpdateState(func(st *State) { st.SSHPort = 1 })
	if err == nil || !strings.Contains(err.Error(), "state.json") {
		t.Fatalf("update of a torn state file: %v, want an error naming state.json", err)
	}
}

// TestLockSurvivesRename: create locks its temporary directory and renames
// it into place; the lock must hold at the new path.
func TestLockSurvivesRename(t *testing.T) {
	parent := t.TempDir()
	tmp := Instance{Name: "vm1", Dir: parent + "/.vm1.creating-1"}
	os.Mkdir(tmp.Dir, 0o700)
	l, err := tmp.TryLock("create")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	final := Instance{Name: "vm1", Dir: parent + "/vm1"}
	if err := os.Rename(tmp.Dir, final.Dir); err != nil {
		t.Fatal(err)
	}
	l.Moved(final)
	if l.Instance() != final {
		t.Fatalf("lock instance = %+v after Moved", l.Instance())
	}
	if _, err := final.TryLock("stop"); !errors.Is(err, ErrBusy) {
		t.Fatalf("TryLock at the renamed path: %v, want busy", err)
	}
}
