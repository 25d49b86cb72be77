package vm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nixvm/nixvm/internal/host"
	"github.com/nixvm/nixvm/internal/qemu"
	"github.com/nixvm/nixvm/internal/qemuimg"
	"github.com/nixvm/nixvm/internal/qga"
	"github.com/nixvm/nixvm/internal/qmp"
	"github.com/nixvm/nixvm/internal/spec"
	"github.com/nixvm/nixvm/internal/store"
)

// Snapshots of a VM: internal qcow2 snapshots of every disk and of the
// UEFI variable store, taken and applied together (docs/snapshots.md).
//
//   - A stopped VM is snapshotted and restored with qemu-img, image by
//     image; a failure or an interrupt part way rolls back what was done
//     (a restore first takes an undo snapshot of every image to go back to).
//   - A running VM is snapshotted with its RAM state by QEMU's snapshot-save
//     job, or with --disk-only by one QMP transaction of
//     blockdev-snapshot-internal-sync while the guest agent keeps the
//     guest's file systems frozen. A RAM snapshot is restored with
//     snapshot-load, running (it resumes where it was) or stopped (the VM
//     is started paused, loaded, then let run).
//
// Read-only drives (the installer ISO, the seed, the UEFI code) are never
// part of a snapshot.

// SnapshotOptions are the choices of the snapshot commands.
type SnapshotOptions struct {
	// DiskOnly takes a running VM's snapshot without its RAM state, its
	// file systems frozen through the guest agent meanwhile.
	DiskOnly bool
	// Start is how a stopped VM is started to load a RAM snapshot (what
	// nixvm start NAME would use).
	Start StartOptions
	Logf  func(format string, args ...any)
}

func (o SnapshotOptions) logf(format string, args ...any) {
	if o.Logf != nil {
		o.Logf(format, args...)
	}
}

// SnapshotResult says what a snapshot command did.
type SnapshotResult struct {
	Name     string   `json:"name"`
	Tag      string   `json:"tag"`
	RAM      bool     `json:"ram"`
	RAMBytes int64    `json:"ramBytes,omitempty"`
	Images   []string `json:"images"`
	// Running says the VM runs after the command.
	Running bool `json:"running"`
	// Started says a restore started the stopped VM from its RAM state.
	Started bool `json:"started,omitempty"`
	// Frozen is how many guest file systems a disk-only snapshot of a
	// running VM froze.
	Frozen   int       `json:"frozenFilesystems,omitempty"`
	Seconds  float64   `json:"seconds"`
	Warnings []Warning `json:"warnings,omitempty"`
}

// Warning is what a command that succeeded could not tidy up: a fact, and
// the step that tidies it. It is a JSON string, its message.
type Warning struct {
	Msg string
	Step
}

func (w Warning) MarshalJSON() ([]byte, error) { return json.Marshal(w.Msg) }

// SnapshotListing is what snapshot list shows.
type SnapshotListing struct {
	Name      string          `json:"name"`
	State     string          `json:"state"`
	Snapshots []SnapshotEntry `json:"snapshots"`
	Images    []ImageUsage    `json:"images"`
	// DiskBytes is what the images take on the host: the current state
	// and every snapshot together (they share clusters).
	DiskBytes int64 `json:"diskBytes"`
}

// ImageUsage is one image of a VM and the bytes it takes on the host.
type ImageUsage struct {
	Label string `json:"label"`
	File  string `json:"file"`
	Bytes int64  `json:"bytes"`
}

// snapshotImage is one image a snapshot covers.
type snapshotImage struct {
	Label string // disk0, disk1, efivars
	Path  string
	Node  string // its block node name in QEMU (qemu.DiskNode, qemu.EFIVarsNode)
	// LegacyID is the -drive id an older nixvm gave it (disk0, pflash1);
	// a VM started by one runs on with it until it is stopped.
	LegacyID string
}

// snapshotImages lists the images of a VM's snapshots, in order: its disks,
// then its UEFI variable store. A VM of on-disk format 1 keeps a raw
// efivars.fd, which cannot hold snapshots.
func snapshotImages(in store.Instance, s *spec.Spec) ([]snapshotImage, error) {
	var imgs []snapshotImage
	for i := range s.Disks {
		l := "disk" + strconv.Itoa(i)
		imgs = append(imgs, snapshotImage{Label: l, Path: in.Disk(i), Node: qemu.DiskNode(i), LegacyID: "disk" + strconv.Itoa(i)})
	}
	if s.Firmware == "uefi" {
		if in.EFIVarsFormat() != "qcow2" {
			return nil, kindErr(ErrNotSnapshottable, "VM %s cannot be snapshotted: it keeps its UEFI variables in a raw efivars.fd (made by an older nixvm, on-disk format 1), which cannot hold snapshots, and restoring its disks without them could lose boot entries",
				in.Name)
		}
		imgs = append(imgs, snapshotImage{Label: "efivars", Path: in.EFIVars(), Node: qemu.EFIVarsNode, LegacyID: "pflash1"})
	}
	return imgs, nil
}

