package vm

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nixvm/nixvm/internal/host"
	"github.com/nixvm/nixvm/internal/qemuimg"
	"github.com/nixvm/nixvm/internal/spec"
	"github.com/nixvm/nixvm/internal/sshx"
	"github.com/nixvm/nixvm/internal/store"
)

func TestValidateTag(t *testing.T) {
	for _, tc := range []struct {
		tag  string
		ok   bool
		want string // in the error
	}{
		{"snap-20261202-051500", true, ""},
		{"before.upgrade_2", true, ""},
		{"a", true, ""},
		{"v1", true, ""},
		{"", false, "empty"},
		{"42", false, "all digits"},
		{"a b", false, `"a b"`},
		{"a/b", false, `"a/b"`},
		{"-x", false, "starting with a letter or digit"},
		{"_nixvm-undo-1", false, "starting with a letter or digit"},
		{strings.Repeat("x", 65), false, "1-64"},
		{strings.Repeat("x", 64), true, ""},
		{"ü", false, "letters"},
	} {
		err := ValidateTag(tc.tag)
		if tc.ok != (err == nil) {
			t.Errorf("ValidateTag(%q) = %v, want ok=%v", tc.tag, err, tc.ok)
			continue
		}
		if err != nil && (!errors.Is(err, ErrBadTag) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "TAG")) {
			t.Errorf("ValidateTag(%q) = %q: want ErrBadTag naming TAG and %q", tc.tag, err, tc.want)
		}
	}
}

func TestDefaultTag(t *testing.T) {
	at := time.Date(2026, 12, 2, 6, 15, 0, 0, time.FixedZone("CET", 3600))
	if got := DefaultTag(at); got != "snap-20261202-051500" {
		t.Fatalf("DefaultTag = %q, want snap-20261202-051500 (UTC)", got)
	}
	if err := ValidateTag(DefaultTag(at)); err != nil {
		t.Fatal(err)
	}
}

