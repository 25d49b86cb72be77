package vm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/nixvm/nixvm/internal/host"
	"github.com/nixvm/nixvm/internal/qemuimg"
	"github.com/nixvm/nixvm/internal/spec"
	"github.com/nixvm/nixvm/internal/sshx"
	"github.com/nixvm/nixvm/internal/store"
)

// CloneOptions are the choices of Clone.
type CloneOptions struct {
	// Full copies the disks (independent of the source); otherwise the
	// clone's disks are copy-on-write overlays over a frozen copy of the
	// source's.
	Full bool
	// Edit changes the clone's spec (create --from: CPUs, memory, ports),
	// which is the source's without its SSH port and host port forwards;
	// it must not change what the installed disks depend on. nil: none.
	Edit func(*spec.Spec) error
}

// ErrNoIdentity is the error of cloning a VM that nixvm made before VMs had
// identities: its installed system would not take a new one.
var ErrNoIdentity = errors.New("no identity")

// DependentsError is the error of removing (or otherwise rewriting) a VM
// whose disks other VMs are linked clones of.
type DependentsError struct {
	Name       string
	Dependents []string
}

func (e *DependentsError) Error() string {
	return fmt.Sprintf("VM %s is the base of the linked clone(s) %s, whose disks read from its disks",
		e.Name, strings.Join(e.Dependents, ", "))
}

// cloneStep is called as Clone passes each of its steps; tests set it to
// interrupt Clone there.
var cloneStep = func(step string) {}

// ProtectedError is the error of starting, removing, snapshotting or
// restoring a protected VM.
type ProtectedError struct {
	Name string
	Op   string // "started", "removed", "restored", "snapshotted"
}

func (e *ProtectedError) Error() string {
	return fmt.Sprintf("VM %s is a protected base and is not %s", e.Name, e.Op)
}