func labels(imgs []snapshotImage) []string {
	l := make([]string, len(imgs))
	for i, img := range imgs {
		l[i] = img.Label
	}
	return l
}

// snapper is one snapshot command on one locked VM.
type snapper struct {
	in      store.Instance
	lock    *store.Lock
	facts   *host.Facts
	q       qemuimg.Tool
	imgs    []snapshotImage
	running bool
	state   string
	opts    SnapshotOptions
	start   time.Time
}

func newSnapper(facts *host.Facts, lock *store.Lock, opts SnapshotOptions) (*snapper, error) {
	in := lock.Instance()
	sn := &snapper{in: in, lock: lock, facts: facts, opts: opts, start: time.Now()}
	info := Status(in)
	sn.state = info.State
	switch info.State {
	case StateRunning:
		sn.running = true
	case StateStopped, StateCrashed:
	default:
		why := ""
		if info.Reason != "" {
			why = " (" + info.Reason + ")"
		}
		return nil, kindErr(ErrNotSnapshottable, "VM %s is %s%s: only a stopped or running VM has snapshots", in.Name, info.State, why)
	}
	s, err := LoadSpec(in)
	if err != nil {
		return nil, err
	}
	if sn.imgs, err = snapshotImages(in, s); err != nil {
		return nil, err
	}
	if !sn.running {
		bin, err := facts.RequireQEMUImg()
		if err != nil {
			return nil, err
		}
		sn.q = qemuimg.Tool{Path: bin.Path}
	}
	return sn, nil
}

func (sn *snapper) result(tag string) SnapshotResult {
	return SnapshotResult{Name: sn.in.Name, Tag: tag, Images: labels(sn.imgs), Running: sn.running}
}

func (sn *snapper) done(r *SnapshotResult) { r.Seconds = time.Since(sn.start).Seconds() }

// offlineTables reads every image's snapshot table with qemu-img.
func (sn *snapper) offlineTables(ctx context.Context) (map[string][]qemuimg.Snapshot, error) {
	per := map[string][]qemuimg.Snapshot{}
	for _, img := range sn.imgs {
		snaps, err := sn.q.Snapshots(ctx, img.Path)
		if err != nil {
			if errors.Is(err, qemuimg.ErrLocked) {
				return nil, fmt.Errorf("VM %s: %s is in use by a QEMU that nixvm does not know of: %w", sn.in.Name, img.Label, err)
			}
			return nil, fmt.Errorf("VM %s: read the snapshots of %s: %w", sn.in.Name, img.Label, err)
		}
		per[img.Label] = snaps
	}
	return per, nil
}

// onlineView is what the running QEMU says about the VM's images.
type onlineView struct {
	per     map[string][]qemuimg.Snapshot
	nodes   []string // the writable drives' top nodes, in image order
	vmstate string   // the node that keeps RAM state: the first disk's
}

// view asks the running QEMU for its drives: the node names of the
// writable ones (read-only drives are left out) and their snapshots.
func (sn *snapper) view(ctx context.Context, c *qmp.Client) (onlineView, error) {
	devs, err := c.QueryBlock(ctx)
	if err != nil {
		return onlineView{}, fmt.Errorf("VM %s: list its drives: %w", sn.in.Name, err)
	}
	return matchDrives(sn.in.Name, sn.imgs, devs)
}