func TestCollectSnapshots(t *testing.T) {
	sn := func(name string, date, vmstate int64) qemuimg.Snapshot {
		return qemuimg.Snapshot{Name: name, DateSec: date, VMStateSize: vmstate}
	}
	for _, tc := range []struct {
		name   string
		labels []string
		per    map[string][]qemuimg.Snapshot
		want   []SnapshotEntry
	}{
		{"none", []string{"disk0", "efivars"}, map[string][]qemuimg.Snapshot{}, []SnapshotEntry{}},
		{"offline, on every image", []string{"disk0", "efivars"}, map[string][]qemuimg.Snapshot{
			"disk0":   {sn("a", 100, 0)},
			"efivars": {sn("a", 101, 0)},
		}, []SnapshotEntry{
			{Tag: "a", Date: time.Unix(100, 0).UTC(), Images: []string{"disk0", "efivars"}, Complete: true},
		}},
		{"RAM state on the first disk, sorted by date", []string{"disk0", "disk1", "efivars"}, map[string][]qemuimg.Snapshot{
			"disk0":   {sn("late", 300, 0), sn("ram", 200, 5000)},
			"disk1":   {sn("late", 300, 0), sn("ram", 200, 0)},
			"efivars": {sn("ram", 200, 0), sn("late", 300, 0)},
		}, []SnapshotEntry{
			{Tag: "ram", Date: time.Unix(200, 0).UTC(), RAM: true, RAMBytes: 5000, Images: []string{"disk0", "disk1", "efivars"}, Complete: true},
			{Tag: "late", Date: time.Unix(300, 0).UTC(), Images: []string{"disk0", "disk1", "efivars"}, Complete: true},
		}},
		{"incomplete (killed part way)", []string{"disk0", "efivars"}, map[string][]qemuimg.Snapshot{
			"disk0": {sn("half", 100, 0)},
		}, []SnapshotEntry{
			{Tag: "half", Date: time.Unix(100, 0).UTC(), Images: []string{"disk0"}, Missing: []string{"efivars"}, Complete: false},
		}},
		{"only on a later image", []string{"disk0", "efivars"}, map[string][]qemuimg.Snapshot{
			"efivars": {sn("x", 100, 0)},
		}, []SnapshotEntry{
			{Tag: "x", Date: time.Unix(100, 0).UTC(), Images: []string{"efivars"}, Missing: []string{"disk0"}},
		}},
		{"an undo point left by a killed restore", []string{"disk0"}, map[string][]qemuimg.Snapshot{
			"disk0": {sn(undoTagPrefix+"20261202-051500-7", 100, 0)},
		}, []SnapshotEntry{
			{Tag: undoTagPrefix + "20261202-051500-7", Date: time.Unix(100, 0).UTC(), Images: []string{"disk0"}, Complete: true, Internal: true},
		}},
		{"same date: by tag", []string{"disk0"}, map[string][]qemuimg.Snapshot{
			"disk0": {sn("b", 100, 0), sn("a", 100, 0)},
		}, []SnapshotEntry{
			{Tag: "a", Date: time.Unix(100, 0).UTC(), Images: []string{"disk0"}, Complete: true},
			{Tag: "b", Date: time.Unix(100, 0).UTC(), Images: []string{"disk0"}, Complete: true},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := collectSnapshots(tc.labels, tc.per)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("collectSnapshots:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestFindAndRestorable(t *testing.T) {
	entries := []SnapshotEntry{
		{Tag: "good", Images: []string{"disk0", "efivars"}, Complete: true},
		{Tag: "half", Images: []string{"disk0"}, Missing: []string{"efivars"}},
	}
	if _, err := findSnapshot("vm", "nope", entries); !errors.Is(err, ErrNoSuchSnapshot) || !strings.Contains(err.Error(), `"nope" (its snapshots: good, half)`) {
		t.Errorf("missing tag: %v", err)
	}
	if _, err := findSnapshot("vm", "nope", nil); err == nil || !strings.Contains(err.Error(), "it has no snapshots") {
		t.Errorf("missing tag, none at all: %v", err)
	}
	e, err := findSnapshot("vm", "half", entries)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkRestorable("vm", e); !errors.Is(err, ErrIncompleteSnapshot) || !strings.Contains(err.Error(), "missing on efivars") || !hasStep(err, NextSnapshotRm, "vm", "half") {
		t.Errorf("incomplete: %v", err)
	}
	e, _ = findSnapshot("vm", "good", entries)
	if err := checkRestorable("vm", e); err != nil {
		t.Errorf("complete: %v", err)
	}
}

// snapVM is a stopped UEFI VM (disk0 + efivars.qcow2) made by Create.
func snapVM(t *testing.T) (*host.Facts, *store.Lock) {
	t.Helper()
	facts := needQEMU(t)
	if _, err := facts.UEFIFor("x86_64"); err != nil {
		t.Skipf("no UEFI firmware: %v", err)
	}
	return facts, newVMWith(t, facts, "sn", "uefi")
}

// pattern writes byte b over the first 64 KiB of the image, and read
// checks it is there.
func pattern(t *testing.T, img string, b string) {
	t.Helper()
	q := needQEMUIO(t)
	if out, err := exec.Command(q, "-f", "qcow2", "-c", "write -P "+b+" 0 64k", img).CombinedOutput(); err != nil {
		t.Fatalf("qemu-io write: %v\n%s", err, out)
	}
}

func hasPattern(t *testing.T, img string, b string) bool {
	t.Helper()
	q := needQEMUIO(t)
	out, err := exec.Command(q, "-f", "qcow2", "-c", "read -P "+b+" 0 64k", img).CombinedOutput()
	if strings.Contains(string(out), "Pattern verification failed") {
		return false
	}
	if err != nil {
		t.Fatalf("qemu-io read: %v\n%s", err, out)
	}
	return true
}

func needQEMUIO(t *testing.T) string {
	t.Helper()
	q, err := exec.LookPath("qemu-io")
	if err != nil {
		t.Skip("qemu-io not installed")
	}
	return q
}

// hookedQEMUImg returns host facts whose qemu-img is a wrapper that first
// runs hook (a shell command: fail, or wait) when its arguments match
// match, e.g. "-c snap /path/efivars.qcow2".
func hookedQEMUImg(t *testing.T, match, hook string) *host.Facts {
	t.Helper()
	facts, err := host.Find(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	real, err := facts.RequireQEMUImg()
	if err != nil {
		t.Fatal(err)
	}
	w := filepath.Join(t.TempDir(), "qemu-img")
	script := "#!/bin/sh\ncase \"$*\" in\n*\"" + match + "\"*) " + hook + " ;;\nesac\nexec " + real.Path + " \"$@\"\n"
	if err := os.WriteFile(w, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	facts.QEMUImg = &host.Binary{Path: w}
	return facts
}

func tagsOn(t *testing.T, facts *host.Facts, img string) []string {
	t.Helper()
	bin, _ := facts.RequireQEMUImg()
	snaps, err := qemuimg.Tool{Path: bin.Path}.Snapshots(t.Context(), img)
	if err != nil {
		t.Fatal(err)
	}
	var tags []string
	for _, s := range snaps {
		tags = append(tags, s.Name)
	}
	return tags
}

// TestSnapshotOffline: a stopped VM's snapshot covers disk0 and efivars;
// restore brings both back; a failure part way (qemu-img failing on the
// second image) or an interrupt leaves every image as it was.
func TestSnapshotOffline(t *testing.T) {
	facts, lock := snapVM(t)
	in := lock.Instance()
	ctx := t.Context()
	pattern(t, in.Disk(0), "0x11")
	pattern(t, in.EFIVars(), "0x21")
	if _, err := SnapshotCreate(ctx, facts, lock, "one", SnapshotOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := SnapshotCreate(ctx, facts, lock, "one", SnapshotOptions{}); !errors.Is(err, ErrSnapshotExists) {
		t.Fatalf("duplicate tag: %v, want ErrSnapshotExists", err)
	}
	pattern(t, in.Disk(0), "0x12")
	pattern(t, in.EFIVars(), "0x22")

	l, err := SnapshotList(ctx, facts, lock)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Snapshots) != 1 || !l.Snapshots[0].Complete || l.Snapshots[0].RAM || len(l.Images) != 2 || l.DiskBytes <= 0 {
		t.Fatalf("list: %+v", l)
	}

	// A missing tag changes nothing.
	if _, err := SnapshotRestore(ctx, facts, lock, "two", SnapshotOptions{}); !errors.Is(err, ErrNoSuchSnapshot) {
		t.Fatalf("restore of a missing tag: %v", err)
	}
	if !hasPattern(t, in.Disk(0), "0x12") || !hasPattern(t, in.EFIVars(), "0x22") {
		t.Fatal("a failed restore changed the images")
	}

	// Restore fails on the second image: the first goes back too, and
	// no undo point is left.
	failing := hookedQEMUImg(t, "-a one "+in.EFIVars(), "echo injected failure >&2; exit 1")
	if _, err := SnapshotRestore(ctx, failing, lock, "one", SnapshotOptions{}); err == nil || !strings.Contains(err.Error(), "nothing changed") {
		t.Fatalf("restore failing on efivars: %v", err)
	}
	if !hasPattern(t, in.Disk(0), "0x12") || !hasPattern(t, in.EFIVars(), "0x22") {
		t.Fatal("a restore that failed part way left disk0 restored")
	}
	if got := tagsOn(t, facts, in.Disk(0)); !reflect.DeepEqual(got, []string{"one"}) {
		t.Fatalf("disk0 snapshots after the failed restore: %v (an undo point left?)", got)
	}

	// Create fails on the second image: the first image's is removed.
	failing = hookedQEMUImg(t, "-c two "+in.EFIVars(), "echo injected failure >&2; exit 1")
	if _, err := SnapshotCreate(ctx, failing, lock, "two", SnapshotOptions{}); err == nil || !strings.Contains(err.Error(), "rolled back") {
		t.Fatalf("create failing on efivars: %v", err)
	}
	if got := tagsOn(t, facts, in.Disk(0)); !reflect.DeepEqual(got, []string{"one"}) {
		t.Fatalf("disk0 snapshots after the failed create: %v", got)
	}

	// Interrupted while the first image is being snapshotted: that
	// qemu-img finishes, then is rolled back.
	marker := filepath.Join(t.TempDir(), "started")
	failing = hookedQEMUImg(t, "-c three "+in.Disk(0), "touch "+marker+"; sleep 1")
	ictx, cancel := context.WithCancel(ctx)
	go func() {
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if _, err := os.Stat(marker); err == nil {
				break
			}
		}
		cancel()
	}()
	_, err = SnapshotCreate(ictx, failing, lock, "three", SnapshotOptions{})
	var ie *InterruptedError
	if !errors.As(err, &ie) || !errors.Is(err, context.Canceled) || !strings.Contains(ie.Msg, "nothing changed") {
		t.Fatalf("interrupted create: %v", err)
	}
	for _, img := range []string{in.Disk(0), in.EFIVars()} {
		if got := tagsOn(t, facts, img); !reflect.DeepEqual(got, []string{"one"}) {
			t.Fatalf("%s after the interrupted create: %v", filepath.Base(img), got)
		}
	}

	// Interrupted while disk0 is being restored: that qemu-img
	// finishes, then disk0 goes back to the undo point.
	marker = filepath.Join(t.TempDir(), "restoring")
	failing = hookedQEMUImg(t, "-a one "+in.Disk(0), "touch "+marker+"; sleep 1")
	ictx, cancel = context.WithCancel(ctx)
	go func() {
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if _, err := os.Stat(marker); err == nil {
				break
			}
		}
		cancel()
	}()
	_, err = SnapshotRestore(ictx, failing, lock, "one", SnapshotOptions{})
	if !errors.As(err, &ie) || !strings.Contains(ie.Msg, "went back") {
		t.Fatalf("interrupted restore: %v", err)
	}
	if !hasPattern(t, in.Disk(0), "0x12") || !hasPattern(t, in.EFIVars(), "0x22") {
		t.Fatal("an interrupted restore left disk0 restored")
	}
	if got := tagsOn(t, facts, in.Disk(0)); !reflect.DeepEqual(got, []string{"one"}) {
		t.Fatalf("disk0 snapshots after the interrupted restore: %v", got)
	}

	// The restore itself.
	if _, err := SnapshotRestore(ctx, facts, lock, "one", SnapshotOptions{}); err != nil {
		t.Fatal(err)
	}
	if !hasPattern(t, in.Disk(0), "0x11") || !hasPattern(t, in.EFIVars(), "0x21") {
		t.Fatal("restore did not bring back disk0 and efivars")
	}
	if _, err := SnapshotDelete(ctx, facts, lock, "one"); err != nil {
		t.Fatal(err)
	}
	for _, img := range []string{in.Disk(0), in.EFIVars()} {
		if got := tagsOn(t, facts, img); len(got) != 0 {
			t.Fatalf("%s after rm: %v", filepath.Base(img), got)
		}
	}
}

// TestSnapshotIncomplete: a tag on some images only (a killed create) is
// listed as incomplete, refused by restore, and removed by rm.
func TestSnapshotIncomplete(t *testing.T) {
	facts, lock := snapVM(t)
	in := lock.Instance()
	bin, _ := facts.RequireQEMUImg()
	if err := (qemuimg.Tool{Path: bin.Path}).SnapshotCreate(t.Context(), in.Disk(0), "half"); err != nil {
		t.Fatal(err)
	}
	l, err := SnapshotList(t.Context(), facts, lock)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Snapshots) != 1 || l.Snapshots[0].Complete || !reflect.DeepEqual(l.Snapshots[0].Missing, []string{"efivars"}) {
		t.Fatalf("list: %+v", l.Snapshots)
	}
	if _, err := SnapshotRestore(t.Context(), facts, lock, "half", SnapshotOptions{}); !errors.Is(err, ErrIncompleteSnapshot) {
		t.Fatalf("restore of an incomplete tag: %v", err)
	}
	if _, err := SnapshotDelete(t.Context(), facts, lock, "half"); err != nil {
		t.Fatal(err)
	}
	if got := tagsOn(t, facts, in.Disk(0)); len(got) != 0 {
		t.Fatalf("after rm: %v", got)
	}
}

// TestSnapshotRunning: a running VM (firmware only, no OS) is saved with
// its RAM state over QMP, listed, restored while running, and restored
// into the stopped VM (started paused, loaded, let run); a disk-only
// snapshot is not restored while it runs.
func TestSnapshotRunning(t *testing.T) {
	facts, lock := snapVM(t)
	in := lock.Instance()
	ctx := t.Context()
	if _, err := SnapshotCreate(ctx, facts, lock, "cold", SnapshotOptions{}); err != nil {
		t.Fatal(err)
	}
	// A read-only CD (as the installer ISO of a manual VM) never blocks
	// a snapshot, nor is part of one.
	iso := filepath.Join(t.TempDir(), "cd.iso")
	if err := os.WriteFile(iso, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	boot := StartOptions{ISO: iso}
	if _, err := Start(ctx, facts, lock, boot); err != nil {
		t.Fatal(err)
	}
	r, err := SnapshotCreate(ctx, facts, lock, "warm", SnapshotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !r.RAM || !r.Running || r.RAMBytes <= 0 {
		t.Fatalf("create of a running VM: %+v", r)
	}
	l, err := SnapshotList(ctx, facts, lock)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Snapshots) != 2 || l.Snapshots[1].Tag != "warm" || !l.Snapshots[1].RAM || !l.Snapshots[1].Complete {
		t.Fatalf("list while running: %+v", l.Snapshots)
	}
	if _, err := SnapshotRestore(ctx, facts, lock, "cold", SnapshotOptions{}); !errors.Is(err, ErrNeedsStop) || !hasStep(err, NextStopThenRestore, "sn", "cold") {
		t.Fatalf("restore of a disk-only snapshot while running: %v", err)
	}
	pid := Status(in).PID
	if r, err := SnapshotRestore(ctx, facts, lock, "warm", SnapshotOptions{}); err != nil || !r.Running || r.Started {
		t.Fatalf("restore while running: %+v, %v", r, err)
	}
	if st := Status(in); st.State != StateRunning || st.PID != pid {
		t.Fatalf("after the restore: %+v, want the same QEMU (pid %d) running", st, pid)
	}
	if _, err := SnapshotCreate(ctx, facts, lock, "warm", SnapshotOptions{}); !errors.Is(err, ErrSnapshotExists) {
		t.Fatalf("duplicate while running: %v", err)
	}
	if _, err := Stop(ctx, lock, StopOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	r, err = SnapshotRestore(ctx, facts, lock, "warm", SnapshotOptions{Start: boot})
	if err != nil || !r.Started || !r.Running {
		t.Fatalf("restore of a RAM snapshot into the stopped VM: %+v, %v", r, err)
	}
	if st := Status(in); st.State != StateRunning {
		t.Fatalf("after the restore: %s, want running", st.State)
	}
	// No undo point is left.
	l, err = SnapshotList(ctx, facts, lock)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Snapshots) != 2 {
		t.Fatalf("after a RAM restore of the stopped VM: %+v", l.Snapshots)
	}

	// Loaded into another machine (more memory), the RAM state does not
	// fit: QEMU refuses it, the QEMU started for it is stopped and the
	// images go back; no undo point is left.
	if _, err := Stop(ctx, lock, StopOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	setMemory := func(m spec.Size) {
		t.Helper()
		s, err := LoadSpec(in)
		if err != nil {
			t.Fatal(err)
		}
		s.Memory = m
		b, err := s.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(in.SpecFile(), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	setMemory(spec.Size(384 << 20))
	pattern(t, in.Disk(0), "0x33") // written after warm
	_, err = SnapshotRestore(ctx, facts, lock, "warm", SnapshotOptions{Start: boot})
	if err == nil || !strings.Contains(err.Error(), "it is stopped and as it was") {
		t.Fatalf("restore into a different machine: %v", err)
	}
	if st := Status(in); st.State != StateStopped {
		t.Fatalf("after a failed RAM restore: %s, want stopped", st.State)
	}
	if got := tagsOn(t, facts, in.Disk(0)); !reflect.DeepEqual(got, []string{"cold", "warm"}) {
		t.Fatalf("disk0 snapshots after the failed RAM restore: %v", got)
	}
	if !hasPattern(t, in.Disk(0), "0x33") {
		t.Fatal("a failed RAM restore left disk0 at the snapshot")
	}
	setMemory(spec.Size(256 << 20))
	if _, err := SnapshotRestore(ctx, facts, lock, "warm", SnapshotOptions{Start: boot}); err != nil {
		t.Fatal(err)
	}

	if _, err := SnapshotDelete(ctx, facts, lock, "warm"); err != nil {
		t.Fatal(err)
	}
	if l, _ := SnapshotList(ctx, facts, lock); len(l.Snapshots) != 1 {
		t.Fatalf("after rm while running: %+v", l.Snapshots)
	}
}

// TestSnapshotRawEFIVars: a format-1 VM (raw efivars.fd) is refused in one
// line that says why.
func TestSnapshotRawEFIVars(t *testing.T) {
	facts, lock := snapVM(t)
	in := lock.Instance()
	if err := os.WriteFile(in.FormatFile(), []byte("1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := SnapshotCreate(t.Context(), facts, lock, "x", SnapshotOptions{})
	if !errors.Is(err, ErrNotSnapshottable) || !strings.Contains(err.Error(), "raw efivars.fd") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("format-1 VM: %v", err)
	}
}

// TestSnapshotProtected: a protected base (nixvm protect) is not restored;
// its images stay as they are.
func TestSnapshotProtected(t *testing.T) {
	facts, lock := snapVM(t)
	in := lock.Instance()
	if _, err := SnapshotCreate(t.Context(), facts, lock, "one", SnapshotOptions{}); err != nil {
		t.Fatal(err)
	}
	pattern(t, in.Disk(0), "0x44")
	if err := lock.UpdateState(func(st *store.State) { st.Protected = true }); err != nil {
		t.Fatal(err)
	}
	_, err := SnapshotRestore(t.Context(), facts, lock, "one", SnapshotOptions{})
	var pe *ProtectedError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "not restored") {
		t.Fatalf("restore of a protected VM: %v", err)
	}
	if !hasPattern(t, in.Disk(0), "0x44") {
		t.Fatal("a refused restore changed disk0")
	}
}

// TestSnapshotCreateProtected: a protected base takes no snapshot (it
// would block every linked clone of it, create --from, and could not be
// restored); nothing is written, and create --from's clone still works.
func TestSnapshotCreateProtected(t *testing.T) {
	facts, lock := snapVM(t)
	in := lock.Instance()
	priv, pub, err := sshx.NewHostKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := sshx.WriteHostKey(in, priv, pub); err != nil {
		t.Fatal(err)
	}
	if err := lock.UpdateState(func(st *store.State) { st.Protected = true }); err != nil {
		t.Fatal(err)
	}
	before := map[string]string{}
	for _, img := range []string{in.Disk(0), in.EFIVars()} {
		before[img] = fileSum(t, img)
	}
	_, err = SnapshotCreate(t.Context(), facts, lock, "one", SnapshotOptions{})
	var pe *ProtectedError
	if !errors.As(err, &pe) || err.Error() != "VM sn is a protected base and is not snapshotted" {
		t.Fatalf("snapshot of a protected VM: %v", err)
	}
	for img, sum := range before {
		if fileSum(t, img) != sum {
			t.Errorf("a refused snapshot wrote %s", filepath.Base(img))
		}
	}
	l, err := SnapshotList(t.Context(), facts, lock)
	if err != nil || len(l.Snapshots) != 0 {
		t.Errorf("snapshots of the protected VM after a refused create: %+v %v", l.Snapshots, err)
	}
	cl, err := Clone(t.Context(), facts, lock, "dev1", CloneOptions{})
	if err != nil {
		t.Fatalf("linked clone of the protected base: %v", err)
	}
	cl.Unlock()
}
