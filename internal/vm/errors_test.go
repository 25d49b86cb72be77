package vm

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixvm/nixvm/internal/host"
	"github.com/nixvm/nixvm/internal/images"
	"github.com/nixvm/nixvm/internal/spec"
	"github.com/nixvm/nixvm/internal/store"
)

// hasStep says that err carries the step next for VM name (and tag), and
// that its message states the fact only: no nixvm command, no flag.
func hasStep(err error, next Next, name, tag string) bool {
	var se *StepError
	if !errors.As(err, &se) || se.Step != (Step{Next: next, Name: name, Tag: tag}) {
		return false
	}
	return !strings.Contains(err.Error(), "nixvm ") && !strings.Contains(err.Error(), "--")
}

// TestStateErrors: a VM in the wrong state, or a name taken, is refused
// with a typed error whose message states the fact; the CLI words what to
// do (internal/cli's TestExplain).
func TestStateErrors(t *testing.T) {
	root := t.TempDir()
	t.Setenv("XDG_DATA_HOME", root)
	t.Setenv("XDG_RUNTIME_DIR", filepath.Join(root, "r"))
	in, err := store.Open("half")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(in.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in.StateFile(), []byte(`{"phase":"installing"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	lock, err := in.TryLock("test")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Unlock()
	factOnly := func(err error) bool {
		return err != nil && !strings.Contains(err.Error(), "nixvm ") && !strings.Contains(err.Error(), "--")
	}

	var st *StateError
	_, err = Start(t.Context(), &host.Facts{}, lock, StartOptions{})
	if !errors.As(err, &st) || st.Name != "half" || st.State != StateIncomplete || st.Op != "started" || !factOnly(err) {
		t.Errorf("Start of a half-made VM: %v, want a StateError (incomplete, started), the fact only", err)
	}
	_, err = LoadSpec(in)
	if !errors.As(err, &st) || st.State != StateIncomplete || st.Op != "loaded" || !errors.Is(err, os.ErrNotExist) || !factOnly(err) {
		t.Errorf("LoadSpec without spec.yaml: %v, want a StateError (incomplete, loaded) wrapping ErrNotExist", err)
	}
	var ex *ExistsError
	if _, err := stage("half", "test"); !errors.As(err, &ex) || ex.Name != "half" || !factOnly(err) {
		t.Errorf("stage of an existing name: %v, want an ExistsError, the fact only", err)
	}
	s := &spec.Spec{Name: "half"}
	s.ApplyDefaults()
	if _, err := Create(t.Context(), &host.Facts{}, s, CreateOptions{Manual: true}); !errors.As(err, &ex) || !factOnly(err) {
		t.Errorf("Create of an existing name: %v, want an ExistsError, the fact only", err)
	}
}

// TestNotCached: a dry run that would download the installer says so with
// a NotCachedError (errors.Is ErrNotCached) naming the release, no command.
func TestNotCached(t *testing.T) {
	_, err := CachedInstallerISO(&spec.Spec{Release: "25.05", Arch: "x86_64"}, images.PullOptions{CacheDir: t.TempDir()})
	var nc *NotCachedError
	if !errors.Is(err, ErrNotCached) || !errors.As(err, &nc) || nc.Release != "25.05" || strings.Contains(err.Error(), "nixvm ") || strings.Contains(err.Error(), "--") {
		t.Errorf("CachedInstallerISO of an uncached release: %v, want a NotCachedError for 25.05, the fact only", err)
	}
}