// matchDrives maps a running QEMU's drives (query-block) to the VM's
// images. A drive is an image's by its node name, or, for a QEMU started
// by an older nixvm with -drive (whose nodes QEMU named #blockNNN), by its
// drive id.
func matchDrives(name string, imgs []snapshotImage, devs []qmp.BlockDevice) (onlineView, error) {
	v := onlineView{per: map[string][]qemuimg.Snapshot{}}
	known := make([]bool, len(devs))
	for _, img := range imgs {
		i := slices.IndexFunc(devs, func(d qmp.BlockDevice) bool {
			return d.Inserted && (d.NodeName == img.Node || d.Device != "" && d.Device == img.LegacyID)
		})
		if i < 0 {
			return onlineView{}, kindErr(ErrNotSnapshottable, "the QEMU of VM %s has no drive %s (%s); was it started by another nixvm?", name, img.Node, img.Label)
		}
		known[i] = true
		d := devs[i]
		if d.ReadOnly {
			return onlineView{}, kindErr(ErrNotSnapshottable, "VM %s's %s is attached read-only: it cannot hold snapshots", name, img.Label)
		}
		if d.Format != "qcow2" {
			return onlineView{}, kindErr(ErrNotSnapshottable, "VM %s's %s is attached as a %s drive: only qcow2 holds snapshots", name, img.Label, d.Format)
		}
		v.nodes = append(v.nodes, d.NodeName)
		if v.vmstate == "" {
			v.vmstate = d.NodeName
		}
		var snaps []qemuimg.Snapshot
		for _, s := range d.Snapshots {
			snaps = append(snaps, qemuimg.Snapshot{ID: s.ID, Name: s.Name, VMStateSize: s.VMStateSize, DateSec: s.DateSec})
		}
		v.per[img.Label] = snaps
	}
	for i, d := range devs {
		if d.Inserted && !d.ReadOnly && !known[i] {
			// A writable drive nixvm did not make would block
			// snapshot-save, or be left out of a snapshot it belongs to.
			return onlineView{}, kindErr(ErrNotSnapshottable, "the QEMU of VM %s has a writable drive %s (%s) that is none of its images", name, driveName(d), d.File)
		}
	}
	return v, nil
}

// driveName names a drive in a message: by its -drive id, else its node
// name (QEMU's #blockNNN is no help to the reader, so the guest device
// then), else the guest device.
func driveName(d qmp.BlockDevice) string {
	switch {
	case d.Device != "":
		return d.Device
	case d.NodeName != "" && !strings.HasPrefix(d.NodeName, "#"):
		return d.NodeName
	case d.Qdev != "":
		return d.Qdev
	}
	return d.NodeName
}

// dialQMP connects to the running VM's monitor.
func (sn *snapper) dialQMP(ctx context.Context) (*qmp.Client, error) {
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := qmp.Dial(dctx, sn.in.QMPSocket())
	if err != nil {
		return nil, fmt.Errorf("VM %s: %w", sn.in.Name, err)
	}
	return c, nil
}

// jobDeadline bounds one QEMU snapshot job (saving or loading gigabytes of
// RAM state): it runs to its end even after an interrupt, within this.
func (sn *snapper) jobDeadline() time.Duration {
	return Scaled(3*time.Minute, runningAccel(sn.in))
}

// runningAccel reads the accelerator of the VM's last start from its
// cmdline file.
func runningAccel(in store.Instance) host.Accel {
	b, _ := os.ReadFile(in.CmdlineFile())
	if strings.Contains(string(b), "-accel tcg") {
		return host.Accel{Name: "tcg"}
	}
	return host.Accel{Name: "kvm"}
}

var jobSeq atomic.Int64

func jobID(what string) string {
	return fmt.Sprintf("nixvm-%s-%d-%d", what, os.Getpid(), jobSeq.Add(1))
}

// bounded is a context that ignores the command's cancellation (an undo
// or a QEMU job that must run to its end) but not a deadline.
func bounded(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), d)
}

// SnapshotList lists the VM's snapshots. lock is the VM's lock, which the
// caller holds.
func SnapshotList(ctx context.Context, facts *host.Facts, lock *store.Lock) (SnapshotListing, error) {
	sn, err := newSnapper(facts, lock, SnapshotOptions{})
	if err != nil {
		return SnapshotListing{}, err
	}
	l := SnapshotListing{Name: sn.in.Name, State: sn.state}
	var per map[string][]qemuimg.Snapshot
	if sn.running {
		c, err := sn.dialQMP(ctx)
		if err != nil {
			return l, err
		}
		defer c.Close()
		v, err := sn.view(ctx, c)
		if err != nil {
			return l, err
		}
		per = v.per
	} else if per, err = sn.offlineTables(ctx); err != nil {
		return l, err
	}
	l.Snapshots = collectSnapshots(labels(sn.imgs), per)
	for _, img := range sn.imgs {
		u := ImageUsage{Label: img.Label, File: img.Path, Bytes: allocated(img.Path)}
		l.Images = append(l.Images, u)
		l.DiskBytes += u.Bytes
	}
	return l, nil
}

