// Package qemuimg is the disk layer over qemu-img: it makes disk images
// (optionally over a backing file), reads their facts (qemu-img info as
// JSON), resizes, converts, and manages internal (offline) snapshots. It
// holds no decisions; callers say what to make. Failures are *Error values
// that keep the command and qemu-img's own message and match the sentinel
// errors below with errors.Is.
package qemuimg

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// Kinds of failure, for errors.Is.
var (
	ErrLocked     = errors.New("image is in use (locked by a running QEMU)")
	ErrNotFound   = errors.New("image not found")
	ErrShrink     = errors.New("shrinking needs Shrink (it deletes data beyond the new end)")
	ErrNoSnapshot = errors.New("no such snapshot")
)

// Error is a failed qemu-img run.
type Error struct {
	Args   []string // qemu-img's arguments
	Output string   // what qemu-img said, trimmed
	Err    error    // the exec error, or the context's
	kind   error    // one of the Err* sentinels, or nil
}

func (e *Error) Error() string {
	msg := e.Output
	if msg == "" {
		msg = e.Err.Error()
	}
	sub := ""
	if len(e.Args) > 0 {
		sub = e.Args[0] + " "
	}
	return fmt.Sprintf("qemu-img %sfailed: %s", sub, strings.ReplaceAll(msg, "\n", "; "))
}

func (e *Error) Unwrap() []error {
	if e.kind != nil {
		return []error{e.Err, e.kind}
	}
	return []error{e.Err}
}

// classify maps qemu-img's messages to the sentinel errors.
func classify(out string) error {
	switch {
	case strings.Contains(out, `Failed to get "write" lock`), strings.Contains(out, `Failed to get shared "write" lock`), strings.Contains(out, "Is another process using the image"):
		return ErrLocked
	case strings.Contains(out, "Use the --shrink option"):
		return ErrShrink
	case strings.Contains(out, "snapshot not found"), strings.Contains(out, "Could not apply snapshot") && strings.Contains(out, "No such file or directory"):
		return ErrNoSnapshot
	case strings.Contains(out, "Could not open") && strings.Contains(out, "No such file or directory"):
		return ErrNotFound
	}
	return nil
}

// Tool runs one qemu-img binary.
type Tool struct{ Path string }

func (t Tool) run(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, t.Path, args...)
	// Its own process group: a Ctrl-C at the terminal reaches nixvm,
	// which decides (ctx) whether a qemu-img run is cut short; an undo
	// runs qemu-img after the interrupt and must not be killed by it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		msg := strings.TrimSpace(errOut.String() + "\n" + out.String())
		return nil, &Error{Args: args, Output: msg, Err: err, kind: classify(msg)}
	}
	return out.Bytes(), nil
}

// CreateOptions say what image Create makes.
type CreateOptions struct {
	Size int64 // bytes; 0 with a backing file: the backing file's size
	// Backing makes a copy-on-write overlay of this image; BackingFormat
	// is its format (qcow2 when empty: qemu-img refuses to guess).
	Backing, BackingFormat string
}

// Create makes a qcow2 image at path. The file must not exist.
func (t Tool) Create(ctx context.Context, path string, o CreateOptions) error {
	args := []string{"create", "-q", "-f", "qcow2"}
	if o.Backing != "" {
		bf := o.BackingFormat
		if bf == "" {
			bf = "qcow2"
		}
		args = append(args, "-b", o.Backing, "-F", bf)
	}
	args = append(args, path)
	if o.Size > 0 || o.Backing == "" {
		args = append(args, strconv.FormatInt(o.Size, 10))
	}
	_, err := t.run(ctx, args...)
	return err
}

// Create makes a qcow2 image of size bytes at path with the qemu-img at
// qemuImg. The file must not exist.
func Create(ctx context.Context, qemuImg, path string, size int64) error {
	return Tool{Path: qemuImg}.Create(ctx, path, CreateOptions{Size: size})
}

// Snapshot is an internal snapshot of an image.
type Snapshot struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	VMStateSize int64  `json:"vm-state-size"` // 0 for a disk-only (offline) snapshot
	DateSec     int64  `json:"date-sec"`
}

// Info is what qemu-img info says about an image.
type Info struct {
	Filename          string          `json:"filename"`
	Format            string          `json:"format"`
	VirtualSize       int64           `json:"virtual-size"`
	ActualSize        int64           `json:"actual-size"`
	DirtyFlag         bool            `json:"dirty-flag"`
	BackingFilename   string          `json:"backing-filename,omitempty"`
	FullBackingName   string          `json:"full-backing-filename,omitempty"`
	BackingFormat     string          `json:"backing-filename-format,omitempty"`
	Snapshots         []Snapshot      `json:"snapshots,omitempty"`
	ClusterSize       int64           `json:"cluster-size,omitempty"`
	FormatSpecificRaw json.RawMessage `json:"format-specific,omitempty"`
}

// Info reads an image's facts. ShareLocked (-U) reads an image a running
// QEMU holds; the answer may then be stale.
func (t Tool) Info(ctx context.Context, path string, shareLocked bool) (*Info, error) {
	args := []string{"info", "--output=json"}
	if shareLocked {
		args = append(args, "-U")
	}
	out, err := t.run(ctx, append(args, path)...)
	if err != nil {
		return nil, err
	}
	var info Info
	if err := json.Unmarshal(out, &info); err != nil {
		return nil, fmt.Errorf("qemu-img info %s: unexpected output: %w", path, err)
	}
	return &info, nil
}

// Resize sets an image's virtual size. Growing is safe; shrinking deletes
// data beyond the new end and is refused with ErrShrink unless shrink.
func (t Tool) Resize(ctx context.Context, path string, size int64, shrink bool) error {
	args := []string{"resize", "-q"}
	if shrink {
		args = append(args, "--shrink")
	}
	_, err := t.run(ctx, append(args, path, strconv.FormatInt(size, 10))...)
	return err
}

// ConvertOptions say what Convert writes.
type ConvertOptions struct {
	Format   string // output format: qcow2 (default) or raw
	Compress bool   // compressed qcow2 clusters
}

// Convert copies src into a new, standalone image dst (backing chains are
// flattened). dst must not exist.
func (t Tool) Convert(ctx context.Context, src, dst string, o ConvertOptions) error {
	f := o.Format
	if f == "" {
		f = "qcow2"
	}
	args := []string{"convert", "-q", "-O", f}
	if o.Compress {
		args = append(args, "-c")
	}
	_, err := t.run(ctx, append(args, src, dst)...)
	return err
}

// Offline (internal, disk-only) snapshots of a qcow2 image that no QEMU
// holds open.

// SnapshotCreate records the image's current content as name.
func (t Tool) SnapshotCreate(ctx context.Context, path, name string) error {
	_, err := t.run(ctx, "snapshot", "-c", name, path)
	return err
}

// SnapshotApply reverts the image to snapshot name.
func (t Tool) SnapshotApply(ctx context.Context, path, name string) error {
	_, err := t.run(ctx, "snapshot", "-a", name, path)
	return err
}

// SnapshotDelete removes snapshot name.
func (t Tool) SnapshotDelete(ctx context.Context, path, name string) error {
	_, err := t.run(ctx, "snapshot", "-d", name, path)
	return err
}

// Snapshots lists the image's internal snapshots.
func (t Tool) Snapshots(ctx context.Context, path string) ([]Snapshot, error) {
	info, err := t.Info(ctx, path, false)
	if err != nil {
		return nil, err
	}
	return info.Snapshots, nil
}