// Clone makes VM dst from the stopped VM of srcLock (held by the caller).
// A linked clone takes well under a second whatever the disk size: each of
// the source's disks is frozen (moved, by a hard link and a rename, to a
// read-only base file in the source's directory, under a new empty overlay
// that the source goes on with), and the clone gets its own overlay over
// the same base. So the source keeps working and changing, and the clone
// sees the disks as they were. A later clone of an unchanged source reuses
// its base. The clone's spec is the source's without its host ports (SSH
// port 0: picked at start; no port forwards), so it can run beside the
// source and other clones. It gets a new identity (host name = its name,
// MAC, machine-id, SSH host key made here), applied by the guest at its
// first boot (install's nixvm-identity.nix).
//
// Like Create it is all or nothing: dst is made in a hidden directory and
// renamed into place; interrupted or failed, it leaves no dst, and the
// source either as it was or frozen under an overlay with the same content.
// The returned lock of dst is held; the caller unlocks it.
func Clone(ctx context.Context, facts *host.Facts, srcLock *store.Lock, dst string, opts CloneOptions) (lock *store.Lock, err error) {
	src := srcLock.Instance()
	switch info := Status(src); info.State {
	case StateStopped:
	case StateRunning:
		return nil, &StateError{Name: src.Name, State: info.State, PID: info.PID, Op: "cloned", Why: "a clone is made from stopped disks"}
	default:
		return nil, &StateError{Name: src.Name, State: info.State, Op: "cloned", Why: "it cannot be cloned"}
	}
	s, err := LoadSpec(src)
	if err != nil {
		return nil, err
	}
	if _, ok, err := src.ReadIdentity(); err != nil {
		return nil, err
	} else if !ok {
		return nil, withStep(fmt.Errorf("VM %s has %w (a nixvm before identities installed it), so a clone of it would keep its host name, machine-id and SSH host key", src.Name, ErrNoIdentity), NextRecreate, src.Name, "")
	}
	if _, err := sshx.ReadHostPub(src); err != nil {
		return nil, err
	}
	cs := *s
	cs.Name = dst
	// Two VMs cannot listen on one host port, and a clone is made to run
	// beside its source or its siblings: it picks its own SSH port and
	// gets none of the source's host port forwards (Edit, create --from
	// --forward, may give it its own).
	cs.SSHPort = 0
	cs.PortForwards = nil
	if opts.Edit != nil {
		if err := opts.Edit(&cs); err != nil {
			return nil, err
		}
	}
	if err := cs.Validate(); err != nil {
		return nil, err
	}
	qemuImg, err := facts.RequireQEMUImg()
	if err != nil {
		return nil, err
	}
	q := qemuimg.Tool{Path: qemuImg.Path}
	if !opts.Full {
		// A frozen base keeps its internal snapshots but nobody could
		// restore them: refuse rather than strand them.
		snaps, err := diskSnapshots(ctx, q, src, len(s.Disks))
		if err != nil {
			return nil, err
		}
		if snaps != "" {
			return nil, withStep(fmt.Errorf("VM %s has snapshots (%s): a linked clone freezes its disks under them and they could not be restored", src.Name, snaps), NextCloneWithoutSnapshots, src.Name, "")
		}
	}

	sg, err := stage(dst, "clone")
	if err != nil {
		return nil, err
	}
	tmp := sg.tmp
	defer func() {
		if err != nil {
			sg.abort()
			if ctx.Err() != nil {
				err = interrupted(ctx, fmt.Sprintf("VM %s was not cloned to %s (what was made of %s is removed; %s is unchanged)", src.Name, dst, dst, src.Name))
			}
		}
	}()
	id, err := store.NewIdentity()
	if err != nil {
		return nil, err
	}
	if err := sg.lock.WriteIdentity(id); err != nil {
		return nil, err
	}
	cloneStep("identity")
	priv, pub, err := sshx.NewHostKey()
	if err != nil {
		return nil, err
	}
	if err := sshx.WriteHostKey(tmp, priv, pub); err != nil {
		return nil, err
	}
	if s.Firmware == "uefi" {
		if err := q.Convert(ctx, src.EFIVars(), tmp.EFIVars(), qemuimg.ConvertOptions{Format: tmp.EFIVarsFormat()}); err != nil {
			return nil, fmt.Errorf("copy the UEFI variables of %s: %w", src.Name, err)
		}
		if err := syncFile(tmp.EFIVars()); err != nil {
			return nil, fmt.Errorf("copy the UEFI variables of %s: %w", src.Name, err)
		}
	}
	cloneStep("efivars")
	for i := range s.Disks {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if opts.Full {
			// convert reads through the whole backing chain: an
			// independent image.
			if err := q.Convert(ctx, src.Disk(i), tmp.Disk(i), qemuimg.ConvertOptions{}); err != nil {
				return nil, fmt.Errorf("copy disk %d of %s: %w", i, src.Name, err)
			}
		} else {
			base, err := freezeDisk(ctx, q, src, i)
			if err != nil {
				return nil, err
			}
			cloneStep("frozen")
			// Relative to the clone's directory, which sits next to the
			// source's: the backing path stays right after the rename
			// from the hidden directory, and when the VMs directory moves.
			rel := filepath.Join("..", filepath.Base(src.Dir), filepath.Base(base))
			if err := q.Create(ctx, tmp.Disk(i), qemuimg.CreateOptions{Backing: rel}); err != nil {
				return nil, fmt.Errorf("make disk %d of %s over %s: %w", i, dst, base, err)
			}
		}
		if err := os.Chmod(tmp.Disk(i), 0o600); err != nil {
			return nil, err
		}
		// qemu-img leaves its writes in the page cache: on disk before
		// the commit, so that a VM that exists has its whole disk.
		if err := syncFile(tmp.Disk(i)); err != nil {
			return nil, fmt.Errorf("disk %d of %s: %w", i, dst, err)
		}
		cloneStep("disk")
	}
	data, err := cs.Marshal()
	if err != nil {
		return nil, err
	}
	if err := store.WriteFileAtomic(tmp.SpecFile(), data, 0o600); err != nil {
		return nil, err
	}
	if err := sg.lock.WriteState(store.State{Phase: store.PhaseReady}); err != nil {
		return nil, err
	}
	cloneStep("commit")
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return sg.commit()
}

// diskSnapshots names the internal snapshots on the first n disks of in
// ("" for none).
func diskSnapshots(ctx context.Context, q qemuimg.Tool, in store.Instance, n int) (string, error) {
	var names []string
	for i := range n {
		// The header says whether there are any, without a process.
		if c, err := qemuimg.SnapshotCount(in.Disk(i)); err != nil {
			return "", err
		} else if c == 0 {
			continue
		}
		snaps, err := q.Snapshots(ctx, in.Disk(i))
		if err != nil {
			return "", err
		}
		for _, s := range snaps {
			if !slices.Contains(names, s.Name) {
				names = append(names, s.Name)
			}
		}
	}
	return strings.Join(names, ", "), nil
}

// Protect makes the stopped VM of lock (held by the caller) a golden base,
// or, with on false, an ordinary VM again. A protected VM is not started,
// removed, snapshotted or restored; VMs are made from it with create
// --from, a linked clone, which a VM with snapshots cannot give: so it is
// refused while the VM has any.
func Protect(ctx context.Context, facts *host.Facts, lock *store.Lock, on bool) error {
	in := lock.Instance()
	if on {
		if info := Status(in); info.State != StateStopped {
			return fmt.Errorf("VM %s is %s: only a stopped VM can be protected as a base", in.Name, info.State)
		}
		s, err := LoadSpec(in)
		if err != nil {
			return err
		}
		qemuImg, err := facts.RequireQEMUImg()
		if err != nil {
			return err
		}
		snaps, err := diskSnapshots(ctx, qemuimg.Tool{Path: qemuImg.Path}, in, len(s.Disks))
		if err != nil {
			return err
		}
		if snaps != "" {
			return withStep(fmt.Errorf("VM %s has snapshots (%s): a protected base gives linked clones, which a VM with snapshots cannot", in.Name, snaps), NextRemoveSnapshots, in.Name, "")
		}
	}
	return lock.UpdateState(func(st *store.State) { st.Protected = on })
}