// SnapshotCreate takes snapshot tag of the VM: of its disks and UEFI
// variables when it is stopped; with its RAM state when it runs (or, with
// DiskOnly, of its disks with the guest's file systems frozen). lock is the
// VM's lock, which the caller holds. It is all or nothing: a failure or an
// interrupt removes what was made.
func SnapshotCreate(ctx context.Context, facts *host.Facts, lock *store.Lock, tag string, opts SnapshotOptions) (SnapshotResult, error) {
	if err := ValidateTag(tag); err != nil {
		return SnapshotResult{}, err
	}
	sn, err := newSnapper(facts, lock, opts)
	if err != nil {
		return SnapshotResult{}, err
	}
	// A golden base (nixvm protect) takes none: it could not be restored
	// while protected, and a base with snapshots gives no linked clones
	// (Clone), so it would block create --from.
	if st, err := sn.in.ReadState(); err == nil && st.Protected {
		return SnapshotResult{}, &ProtectedError{Name: sn.in.Name, Op: "snapshotted"}
	}
	var r SnapshotResult
	switch {
	case !sn.running:
		r, err = sn.createOffline(ctx, tag)
	case opts.DiskOnly:
		r, err = sn.createDiskOnline(ctx, tag)
	default:
		r, err = sn.createRAM(ctx, tag)
	}
	sn.done(&r)
	return r, err
}

func (sn *snapper) existsErr(tag string, entries []SnapshotEntry) error {
	if _, err := findSnapshot(sn.in.Name, tag, entries); err == nil {
		return withStep(kindErr(ErrSnapshotExists, "VM %s already has a snapshot %q", sn.in.Name, tag), NextPickTag, sn.in.Name, tag)
	}
	return nil
}

func (sn *snapper) createOffline(ctx context.Context, tag string) (SnapshotResult, error) {
	r := sn.result(tag)
	per, err := sn.offlineTables(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return r, interrupted(ctx, fmt.Sprintf("no snapshot of VM %s was taken; nothing changed", sn.in.Name))
		}
		return r, err
	}
	if err := sn.existsErr(tag, collectSnapshots(labels(sn.imgs), per)); err != nil {
		return r, err
	}
	bctx, cancel := bounded(ctx, 10*time.Minute)
	defer cancel()
	var done []snapshotImage
	undo := func(cause error) error {
		rerr := sn.deleteOffline(bctx, done, tag)
		msg := fmt.Sprintf("snapshot %s of VM %s was not taken (%d image(s) done were rolled back); nothing changed", tag, sn.in.Name, len(done))
		next := NextNone
		if rerr != nil {
			msg = fmt.Sprintf("snapshot %s of VM %s was not taken, and rolling it back failed: %v", tag, sn.in.Name, rerr)
			next = NextSnapshotRm
		}
		if cause == nil {
			return interruptedStep(ctx, msg, next, sn.in.Name, tag)
		}
		return withStep(fmt.Errorf("%w; %s", cause, msg), next, sn.in.Name, tag)
	}
	for _, img := range sn.imgs {
		if ctx.Err() != nil {
			return r, undo(nil)
		}
		sn.opts.logf("snapshot %s of %s", tag, img.Label)
		if err := sn.q.SnapshotCreate(bctx, img.Path, tag); err != nil {
			return r, undo(fmt.Errorf("snapshot %s of VM %s's %s: %w", tag, sn.in.Name, img.Label, err))
		}
		done = append(done, img)
	}
	return r, nil
}

// deleteOffline removes tag from imgs with qemu-img, all of them whatever
// fails, and joins the failures.
func (sn *snapper) deleteOffline(ctx context.Context, imgs []snapshotImage, tag string) error {
	var errs []error
	for _, img := range imgs {
		if err := sn.q.SnapshotDelete(ctx, img.Path, tag); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", img.Label, err))
		}
	}
	return errors.Join(errs...)
}

