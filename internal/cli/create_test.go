package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
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

// TestCreateFromFlags: create --from takes only the flags that change how
// the VM runs (cpus, memory, forward, ssh-port, display); any other is
// refused in one line naming it, before any VM is looked at or made.
func TestCreateFromFlags(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	refused := `cannot differ from base with --from (the disks are base's, installed); --from takes --cpus, --memory, --forward, --ssh-port, --display`
	for _, tc := range []struct {
		args []string
		want string
	}{
		// Accepted: the command goes on to the source, which does not exist.
		{[]string{"create", "dev1", "--from", "base", "--cpus", "2", "--memory", "1G", "--forward", "8080:80", "--ssh-port", "2222", "--display", "none", "--json"}, `no VM named "base"`},
		{[]string{"create", "dev1", "--from", "base"}, `no VM named "base"`},
		// Refused, each named.
		{[]string{"create", "dev1", "--from", "base", "--disk", "10G"}, "--disk: " + refused},
		{[]string{"create", "dev1", "--from", "base", "--firmware", "uefi", "--memory", "1G", "--desktop", "i3"}, "--desktop, --firmware: " + refused},
		{[]string{"create", "dev1", "--from", "base", "--release", "unstable"}, "--release: " + refused},
		{[]string{"create", "dev1", "--from", "base", "--extra-config", "x"}, "--extra-config: " + refused},
		{[]string{"create", "dev1", "--from", "base", "--iso", "/x.iso"}, "--iso: " + refused},
		{[]string{"create", "dev1", "--from", "base", "--lvm"}, "--lvm: " + refused},
		{[]string{"create", "dev1", "--from", "base", "-f", "vm.yaml"}, "--from: cannot be combined with -f or --manual"},
		{[]string{"create", "dev1", "--from", "base", "--manual"}, "--from: cannot be combined with -f or --manual"},
		{[]string{"create", "--from", "base"}, "NAME: missing"},
		{[]string{"create", "Dev_1", "--from", "base"}, `NAME: "Dev_1" is not a valid VM name`},
		{[]string{"create", "dev1", "--from", "Base!"}, `--from: "Base!" is not a valid VM name`},
	} {
		t.Run(strings.Join(tc.args[1:], " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Run(context.Background(), tc.args, Streams{In: strings.NewReader(""), Out: &out, Err: &errb})
			msg := strings.TrimSpace(errb.String())
			if code == 0 || !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
				t.Fatalf("nixvm %s: exit %d, stderr %q; want non-zero and one line containing %q", strings.Join(tc.args, " "), code, msg, tc.want)
			}
			if entries, _ := os.ReadDir(filepath.Join(os.Getenv("XDG_DATA_HOME"), "nixvm", "vms")); len(entries) != 0 {
				t.Errorf("a refused create --from left %v", entries)
			}
		})
	}
}
