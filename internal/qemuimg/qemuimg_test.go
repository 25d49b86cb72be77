package qemuimg

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// These tests run the real qemu-img (and, for the lock, a paused QEMU).

func tool(t *testing.T) Tool {
	t.Helper()
	p, err := exec.LookPath("qemu-img")
	if err != nil {
		if os.Getenv("NIXVM_REQUIRE_INTEGRATION") == "1" {
			t.Fatal("qemu-img not installed")
		}
		t.Skip("qemu-img not installed")
	}
	return Tool{Path: p}
}

func TestCreateInfoResizeConvert(t *testing.T) {
	q := tool(t)
	ctx := t.Context()
	dir := t.TempDir()
	base := filepath.Join(dir, "base.qcow2")
	if err := q.Create(ctx, base, CreateOptions{Size: 64 << 20}); err != nil {
		t.Fatal(err)
	}
	overlay := filepath.Join(dir, "overlay.qcow2")
	if err := q.Create(ctx, overlay, CreateOptions{Backing: base}); err != nil {
		t.Fatal(err)
	}
	info, err := q.Info(ctx, overlay, false)
	if err != nil {
		t.Fatal(err)
	}
	if info.Format != "qcow2" || info.VirtualSize != 64<<20 || info.FullBackingName != base || info.BackingFormat != "qcow2" {
		t.Errorf("overlay info = %+v, want qcow2, 64 MiB, backed by %s", info, base)
	}

	if err := q.Resize(ctx, base, 128<<20, false); err != nil {
		t.Fatal(err)
	}
	err = q.Resize(ctx, base, 32<<20, false)
	if !errors.Is(err, ErrShrink) {
		t.Fatalf("shrink without Shrink: %v, want ErrShrink", err)
	}
	var qe *Error
	if !errors.As(err, &qe) || !strings.Contains(qe.Output, "--shrink") || qe.Args[0] != "resize" {
		t.Errorf("error keeps neither command nor output: %#v", qe)
	}
	if err := q.Resize(ctx, base, 32<<20, true); err != nil {
		t.Fatal(err)
	}
	if info, _ := q.Info(ctx, base, false); info.VirtualSize != 32<<20 {
		t.Errorf("size after shrink = %d", info.VirtualSize)
	}

	flat := filepath.Join(dir, "flat.qcow2")
	if err := q.Convert(ctx, overlay, flat, ConvertOptions{Compress: true}); err != nil {
		t.Fatal(err)
	}
	if info, err := q.Info(ctx, flat, false); err != nil || info.BackingFilename != "" || info.Format != "qcow2" {
		t.Errorf("converted image = %+v, %v; want standalone qcow2", info, err)
	}
	raw := filepath.Join(dir, "flat.raw")
	if err := q.Convert(ctx, flat, raw, ConvertOptions{Format: "raw"}); err != nil {
		t.Fatal(err)
	}
	if info, _ := q.Info(ctx, raw, false); info.Format != "raw" {
		t.Errorf("raw convert gave %s", info.Format)
	}

	if _, err := q.Info(ctx, filepath.Join(dir, "missing.qcow2"), false); !errors.Is(err, ErrNotFound) {
		t.Errorf("info of a missing image: %v, want ErrNotFound", err)
	}
}

func TestOfflineSnapshots(t *testing.T) {
	q := tool(t)
	ctx := t.Context()
	img := filepath.Join(t.TempDir(), "disk.qcow2")
	if err := q.Create(ctx, img, CreateOptions{Size: 16 << 20}); err != nil {
		t.Fatal(err)
	}
	count := func(want int) {
		t.Helper()
		if n, err := SnapshotCount(img); err != nil || n != want {
			t.Fatalf("SnapshotCount = %d, %v; want %d", n, err, want)
		}
	}
	count(0)
	for _, n := range []string{"clean", "later"} {
		if err := q.SnapshotCreate(ctx, img, n); err != nil {
			t.Fatal(err)
		}
	}
	count(2)
	snaps, err := q.Snapshots(ctx, img)
	if err != nil || len(snaps) != 2 || snaps[0].Name != "clean" || snaps[1].Name != "later" || snaps[0].VMStateSize != 0 {
		t.Fatalf("snapshots = %+v, %v", snaps, err)
	}
	if err := q.SnapshotApply(ctx, img, "clean"); err != nil {
		t.Fatal(err)
	}
	if err := q.SnapshotDelete(ctx, img, "later"); err != nil {
		t.Fatal(err)
	}
	count(1)
	if _, err := SnapshotCount(filepath.Join("testdata", "nosuch")); err == nil {
		t.Error("SnapshotCount of a missing file: no error")
	}
	raw := filepath.Join(t.TempDir(), "raw")
	if err := os.WriteFile(raw, make([]byte, 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := SnapshotCount(raw); err == nil || !strings.Contains(err.Error(), "not a qcow2 image") {
		t.Errorf("SnapshotCount of a raw file: %v", err)
	}
	for _, f := range []func() error{
		func() error { return q.SnapshotApply(ctx, img, "nope") },
		func() error { return q.SnapshotDelete(ctx, img, "nope") },
	} {
		if err := f(); !errors.Is(err, ErrNoSnapshot) {
			t.Errorf("unknown snapshot: %v, want ErrNoSnapshot", err)
		}
	}
}

// TestLocked: an image a running QEMU holds is ErrLocked for a write, and
// readable with shareLocked.
func TestLocked(t *testing.T) {
	q := tool(t)
	qemu, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		t.Skip("qemu-system-x86_64 not installed")
	}
	ctx := t.Context()
	img := filepath.Join(t.TempDir(), "disk.qcow2")
	if err := q.Create(ctx, img, CreateOptions{Size: 16 << 20}); err != nil {
		t.Fatal(err)
	}
	// Paused (-S), no devices but the disk: it only holds the lock.
	cmd := exec.Command(qemu, "-S", "-nodefaults", "-display", "none", "-machine", "none",
		"-blockdev", "driver=qcow2,node-name=d0,file.driver=file,file.filename="+img, "-qmp", "stdio")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Process.Kill(); cmd.Wait() })
	// The QMP greeting comes once the image is open (and locked).
	buf := make([]byte, 256)
	done := make(chan error, 1)
	go func() { _, err := stdout.Read(buf); done <- err }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("QEMU: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("QEMU did not greet within a minute")
	}
	if err := q.SnapshotCreate(ctx, img, "x"); !errors.Is(err, ErrLocked) {
		t.Errorf("snapshot of a locked image: %v, want ErrLocked", err)
	}
	if _, err := q.Info(ctx, img, true); err != nil {
		t.Errorf("info -U of a locked image: %v", err)
	}
}