func (sn *snapper) createRAM(ctx context.Context, tag string) (SnapshotResult, error) {
	r := sn.result(tag)
	r.RAM = true
	c, err := sn.dialQMP(ctx)
	if err != nil {
		return r, err
	}
	defer c.Close()
	v, err := sn.view(ctx, c)
	if err != nil {
		return r, err
	}
	if err := sn.existsErr(tag, collectSnapshots(labels(sn.imgs), v.per)); err != nil {
		return r, err
	}
	if ctx.Err() != nil {
		return r, interrupted(ctx, fmt.Sprintf("no snapshot of VM %s was taken; nothing changed", sn.in.Name))
	}
	sn.opts.logf("saving VM %s's RAM state and disks as snapshot %s (the guest pauses meanwhile)", sn.in.Name, tag)
	bctx, cancel := bounded(ctx, sn.jobDeadline())
	defer cancel()
	serr := c.SnapshotSave(bctx, jobID("save"), tag, v.vmstate, v.nodes)
	if serr == nil && ctx.Err() == nil {
		if v2, err := sn.view(bctx, c); err == nil {
			if e, err := findSnapshot(sn.in.Name, tag, collectSnapshots(labels(sn.imgs), v2.per)); err == nil {
				r.RAMBytes = e.RAMBytes
			}
		}
		return r, nil
	}
	// QEMU does not take back the snapshots of the images it did; this
	// does (snapshot-delete skips an image without it).
	derr := c.SnapshotDelete(bctx, jobID("delete"), tag, v.nodes)
	msg := fmt.Sprintf("snapshot %s of VM %s was not kept (what was saved was deleted again); the VM runs on", tag, sn.in.Name)
	next := NextNone
	if derr != nil {
		msg = fmt.Sprintf("snapshot %s of VM %s may be left incomplete, deleting it failed: %v", tag, sn.in.Name, derr)
		next = NextSnapshotRm
	}
	if serr == nil {
		return r, interruptedStep(ctx, msg, next, sn.in.Name, tag)
	}
	return r, withStep(fmt.Errorf("snapshot %s of VM %s: %w; %s", tag, sn.in.Name, serr, msg), next, sn.in.Name, tag)
}

func (sn *snapper) createDiskOnline(ctx context.Context, tag string) (r SnapshotResult, err error) {
	r = sn.result(tag)
	c, err := sn.dialQMP(ctx)
	if err != nil {
		return r, err
	}
	defer c.Close()
	v, err := sn.view(ctx, c)
	if err != nil {
		return r, err
	}
	if err := sn.existsErr(tag, collectSnapshots(labels(sn.imgs), v.per)); err != nil {
		return r, err
	}
	gctx, gcancel := context.WithTimeout(ctx, 10*time.Second)
	ga, err := qga.Dial(gctx, qemu.QGASocket(sn.in))
	gcancel()
	if err != nil {
		if ctx.Err() != nil {
			return r, interrupted(ctx, fmt.Sprintf("no snapshot of VM %s was taken; nothing changed", sn.in.Name))
		}
		return r, withStep(fmt.Errorf("a disk-only snapshot of running VM %s freezes the guest's file systems through its guest agent, which did not answer (%w)", sn.in.Name, err), NextSnapshotRAM, sn.in.Name, "")
	}
	defer ga.Close()
	bctx, cancel := bounded(ctx, sn.jobDeadline())
	defer cancel()
	sn.opts.logf("freezing VM %s's file systems (guest agent)", sn.in.Name)
	// Thaw whatever happens, even if the freeze itself failed half way or
	// was interrupted (the agent may have frozen some).
	defer func() {
		tctx, tcancel := bounded(ctx, Scaled(30*time.Second, runningAccel(sn.in)))
		defer tcancel()
		if _, terr := ga.FSThaw(tctx); terr != nil {
			werr := withStep(fmt.Errorf("the guest's file systems may still be frozen, thawing them failed: %w", terr), NextThaw, sn.in.Name, "")
			if err == nil {
				err = werr
			} else {
				err = fmt.Errorf("%w; and %w", err, werr)
			}
		} else {
			sn.opts.logf("thawed VM %s's file systems", sn.in.Name)
		}
	}()
	fctx, fcancel := context.WithTimeout(ctx, Scaled(time.Minute, runningAccel(sn.in)))
	n, err := ga.FSFreeze(fctx)
	fcancel()
	if ctx.Err() != nil {
		return r, interrupted(ctx, fmt.Sprintf("no snapshot of VM %s was taken (its file systems were thawed); nothing changed", sn.in.Name))
	}
	if err != nil {
		return r, fmt.Errorf("freeze VM %s's file systems: %w", sn.in.Name, err)
	}
	r.Frozen = n
	sn.opts.logf("froze %d file system(s); snapshot %s of %s (one transaction)", n, tag, strings.Join(labels(sn.imgs), ", "))
	if err := c.SnapshotInternalAll(bctx, tag, v.nodes); err != nil {
		return r, fmt.Errorf("snapshot %s of VM %s (nothing was made: it is one transaction): %w", tag, sn.in.Name, err)
	}
	if ctx.Err() != nil {
		derr := c.SnapshotDelete(bctx, jobID("delete"), tag, v.nodes)
		msg := fmt.Sprintf("snapshot %s of VM %s was not kept (deleted again; file systems thawed); the VM runs on", tag, sn.in.Name)
		next := NextNone
		if derr != nil {
			msg = fmt.Sprintf("snapshot %s of VM %s was taken and deleting it again failed: %v", tag, sn.in.Name, derr)
			next = NextSnapshotRm
		}
		return r, interruptedStep(ctx, msg, next, sn.in.Name, tag)
	}
	return r, nil
}

