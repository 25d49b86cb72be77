package diskview

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/lima-vm/go-qcow2reader"
	"github.com/lima-vm/go-qcow2reader/image/qcow2"
)

// Image is an opened disk image: its guest-visible bytes.
type Image struct {
	io.ReaderAt
	Size   int64
	Format string // qcow2 or raw
	close  func() error
}

// Close releases the image and any backing files.
func (im *Image) Close() error { return im.close() }

var qcow2Magic = []byte{'Q', 'F', 'I', 0xfb}

// OpenImage opens a qcow2 (with its backing chain and compressed
// clusters) or raw image read-only.
//
// It takes no lock. QEMU holds fcntl (OFD) locks on the images of a
// running VM; os.Open takes none, so reading works while the VM runs. What
// is read then is whatever the guest last flushed, not a snapshot: good
// enough to show the layout, which changes rarely, but a file system being
// written may show a stale label for a moment.
func OpenImage(path string) (*Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open disk image: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open disk image: %w", err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("disk image %s is not a regular file (give a .qcow2 or raw image)", path)
	}
	head := make([]byte, 4)
	if _, err := f.ReadAt(head, 0); err != nil && err != io.EOF {
		f.Close()
		return nil, fmt.Errorf("read disk image %s: %w", path, err)
	}
	if !bytes.Equal(head, qcow2Magic) {
		return &Image{ReaderAt: f, Size: fi.Size(), Format: "raw", close: f.Close}, nil
	}
	img, err := qcow2reader.OpenWithType(f, qcow2.Type)
	if err != nil {
		// On error the library may return a typed nil in the interface:
		// close only the file.
		f.Close()
		return nil, fmt.Errorf("qcow2 image %s cannot be read: %w", path, err)
	}
	if err := img.Readable(); err != nil {
		img.Close() // closes f too
		return nil, fmt.Errorf("qcow2 image %s cannot be read (a missing backing file?): %w", path, err)
	}
	// img.Close closes f and the backing files.
	return &Image{ReaderAt: img, Size: img.Size(), Format: "qcow2", close: img.Close}, nil
}

// InspectFile opens the image at path and inspects it.
func InspectFile(ctx context.Context, path string) (*Disk, error) {
	im, err := OpenImage(path)
	if err != nil {
		return nil, err
	}
	defer im.Close()
	d, err := Inspect(ctx, im, im.Size)
	if err != nil {
		return nil, fmt.Errorf("disk image %s: %w", path, err)
	}
	d.Path, d.Format = path, im.Format
	return d, nil
}