// freezeDisk returns the path of a read-only image with the current content
// of disk i of in (stopped, locked), which in's disk then reads through. If
// the disk is an empty overlay over such a base already, that base is
// reused. Otherwise the disk is hard-linked to a new base name and replaced
// (rename, atomic) by a new empty overlay over it: at every point the disk
// path holds the same content, so an interrupt loses nothing; at worst it
// leaves an unused base file, which the next freeze does not reuse and rm
// removes with the VM.
//
// A base becomes read-only (0400) only after the rename: before it, it is
// the disk's own inode. So a crash between the two leaves the disk over a
// writable base; before any clone reads through them, the bases in the
// disk's chain in in's directory are made read-only here.
func freezeDisk(ctx context.Context, q qemuimg.Tool, in store.Instance, i int) (string, error) {
	disk := in.Disk(i)
	chain, err := qemuimg.BackingChain(disk)
	if err != nil {
		return "", err
	}
	for _, b := range chain[1:] {
		if in.IsBaseDisk(b) {
			if err := os.Chmod(b, 0o400); err != nil {
				return "", fmt.Errorf("freeze disk %d of %s: %w", i, in.Name, err)
			}
		}
	}
	backing, err := qemuimg.BackingFile(disk)
	if err != nil {
		return "", err
	}
	if backing != "" && in.IsBaseDisk(filepath.Join(in.Dir, backing)) {
		used, err := q.TopAllocated(ctx, disk)
		if err != nil {
			return "", err
		}
		if !used {
			return filepath.Join(in.Dir, backing), nil
		}
	}
	base := in.BaseDisk(i, time.Now())
	name := filepath.Base(base)
	if err := os.Link(disk, base); err != nil {
		return "", fmt.Errorf("freeze disk %d of %s: %w", i, in.Name, err)
	}
	cloneStep("linked")
	overlay := disk + ".overlay-tmp"
	os.Remove(overlay)
	if err := q.Create(ctx, overlay, qemuimg.CreateOptions{Backing: name}); err != nil {
		os.Remove(base)
		return "", fmt.Errorf("freeze disk %d of %s: %w", i, in.Name, err)
	}
	if err := os.Chmod(overlay, 0o600); err != nil {
		os.Remove(overlay)
		os.Remove(base)
		return "", err
	}
	// On disk before it replaces the disk: after a power loss the disk is
	// the old image or the whole overlay, never an overlay qemu-img had
	// not written out yet.
	if err := syncFile(overlay); err != nil {
		os.Remove(overlay)
		os.Remove(base)
		return "", fmt.Errorf("freeze disk %d of %s: %w", i, in.Name, err)
	}
	if err := os.Rename(overlay, disk); err != nil {
		os.Remove(overlay)
		os.Remove(base)
		return "", fmt.Errorf("freeze disk %d of %s: %w", i, in.Name, err)
	}
	cloneStep("renamed")
	// Only the base name holds the frozen inode now: make it read-only.
	if err := os.Chmod(base, 0o400); err != nil {
		return "", err
	}
	return base, nil
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// Dependents lists the other VMs whose disks read through an image in in's
// directory (linked clones of in, and clones of those), sorted.
func Dependents(in store.Instance) ([]string, error) {
	all, err := store.List()
	if err != nil {
		return nil, err
	}
	var deps []string
	for _, other := range all {
		if other.Name == in.Name {
			continue
		}
		if dependsOn(other, in) {
			deps = append(deps, other.Name)
		}
	}
	sort.Strings(deps)
	return deps, nil
}

func dependsOn(vm, base store.Instance) bool {
	disks, _ := filepath.Glob(filepath.Join(vm.Dir, "disk[0-9]*.qcow2"))
	for _, d := range disks {
		if vm.IsBaseDisk(d) {
			continue
		}
		chain, _ := qemuimg.BackingChain(d)
		for _, f := range chain {
			if filepath.Dir(f) == base.Dir {
				return true
			}
		}
	}
	return false
}

// BaseOf names the VM that in is a linked clone of ("" for none): the
// owner of the first image outside in's directory in its first disk's
// backing chain.
func BaseOf(in store.Instance) (string, error) {
	chain, err := qemuimg.BackingChain(in.Disk(0))
	if err != nil {
		return "", err
	}
	for _, f := range chain[1:] {
		if d := filepath.Dir(f); d != in.Dir {
			return filepath.Base(d), nil
		}
	}
	return "", nil
}