// SnapshotRestore reverts the VM to snapshot tag. A stopped VM gets its
// disks and UEFI variables back (and, for a snapshot with RAM state, is
// started from it); a running VM loads a snapshot with RAM state and
// resumes where it was. The tag must be on every image; nothing changes
// otherwise. lock is the VM's lock, which the caller holds.
func SnapshotRestore(ctx context.Context, facts *host.Facts, lock *store.Lock, tag string, opts SnapshotOptions) (SnapshotResult, error) {
	if !strings.HasPrefix(tag, undoTagPrefix) {
		if err := ValidateTag(tag); err != nil {
			return SnapshotResult{}, err
		}
	}
	sn, err := newSnapper(facts, lock, opts)
	if err != nil {
		return SnapshotResult{}, err
	}
	// A golden base (nixvm protect) is never rewritten.
	if st, err := sn.in.ReadState(); err == nil && st.Protected {
		return SnapshotResult{}, &ProtectedError{Name: sn.in.Name, Op: "restored"}
	}
	var r SnapshotResult
	if sn.running {
		r, err = sn.restoreRunning(ctx, tag)
	} else {
		r, err = sn.restoreStopped(ctx, tag)
	}
	sn.done(&r)
	return r, err
}

func (sn *snapper) restoreRunning(ctx context.Context, tag string) (SnapshotResult, error) {
	r := sn.result(tag)
	c, err := sn.dialQMP(ctx)
	if err != nil {
		return r, err
	}
	defer c.Close()
	v, err := sn.view(ctx, c)
	if err != nil {
		return r, err
	}
	e, err := findSnapshot(sn.in.Name, tag, collectSnapshots(labels(sn.imgs), v.per))
	if err != nil {
		return r, err
	}
	if err := checkRestorable(sn.in.Name, e); err != nil {
		return r, err
	}
	if !e.RAM {
		return r, withStep(kindErr(ErrNeedsStop, "snapshot %q of VM %s has no RAM state (it was taken stopped or disk-only), so it can only be restored with the VM stopped", tag, sn.in.Name), NextStopThenRestore, sn.in.Name, tag)
	}
	r.RAM, r.RAMBytes = true, e.RAMBytes
	if ctx.Err() != nil {
		return r, interrupted(ctx, fmt.Sprintf("VM %s was not restored; nothing changed", sn.in.Name))
	}
	sn.opts.logf("loading snapshot %s into running VM %s (the guest pauses meanwhile)", tag, sn.in.Name)
	bctx, cancel := bounded(ctx, sn.jobDeadline())
	defer cancel()
	if err := c.SnapshotLoad(bctx, jobID("load"), tag, v.vmstate, v.nodes); err != nil {
		_, status, qerr := c.QueryStatus(bctx)
		if qerr != nil {
			status = "in an unknown state"
		}
		return r, withStep(fmt.Errorf("restore VM %s to snapshot %s: %w; QEMU reports the VM %s and its state may be partly restored", sn.in.Name, tag, err, status), NextRestoreOrForceStop, sn.in.Name, tag)
	}
	if ctx.Err() != nil {
		return r, interrupted(ctx, fmt.Sprintf("the restore had begun and was completed: VM %s runs from snapshot %s", sn.in.Name, tag))
	}
	return r, nil
}

