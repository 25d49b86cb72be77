package qemuimg

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestBackingChain(t *testing.T) {
	q := tool(t)
	ctx := context.Background()
	root := t.TempDir()
	for _, d := range []string{"a", "b"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	base := filepath.Join(root, "a", "base.qcow2")
	if err := q.Create(ctx, base, CreateOptions{Size: 64 << 20}); err != nil {
		t.Fatal(err)
	}
	mid := filepath.Join(root, "a", "mid.qcow2")
	if err := q.Create(ctx, mid, CreateOptions{Backing: "base.qcow2"}); err != nil {
		t.Fatal(err)
	}
	top := filepath.Join(root, "b", "top.qcow2")
	if err := q.Create(ctx, top, CreateOptions{Backing: "../a/mid.qcow2"}); err != nil {
		t.Fatal(err)
	}
	if b, err := BackingFile(top); err != nil || b != "../a/mid.qcow2" {
		t.Fatalf("BackingFile(top) = %q, %v", b, err)
	}
	if b, err := BackingFile(base); err != nil || b != "" {
		t.Fatalf("BackingFile(base) = %q, %v; want none", b, err)
	}
	chain, err := BackingChain(top)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{top, mid, base}
	if len(chain) != len(want) {
		t.Fatalf("chain %q, want %q", chain, want)
	}
	for i := range want {
		if chain[i] != want[i] {
			t.Errorf("chain[%d] = %s, want %s", i, chain[i], want[i])
		}
	}
	if _, err := BackingFile(filepath.Join(root, "missing")); err == nil {
		t.Error("BackingFile of a missing file: no error")
	}
	raw := filepath.Join(root, "raw")
	os.WriteFile(raw, make([]byte, 4096), 0o600)
	if _, err := BackingFile(raw); err == nil {
		t.Error("BackingFile of a raw file: no error")
	}

	// The top layer is empty until something is written to it.
	if got, err := q.TopAllocated(ctx, top); err != nil || got {
		t.Fatalf("TopAllocated(new overlay) = %v, %v; want false", got, err)
	}
	qemuIO, err := exec.LookPath("qemu-io")
	if err != nil {
		t.Skip("qemu-io (qemu-utils) not installed: cannot write into the overlay")
	}
	if out, err := exec.Command(qemuIO, "-f", "qcow2", "-c", "write -P 0x5a 1M 64k", top).CombinedOutput(); err != nil {
		t.Fatalf("qemu-io: %v\n%s", err, out)
	}
	if got, err := q.TopAllocated(ctx, top); err != nil || !got {
		t.Fatalf("TopAllocated(written overlay) = %v, %v; want true", got, err)
	}
	if got, err := q.TopAllocated(ctx, mid); err != nil || got {
		t.Fatalf("TopAllocated(mid) = %v, %v; want false (the write went to top)", got, err)
	}
}
