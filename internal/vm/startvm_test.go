package vm

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/nixvm/nixvm/internal/host"
	"github.com/nixvm/nixvm/internal/spec"
	"github.com/nixvm/nixvm/internal/store"
)

// manualVM makes a stopped VM "man" by hand (no QEMU, no qemu-img): a
// spec with a fixed SSH port, and the state of a create --manual whose
// ISO is gone.
func manualVM(t *testing.T) store.Instance {
	t.Helper()
	root := t.TempDir()
	t.Setenv("XDG_DATA_HOME", root)
	t.Setenv("XDG_RUNTIME_DIR", filepath.Join(root, "r"))
	in, err := store.Open("man")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(in.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	s := &spec.Spec{Name: "man", Firmware: "bios", SSHPort: 2299}
	s.ApplyDefaults()
	data, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in.SpecFile(), data, 0o600); err != nil {
		t.Fatal(err)
	}
	st := `{"phase":"ready","manual":true,"iso":"/nonexistent/installer.iso","display":"vnc"}`
	if err := os.WriteFile(in.StateFile(), []byte(st), 0o600); err != nil {
		t.Fatal(err)
	}
	return in
}

// TestStartVMDryRun: a dry run plans with the flags' choices, takes no
// lock and writes no state; --no-iso boots the disk without looking for
// the manual VM's ISO.
func TestStartVMDryRun(t *testing.T) {
	in := manualVM(t)
	before, err := os.ReadFile(in.StateFile())
	if err != nil {
		t.Fatal(err)
	}
	// Another command holds the lock: a dry run does not need it.
	lock, err := in.TryLock("test")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Unlock()

	_, err = StartVM(t.Context(), &host.Facts{}, "man", StartRequest{DryRun: true})
	var nf *ISONotFoundError
	if !errors.As(err, &nf) || nf.Path != "/nonexistent/installer.iso" {
		t.Errorf("dry run of a manual VM whose ISO is gone: %v, want an ISONotFoundError for it", err)
	}

	res, err := StartVM(t.Context(), &host.Facts{}, "man", StartRequest{DryRun: true, NoISO: true, Display: "none"})
	if err != nil {
		t.Fatalf("dry run --no-iso: %v", err)
	}
	if res.Instance.Name != "man" || res.PID != 0 || res.ISO != "" || res.DirectBoot || res.SSHPort != 2299 {
		t.Errorf("dry run --no-iso: %+v, want VM man, no pid, no ISO, the spec's port 2299", res)
	}
	if res.Display.Mode != "none" || res.Display.From != DisplayFromFlag {
		t.Errorf("dry run --display none: display %+v, want none from the flag", res.Display)
	}
	if len(res.Argv) == 0 || !slices.Contains(res.Argv, "-display") || !slices.Contains(res.Argv, "none") {
		t.Errorf("dry run argv %q, want -display none", res.Argv)
	}
	for _, a := range res.Argv {
		if filepath.Base(a) == "installer.iso" || a == "-cdrom" {
			t.Errorf("dry run --no-iso argv attaches an ISO: %q", res.Argv)
		}
	}
	after, err := os.ReadFile(in.StateFile())
	if err != nil {
		t.Fatal(err)
	}
	if string(after) != string(before) {
		t.Errorf("dry run changed state.json:\n%s\nwant\n%s", after, before)
	}
}

// TestStartVMState: a start holds the VM's lock, and records --no-iso and
// --display in state.json before QEMU starts (here it cannot: no QEMU),
// and lets go of the lock when it returns.
func TestStartVMState(t *testing.T) {
	in := manualVM(t)
	lock, err := in.TryLock("test")
	if err != nil {
		t.Fatal(err)
	}
	var busy *store.BusyError
	if _, err := StartVM(t.Context(), &host.Facts{}, "man", StartRequest{NoISO: true}); !errors.As(err, &busy) {
		t.Errorf("start of a locked VM: %v, want a BusyError", err)
	}
	lock.Unlock()

	for _, tt := range []struct {
		display, want string
	}{
		{"gtk", "gtk"},
		{"", "gtk"},  // no --display: the remembered one stays
		{"auto", ""}, // auto forgets it
	} {
		_, err := StartVM(t.Context(), &host.Facts{}, "man", StartRequest{NoISO: true, Display: tt.display})
		if err == nil {
			t.Fatal("start without QEMU succeeded")
		}
		st, err := in.ReadState()
		if err != nil {
			t.Fatal(err)
		}
		if st.Manual || st.ISO != "" || st.Display != tt.want {
			t.Errorf("after start --no-iso --display %q: state %+v, want not manual, no ISO, display %q", tt.display, st, tt.want)
		}
	}
	l, err := in.TryLock("test")
	if err != nil {
		t.Fatalf("lock after the starts: %v, want it free", err)
	}
	l.Unlock()
}