func (sn *snapper) restoreStopped(ctx context.Context, tag string) (SnapshotResult, error) {
	r := sn.result(tag)
	per, err := sn.offlineTables(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return r, interrupted(ctx, fmt.Sprintf("VM %s was not restored; nothing changed", sn.in.Name))
		}
		return r, err
	}
	e, err := findSnapshot(sn.in.Name, tag, collectSnapshots(labels(sn.imgs), per))
	if err != nil {
		return r, err
	}
	if err := checkRestorable(sn.in.Name, e); err != nil {
		return r, err
	}
	r.RAM, r.RAMBytes = e.RAM, e.RAMBytes
	if ctx.Err() != nil {
		return r, interrupted(ctx, fmt.Sprintf("VM %s was not restored; nothing changed", sn.in.Name))
	}
	bctx, cancel := bounded(ctx, 10*time.Minute)
	defer cancel()

	// The undo point: the images as they are now, to go back to if the
	// restore fails or is interrupted part way.
	undoTag := fmt.Sprintf("%s%s-%d", undoTagPrefix, time.Now().UTC().Format("20060102-150405"), os.Getpid())
	var marked []snapshotImage
	for _, img := range sn.imgs {
		if err := sn.q.SnapshotCreate(bctx, img.Path, undoTag); err != nil {
			derr := sn.deleteOffline(bctx, marked, undoTag)
			return r, errors.Join(fmt.Errorf("restore VM %s: take an undo point of %s first: %w; nothing changed", sn.in.Name, img.Label, err), derr)
		}
		marked = append(marked, img)
	}
	dropUndo := func() {
		if err := sn.deleteOffline(bctx, marked, undoTag); err != nil {
			r.Warnings = append(r.Warnings, Warning{Msg: fmt.Sprintf("the undo point %s could not be removed (%v)", undoTag, err), Step: Step{Next: NextSnapshotRm, Name: sn.in.Name, Tag: undoTag}})
		}
	}
	// goBack reverts the images in applied to the undo point.
	goBack := func(applied []snapshotImage) error {
		var errs []error
		for _, img := range applied {
			if err := sn.q.SnapshotApply(bctx, img.Path, undoTag); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", img.Label, err))
			}
		}
		if err := errors.Join(errs...); err != nil {
			return withStep(fmt.Errorf("going back failed (%w): the state before is kept as snapshot %s", err, undoTag), NextSnapshotRestore, sn.in.Name, undoTag)
		}
		dropUndo()
		return nil
	}

	if e.RAM {
		rr, err := sn.restoreRAMStopped(ctx, bctx, tag, undoTag, r, goBack)
		rr.Warnings = append(rr.Warnings, r.Warnings...) // goBack's
		return rr, err
	}
	var applied []snapshotImage
	fail := func(cause error) (SnapshotResult, error) {
		gerr := goBack(applied)
		msg := fmt.Sprintf("VM %s was not restored (the %d image(s) restored went back); nothing changed", sn.in.Name, len(applied))
		if gerr != nil {
			msg = fmt.Sprintf("VM %s was restored only in part: %v", sn.in.Name, gerr)
		}
		if cause == nil {
			return r, interrupted(ctx, msg)
		}
		return r, fmt.Errorf("%w; %s", cause, msg)
	}
	for _, img := range sn.imgs {
		if ctx.Err() != nil {
			return fail(nil)
		}
		sn.opts.logf("restore %s to snapshot %s", img.Label, tag)
		if err := sn.q.SnapshotApply(bctx, img.Path, tag); err != nil {
			return fail(fmt.Errorf("restore VM %s's %s to snapshot %s: %w", sn.in.Name, img.Label, tag, err))
		}
		applied = append(applied, img)
	}
	dropUndo()
	return r, nil
}

