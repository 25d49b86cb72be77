package diskview

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// FuzzOpenQCOW2 feeds hostile qcow2 headers through OpenImage (the
// go-qcow2reader library parses them) and Inspect: a broken image must
// give an error, never a panic. The seed is a real qcow2 header when
// qemu-img is there, else a hand-made version 3 header.
func FuzzOpenQCOW2(f *testing.F) {
	if qi, err := exec.LookPath("qemu-img"); err == nil {
		p := filepath.Join(f.TempDir(), "seed.qcow2")
		if out, err := exec.Command(qi, "create", "-q", "-f", "qcow2", p, "4M").CombinedOutput(); err == nil {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		} else {
			f.Logf("qemu-img create: %v: %s", err, out)
		}
	}
	hdr := make([]byte, 512)
	copy(hdr, qcow2Magic)
	hdr[7] = 3     // version 3
	hdr[23] = 16   // cluster_bits 16
	hdr[29] = 0x40 // size 4 MiB
	hdr[103] = 104 // header_length
	f.Add(hdr)
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 1<<20 {
			return
		}
		p := filepath.Join(t.TempDir(), "x.qcow2")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		im, err := OpenImage(p)
		if err != nil {
			return
		}
		defer im.Close()
		// Virtual sizes past what fits in the file are fine: unallocated
		// clusters read as zeros. Bound the work by capping the size seen.
		Inspect(context.Background(), im, min(im.Size, 64<<20))
	})
}
