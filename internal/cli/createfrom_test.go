package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

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