// restoreRAMStopped starts the stopped VM paused, loads the snapshot's RAM
// state (which also reverts the images) and lets it run. Any failure or an
// interrupt before it runs stops that QEMU and goes back to the undo point.
func (sn *snapper) restoreRAMStopped(ctx, bctx context.Context, tag, undoTag string, r SnapshotResult, goBack func([]snapshotImage) error) (SnapshotResult, error) {
	back := func(cause error, what string) (SnapshotResult, error) {
		msg := fmt.Sprintf("VM %s was not restored (%s); it is stopped and as it was", sn.in.Name, what)
		if gerr := goBack(sn.imgs); gerr != nil {
			msg = fmt.Sprintf("VM %s was not restored and is stopped, but %v", sn.in.Name, gerr)
		}
		if cause == nil {
			return r, interrupted(ctx, msg)
		}
		return r, fmt.Errorf("%w; %s", cause, msg)
	}
	sn.opts.logf("starting VM %s paused, to load snapshot %s's RAM state", sn.in.Name, tag)
	so := sn.opts.Start
	so.Paused = true
	if _, err := Start(ctx, sn.facts, sn.lock, so); err != nil {
		if ctx.Err() != nil {
			return back(nil, "its QEMU was killed again")
		}
		return back(err, "its QEMU was killed again")
	}
	stopIt := func() error {
		_, err := Stop(bctx, sn.lock, StopOptions{Force: true})
		return err
	}
	c, err := sn.dialQMP(bctx)
	if err != nil {
		return back(errors.Join(err, stopIt()), "its QEMU was stopped again")
	}
	defer c.Close()
	v, err := sn.view(bctx, c)
	if err == nil && ctx.Err() == nil {
		sn.opts.logf("loading snapshot %s into VM %s", tag, sn.in.Name)
		lctx, cancel := context.WithTimeout(bctx, sn.jobDeadline())
		err = c.SnapshotLoad(lctx, jobID("load"), tag, v.vmstate, v.nodes)
		cancel()
	}
	if err != nil || ctx.Err() != nil {
		if serr := stopIt(); serr != nil {
			return r, withStep(fmt.Errorf("restore VM %s: %v; and its QEMU could not be stopped: %w", sn.in.Name, err, serr), NextStatus, sn.in.Name, "")
		}
		if err != nil {
			err = fmt.Errorf("restore VM %s to snapshot %s: %w", sn.in.Name, tag, err)
		}
		return back(err, "the QEMU that was loading it was stopped")
	}
	if err := c.Cont(bctx); err != nil {
		return r, withStep(fmt.Errorf("VM %s was restored to snapshot %s but does not run (cont: %w)", sn.in.Name, tag, err), NextForceStopThenRestore, sn.in.Name, tag)
	}
	sn.running, r.Running, r.Started = true, true, true
	// The undo point is not needed any more; QEMU holds the images now.
	if err := c.SnapshotDelete(bctx, jobID("delete"), undoTag, v.nodes); err != nil {
		r.Warnings = append(r.Warnings, Warning{Msg: fmt.Sprintf("the undo point %s could not be removed (%v)", undoTag, err), Step: Step{Next: NextSnapshotRm, Name: sn.in.Name, Tag: undoTag}})
	}
	return r, nil
}

// SnapshotDelete removes snapshot tag from every image that has it (an
// incomplete one too). Once it has begun it finishes, interrupted or not.
// lock is the VM's lock, which the caller holds.
func SnapshotDelete(ctx context.Context, facts *host.Facts, lock *store.Lock, tag string) (r SnapshotResult, err error) {
	if !strings.HasPrefix(tag, undoTagPrefix) {
		if err := ValidateTag(tag); err != nil {
			return SnapshotResult{}, err
		}
	}
	sn, err := newSnapper(facts, lock, SnapshotOptions{})
	if err != nil {
		return SnapshotResult{}, err
	}
	r = sn.result(tag)
	defer sn.done(&r)
	bctx, cancel := bounded(ctx, sn.jobDeadline())
	defer cancel()
	if sn.running {
		c, err := sn.dialQMP(ctx)
		if err != nil {
			return r, err
		}
		defer c.Close()
		v, err := sn.view(ctx, c)
		if err != nil {
			return r, err
		}
		e, err := findSnapshot(sn.in.Name, tag, collectSnapshots(labels(sn.imgs), v.per))
		if err != nil {
			return r, err
		}
		r.Images, r.RAM = e.Images, e.RAM
		if ctx.Err() != nil {
			return r, interrupted(ctx, fmt.Sprintf("snapshot %s of VM %s was not removed; nothing changed", tag, sn.in.Name))
		}
		if err := c.SnapshotDelete(bctx, jobID("delete"), tag, v.nodes); err != nil {
			return r, fmt.Errorf("remove snapshot %s of VM %s: %w", tag, sn.in.Name, err)
		}
	} else {
		per, err := sn.offlineTables(ctx)
		if err != nil {
			return r, err
		}
		e, err := findSnapshot(sn.in.Name, tag, collectSnapshots(labels(sn.imgs), per))
		if err != nil {
			return r, err
		}
		r.Images, r.RAM = e.Images, e.RAM
		if ctx.Err() != nil {
			return r, interrupted(ctx, fmt.Sprintf("snapshot %s of VM %s was not removed; nothing changed", tag, sn.in.Name))
		}
		var has []snapshotImage
		for _, img := range sn.imgs {
			if slices.Contains(e.Images, img.Label) {
				has = append(has, img)
			}
		}
		if err := sn.deleteOffline(bctx, has, tag); err != nil {
			return r, withStep(fmt.Errorf("remove snapshot %s of VM %s: %w", tag, sn.in.Name, err), NextSnapshotList, sn.in.Name, "")
		}
	}
	if ctx.Err() != nil {
		return r, interrupted(ctx, fmt.Sprintf("the removal had begun and was finished: snapshot %s of VM %s is gone from every image", tag, sn.in.Name))
	}
	return r, nil
}
