package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestSnapshotBadInput: bad arguments fail with one line naming what is
// wrong, before any VM is looked at or changed.
func TestSnapshotBadInput(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"snapshot", "create", "nosuch", "t1"}, `no VM named "nosuch"`},
		{[]string{"snapshot", "create", "nosuch"}, `no VM named "nosuch"`}, // default tag
		{[]string{"snapshot", "list", "nosuch"}, `no VM named "nosuch"`},
		{[]string{"snapshot", "restore", "nosuch", "t1"}, `no VM named "nosuch"`},
		{[]string{"snapshot", "rm", "nosuch", "t1"}, `no VM named "nosuch"`},
		{[]string{"snapshot", "create", "nosuch", "a b"}, `TAG "a b"`},
		{[]string{"snapshot", "create", "nosuch", "7"}, `TAG "7" is all digits`},
		{[]string{"snapshot", "restore", "nosuch"}, "accepts 2 arg(s)"},
		{[]string{"snapshot", "create"}, "accepts between 1 and 2 arg(s)"},
		{[]string{"snapshot", "create", "x", "--frozen"}, "--frozen"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Run(context.Background(), tc.args, Streams{In: strings.NewReader(""), Out: &out, Err: &errb})
			msg := strings.TrimSpace(errb.String())
			if code == 0 || !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
				t.Fatalf("nixvm %s: exit %d, stderr %q; want non-zero and one line containing %q", strings.Join(tc.args, " "), code, msg, tc.want)
			}
		})
	}
}
