package cli

import (
	"context"
	"errors"
	"testing"

	"github.com/nixvm/nixvm/internal/installer"
	"github.com/nixvm/nixvm/internal/vm"
)

// TestCreateError: the CLI adds the flag (--iso) and what to do next to
// installer.Create's errors, and keeps them matchable.
func TestCreateError(t *testing.T) {
	cause := errors.New("boom")
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"download", &installer.ISOError{Op: installer.ISOGet, Err: cause}, "get the installer: boom (offline? give a local ISO with --iso PATH)"},
		{"local ISO not an installer", &installer.ISOError{Op: installer.ISOInspect, ISO: "/x.iso", Err: cause}, "--iso: boom"},
		{"release's ISO not an installer", &installer.ISOError{Op: installer.ISOInspect, Err: cause}, "boom"},
		{"local ISO too old", &installer.ISOError{Op: installer.ISORelease, ISO: "/x.iso", Release: "23.05", Err: cause}, "--iso /x.iso is NixOS 23.05: boom"},
		{"install failed", &installer.Error{Name: "lab", Phase: "formatting", Cause: cause},
			"install failed in phase formatting: boom\nThe VM is kept in state failed with its logs (nixvm logs lab). Run nixvm create again to retry, or nixvm rm lab."},
		{"install failed, cleanup too", &installer.Error{Name: "lab", Phase: "formatting", Cause: cause, Cleanup: errors.New("stuck")},
			"install failed in phase formatting: boom\nand cleaning up failed: stuck (see nixvm status lab)\nThe VM is kept in state failed with its logs (nixvm logs lab). Run nixvm create again to retry, or nixvm rm lab."},
		{"no such ISO", &vm.ISONotFoundError{Path: "x.iso", Err: cause}, "--iso: x.iso: no such file (give the path of a NixOS installer ISO, or a URL with --sha256)"},
		{"other", cause, "boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := createError(tt.err)
			if err.Error() != tt.want {
				t.Errorf("got  %q\nwant %q", err, tt.want)
			}
			if !errors.Is(err, cause) {
				t.Errorf("the cause is lost")
			}
		})
	}
	if err := createError(&installer.ISOError{Op: installer.ISOGet, Err: context.Canceled}); !errors.Is(err, context.Canceled) {
		t.Errorf("an interrupted download is not context.Canceled: %v", err)
	}
}
