package installer

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixvm/nixvm/internal/spec"
	"github.com/nixvm/nixvm/internal/store"
)

func testEnv(t *testing.T) {
	t.Helper()
	for _, v := range []string{"XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_RUNTIME_DIR"} {
		t.Setenv(v, t.TempDir())
	}
}

func createSpec(t *testing.T, mutate func(*spec.Spec)) *spec.Spec {
	t.Helper()
	s := &spec.Spec{Name: "lab"}
	mutate(s)
	s.ApplyDefaults()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCreateRefusesEarly: what the pure checks or the installer ISO refuse
// fails before any VM is made (facts are not even needed); an ISO's error
// names no flag (the CLI adds --iso).
func TestCreateRefusesEarly(t *testing.T) {
	notISO := filepath.Join(t.TempDir(), "notes.iso")
	if err := os.WriteFile(notISO, []byte("not an ISO\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		mutate func(*spec.Spec)
		op     string // the ISOError's Op, "" for none
		want   string
	}{
		{"too little memory", func(s *spec.Spec) { s.Memory = 1 << 30 }, "", "memory: 1G is too small for an unattended install"},
		{"release too old", func(s *spec.Spec) { s.Release = "22.11" }, "", "release: 22.11 is too old for this VM"},
		{"not an installer", func(s *spec.Spec) { s.ISO = notISO }, ISOInspect, notISO},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testEnv(t)
			_, err := Create(t.Context(), nil, createSpec(t, tt.mutate), CreateOptions{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one saying %q", err, tt.want)
			}
			if tt.op != "" && strings.Contains(err.Error(), "--") {
				t.Errorf("the installer's error names a flag: %v", err)
			}
			var ie *ISOError
			if got := errors.As(err, &ie); got != (tt.op != "") || (got && ie.Op != tt.op) {
				t.Errorf("err = %#v, want an *ISOError with Op %q: %v", err, tt.op, got)
			}
			if ins, _ := store.List(); len(ins) != 0 {
				t.Errorf("a refused create left VMs: %v", ins)
			}
		})
	}
}

func TestISOErrorMessages(t *testing.T) {
	cause := errors.New("release: 23.05 is too old for this VM")
	tests := []struct {
		err  *ISOError
		want string
	}{
		{&ISOError{Op: ISOGet, Err: errors.New("no route to host")}, "get the installer: no route to host"},
		{&ISOError{Op: ISOInspect, ISO: "/x.iso", Err: errors.New("/x.iso: not an ISO 9660 image")}, "/x.iso: not an ISO 9660 image"},
		{&ISOError{Op: ISORelease, ISO: "/x.iso", Release: "23.05", Err: cause}, "/x.iso is NixOS 23.05: " + cause.Error()},
		{&ISOError{Op: ISORelease, Release: "23.05", Err: cause}, cause.Error()},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.err, got, tt.want)
		}
		if !errors.Is(tt.err, tt.err.Err) {
			t.Errorf("%+v does not wrap its cause", tt.err)
		}
	}
}
