package qemuimg

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// BackingFile reads the backing file name recorded in a qcow2 image's
// header, as written (often relative to the image's directory); "" when the
// image has none. It reads the header only, in Go: listing which VMs
// depend on which base must be cheap, and must work while QEMU holds the
// image.
func BackingFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var h [20]byte
	if _, err := io.ReadFull(f, h[:]); err != nil {
		return "", fmt.Errorf("%s: read qcow2 header: %w", path, err)
	}
	if string(h[:4]) != "QFI\xfb" {
		return "", fmt.Errorf("%s: not a qcow2 image", path)
	}
	off := binary.BigEndian.Uint64(h[8:16])
	size := binary.BigEndian.Uint32(h[16:20])
	if off == 0 || size == 0 {
		return "", nil
	}
	if size > 1023 { // QEMU's limit
		return "", fmt.Errorf("%s: backing file name of %d bytes", path, size)
	}
	name := make([]byte, size)
	if _, err := f.ReadAt(name, int64(off)); err != nil {
		return "", fmt.Errorf("%s: read backing file name: %w", path, err)
	}
	return string(name), nil
}

// BackingChain lists the images path reads through, path first, each
// resolved to an absolute path (a relative backing name is relative to the
// directory of the image that names it, as in QEMU).
func BackingChain(path string) ([]string, error) {
	var chain []string
	for p := path; p != ""; {
		abs, err := filepath.Abs(p)
		if err != nil {
			return chain, err
		}
		if len(chain) > 64 {
			return chain, fmt.Errorf("%s: backing chain longer than 64 (a loop?)", path)
		}
		chain = append(chain, abs)
		b, err := BackingFile(abs)
		if err != nil {
			return chain, err
		}
		if b != "" && !filepath.IsAbs(b) {
			b = filepath.Join(filepath.Dir(abs), b)
		}
		p = b
	}
	return chain, nil
}

// TopAllocated reports whether the top image of path holds any data of its
// own (anything written since it was made over its backing file).
func (t Tool) TopAllocated(ctx context.Context, path string) (bool, error) {
	out, err := t.run(ctx, "map", "--output=json", "-f", "qcow2", path)
	if err != nil {
		return false, err
	}
	var extents []struct {
		Depth   int  `json:"depth"`
		Present bool `json:"present"`
		Data    bool `json:"data"`
		Zero    bool `json:"zero"`
	}
	if err := json.Unmarshal(out, &extents); err != nil {
		return false, fmt.Errorf("qemu-img map %s: %w", path, err)
	}
	for _, e := range extents {
		if e.Depth == 0 && (e.Present || e.Data) {
			return true, nil
		}
	}
	return false, nil
}

// SnapshotCount reads the number of internal snapshots in a qcow2 image's
// header (nb_snapshots), in Go: a clone checks its source's disks for
// snapshots without a qemu-img process per disk (Snapshots names them).
func SnapshotCount(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var h [64]byte
	if _, err := io.ReadFull(f, h[:]); err != nil {
		return 0, fmt.Errorf("%s: read qcow2 header: %w", path, err)
	}
	if string(h[:4]) != "QFI\xfb" {
		return 0, fmt.Errorf("%s: not a qcow2 image", path)
	}
	return int(binary.BigEndian.Uint32(h[60:64])), nil
}
