package qemu

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestSidecarPIDReuse: a pidfile names a process by PID and start time, so
// a PID reused by another process is not taken for the sidecar.
func TestSidecarPIDReuse(t *testing.T) {
	pf := filepath.Join(t.TempDir(), "sc.pid")
	me := os.Getpid()
	start, err := startTime(me)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		content string
		want    int
	}{
		{fmt.Sprintf("%d %d\n", me, start), me},
		{fmt.Sprintf("%d %d\n", me, start+1), 0}, // same PID, another process
		{"garbage", 0},
		{fmt.Sprintf("%d\n", me), 0},
	} {
		os.WriteFile(pf, []byte(tt.content), 0o600)
		if got := SidecarPID(pf); got != tt.want {
			t.Errorf("SidecarPID(%q) = %d, want %d", tt.content, got, tt.want)
		}
	}
	if err := StopSidecar(filepath.Join(t.TempDir(), "none.pid")); err != nil {
		t.Errorf("stopping a sidecar that is not running: %v", err)
	}
}
