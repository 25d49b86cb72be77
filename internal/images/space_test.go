package images

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/nixvm/nixvm/internal/images/imagestest"
)

// TestPullChecksSpaceFirst: a download that does not fit fails before the
// first byte is written, says how much is needed and free, names the
// directory once, and leaves nothing in the cache.
func TestPullChecksSpaceFirst(t *testing.T) {
	s := imagestest.NewServer(t, imagestest.Config{Redirect: true})
	cache := t.TempDir()
	old := freeSpace
	t.Cleanup(func() { freeSpace = old })
	freeSpace = func(string) (int64, error) { return 1000, nil }

	_, err := pull(t.Context(), s, cache)
	var ns *NoSpaceError
	if !errors.As(err, &ns) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("pull onto a full disk: %v, want a *NoSpaceError", err)
	}
	if ns.Need != imagestest.DefaultSize || ns.Free != 1000 {
		t.Errorf("NoSpaceError = %+v, want need %d, free 1000", ns, imagestest.DefaultSize)
	}
	msg := err.Error()
	if n := strings.Count(msg, ns.Dir); n != 1 {
		t.Errorf("error names %s %d times, want once: %s", ns.Dir, n, msg)
	}
	for _, want := range []string{HumanBytes(imagestest.DefaultSize), "1000 B", "free"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	if f := files(t, cache); len(f) != 0 {
		t.Errorf("cache after a refused download: %q, want empty", f)
	}

	// With room, the same pull works.
	freeSpace = func(string) (int64, error) { return 1 << 40, nil }
	im, err := pull(t.Context(), s, cache)
	if err != nil {
		t.Fatal(err)
	}
	checkImage(t, s, cache, im)
}

// TestPullENOSPCRemovesThePart: when the disk fills anyway (the free-space
// check was fooled: here it is told there is room), the write fails with
// ENOSPC, the partial file is removed so the disk is not left full, and the
// error names the part once. Needs root to mount a small tmpfs.
func TestPullENOSPCRemovesThePart(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs")
	}
	cache := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", cache).CombinedOutput(); err != nil {
		t.Skipf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", cache).Run() })
	s := imagestest.NewServer(t, imagestest.Config{Redirect: true})
	old := freeSpace
	t.Cleanup(func() { freeSpace = old })
	freeSpace = func(string) (int64, error) { return 1 << 40, nil }

	_, err := pull(t.Context(), s, cache)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("pull onto a full tmpfs: %v, want ENOSPC", err)
	}
	t.Logf("error: %v", err)
	part := partPath(cache, s.SHA256)
	if n := strings.Count(err.Error(), part); n != 1 {
		t.Errorf("error names the part %d times, want once: %v", n, err)
	}
	if !strings.Contains(err.Error(), "removed") {
		t.Errorf("error does not say the part was removed: %v", err)
	}
	if f := files(t, cache); len(f) != 0 {
		t.Errorf("cache after ENOSPC: %q, want nothing left filling the disk", f)
	}
}
