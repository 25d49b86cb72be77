package vm

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nixvm/nixvm/internal/host"
	"github.com/nixvm/nixvm/internal/qemuimg"
	"github.com/nixvm/nixvm/internal/spec"
	"github.com/nixvm/nixvm/internal/sshx"
	"github.com/nixvm/nixvm/internal/store"
)

// cloneSource is a stopped VM that can be cloned: newVM plus the host key
// an install would have made.
func cloneSource(t *testing.T) (*host.Facts, *store.Lock) {
	t.Helper()
	facts := needQEMU(t)
	lock := newVM(t, facts)
	priv, pub, err := sshx.NewHostKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := sshx.WriteHostKey(lock.Instance(), priv, pub); err != nil {
		t.Fatal(err)
	}
	return facts, lock
}

func clone(t *testing.T, facts *host.Facts, src *store.Lock, dst string, opts CloneOptions) store.Instance {
	t.Helper()
	l, err := Clone(t.Context(), facts, src, dst, opts)
	if err != nil {
		t.Fatalf("clone %s: %v", dst, err)
	}
	in := l.Instance()
	l.Unlock()
	return in
}

func bases(t *testing.T, in store.Instance) []string {
	t.Helper()
	b, _ := filepath.Glob(filepath.Join(in.Dir, "disk0.base-*.qcow2"))
	return b
}

func TestCloneLinked(t *testing.T) {
	facts, lock := cloneSource(t)
	src := lock.Instance()
	c1 := clone(t, facts, lock, "c1", CloneOptions{})
	b := bases(t, src)
	if len(b) != 1 {
		t.Fatalf("bases of the source: %v", b)
	}
	if fi, err := os.Stat(b[0]); err != nil || fi.Mode().Perm() != 0o400 {
		t.Errorf("base %s mode %v %v, want 0400", b[0], fi.Mode(), err)
	}
	for _, c := range []struct{ disk, want string }{
		{src.Disk(0), filepath.Base(b[0])},
		{c1.Disk(0), filepath.Join("..", "sc", filepath.Base(b[0]))},
	} {
		if got, err := qemuimg.BackingFile(c.disk); err != nil || got != c.want {
			t.Errorf("backing of %s = %q (%v), want %q", c.disk, got, err, c.want)
		}
	}
	if got, _ := BaseOf(c1); got != "sc" {
		t.Errorf("BaseOf(c1) = %q, want sc", got)
	}
	if got, _ := BaseOf(src); got != "" {
		t.Errorf("BaseOf(sc) = %q, want none", got)
	}
	// Identities differ.
	a, _, _ := src.ReadIdentity()
	z, ok, err := c1.ReadIdentity()
	if err != nil || !ok || a.MachineID == z.MachineID || a.MAC == z.MAC {
		t.Errorf("identities: source %+v, clone %+v (%v)", a, z, err)
	}
	pa, _ := sshx.ReadHostPub(src)
	pz, _ := sshx.ReadHostPub(c1)
	if string(pa) == string(pz) {
		t.Error("the clone has the source's SSH host key")
	}

	// Unchanged source: the base is reused. Changed: a new one.
	clone(t, facts, lock, "c2", CloneOptions{})
	if got := bases(t, src); len(got) != 1 {
		t.Fatalf("second clone of an unchanged source made another base: %v", got)
	}
	qemuIO(t, src.Disk(0))
	c3 := clone(t, facts, lock, "c3", CloneOptions{})
	if got := bases(t, src); len(got) != 2 {
		t.Fatalf("clone of a changed source: bases %v, want two", got)
	}
	chain, err := qemuimg.BackingChain(c3.Disk(0))
	if err != nil || len(chain) != 3 {
		t.Errorf("c3's chain: %v %v, want overlay, new base, old base", chain, err)
	}
	deps, err := Dependents(src)
	if err != nil || strings.Join(deps, ",") != "c1,c2,c3" {
		t.Errorf("Dependents = %v %v", deps, err)
	}
	var de *DependentsError
	if err := Remove(t.Context(), lock, RemoveOptions{Force: true}); !errors.As(err, &de) || strings.Contains(err.Error(), "nixvm ") {
		t.Fatalf("Remove of a base with clones: %v, want a DependentsError stating the fact only", err)
	}
	if !src.Exists() {
		t.Fatal("the base was removed")
	}
	// A full copy has no backing file and depends on nothing.
	f := clone(t, facts, lock, "f1", CloneOptions{Full: true})
	if b, _ := qemuimg.BackingFile(f.Disk(0)); b != "" {
		t.Errorf("full copy reads through %s", b)
	}
}

func qemuIO(t *testing.T, disk string) {
	t.Helper()
	q, err := exec.LookPath("qemu-io")
	if err != nil {
		t.Skip("qemu-io not installed")
	}
	if out, err := exec.Command(q, "-f", "qcow2", "-c", "write -P 0x11 0 64k", disk).CombinedOutput(); err != nil {
		t.Fatalf("qemu-io: %v\n%s", err, out)
	}
}

func TestCloneInterruptedOrRefused(t *testing.T) {
	facts, lock := cloneSource(t)
	src := lock.Instance()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := Clone(ctx, facts, lock, "c1", CloneOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Clone with a cancelled context: %v", err)
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(src.Dir), "*c1*"))
	if len(left) != 0 {
		t.Errorf("an interrupted clone left %v", left)
	}
	if _, err := qemuimg.BackingChain(src.Disk(0)); err != nil {
		t.Errorf("the source's disk after an interrupted clone: %v", err)
	}

	// Internal snapshots would be stranded in a frozen base.
	q := qemuimg.Tool{Path: "qemu-img"}
	if err := q.SnapshotCreate(t.Context(), src.Disk(0), "s1"); err != nil {
		t.Fatal(err)
	}
	if _, err := Clone(t.Context(), facts, lock, "c2", CloneOptions{}); err == nil || !strings.Contains(err.Error(), "has snapshots (s1)") {
		t.Errorf("linked clone of a VM with snapshots: %v", err)
	}
	clone(t, facts, lock, "f2", CloneOptions{Full: true})

	// A VM made before identities cannot give a clone its own.
	if err := os.Remove(src.IdentityFile()); err != nil {
		t.Fatal(err)
	}
	_, err = Clone(t.Context(), facts, lock, "c3", CloneOptions{Full: true})
	var se *StepError
	if !errors.Is(err, ErrNoIdentity) {
		t.Errorf("clone of a VM without identity: %v, want ErrNoIdentity", err)
	} else if msg := err.Error(); strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "VM sc has no identity") || !strings.HasSuffix(msg, "so a clone of it would keep its host name, machine-id and SSH host key") || !errors.As(err, &se) || se.Step != (Step{Next: NextRecreate, Name: "sc"}) {
		t.Errorf("the error of cloning a VM without identity is not one line with the step re-create: %q", msg)
	}
	if store.Instance.Exists(store.Instance{Dir: filepath.Join(filepath.Dir(src.Dir), "c3")}) {
		t.Error("a refused clone left its directory")
	}
}

func TestProtectedBase(t *testing.T) {
	facts, lock := cloneSource(t)
	// A VM with snapshots could give no linked clones: not protected.
	q := qemuimg.Tool{Path: "qemu-img"}
	if err := q.SnapshotCreate(t.Context(), lock.Instance().Disk(0), "s1"); err != nil {
		t.Fatal(err)
	}
	err := Protect(t.Context(), facts, lock, true)
	if err == nil || err.Error() != "VM sc has snapshots (s1): a protected base gives linked clones, which a VM with snapshots cannot" || !hasStep(err, NextRemoveSnapshots, "sc", "") {
		t.Fatalf("Protect of a VM with snapshots: %v", err)
	}
	if info := Status(lock.Instance()); info.Protected {
		t.Fatal("a refused protect protected the VM")
	}
	if err := q.SnapshotDelete(t.Context(), lock.Instance().Disk(0), "s1"); err != nil {
		t.Fatal(err)
	}
	if err := Protect(t.Context(), facts, lock, true); err != nil {
		t.Fatal(err)
	}
	var pe *ProtectedError
	if _, err := Start(t.Context(), facts, lock, StartOptions{}); !errors.As(err, &pe) || strings.Contains(err.Error(), "nixvm ") {
		t.Errorf("Start of a protected VM: %v, want a ProtectedError stating the fact only", err)
	}
	if err := Remove(t.Context(), lock, RemoveOptions{Force: true}); !errors.As(err, &pe) {
		t.Errorf("Remove of a protected VM: %v, want a ProtectedError", err)
	}
	// Clones of it work, and are not protected.
	c := clone(t, facts, lock, "c1", CloneOptions{})
	if st, _ := c.ReadState(); st.Protected {
		t.Error("the clone of a protected base is protected")
	}
	if info := Status(lock.Instance()); !info.Protected {
		t.Error("status does not say protected")
	}
	// --off needs no look at the disks.
	if err := Protect(t.Context(), nil, lock, false); err != nil {
		t.Fatal(err)
	}
	if info := Status(lock.Instance()); info.Protected {
		t.Error("protect --off left the VM protected")
	}
}

// An interrupt at any step of Clone leaves no DST (not even a hidden
// directory), the source's disk with the content it had, and no base
// written.
func TestCloneInterruptedAtEachStep(t *testing.T) {
	for _, step := range []string{"identity", "efivars", "linked", "frozen", "disk", "commit"} {
		t.Run(step, func(t *testing.T) {
			facts, lock := cloneSource(t)
			src := lock.Instance()
			qemuIO(t, src.Disk(0))
			before := filepath.Join(t.TempDir(), "before.qcow2")
			q := qemuimg.Tool{Path: "qemu-img"}
			if err := q.Convert(t.Context(), src.Disk(0), before, qemuimg.ConvertOptions{}); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			seen := false
			cloneStep = func(s string) {
				if s == step {
					seen = true
					cancel()
				}
			}
			defer func() { cloneStep = func(string) {} }()
			_, err := Clone(ctx, facts, lock, "c1", CloneOptions{})
			if !seen {
				t.Fatalf("Clone never reached step %s (err %v)", step, err)
			}
			var ie *InterruptedError
			if !errors.As(err, &ie) || !errors.Is(err, context.Canceled) {
				t.Fatalf("Clone interrupted at %s: %v, want an InterruptedError", step, err)
			}
			left, _ := filepath.Glob(filepath.Join(filepath.Dir(src.Dir), "*c1*"))
			if len(left) != 0 {
				t.Errorf("left %v", left)
			}
			if out, err := exec.Command("qemu-img", "compare", "-q", before, src.Disk(0)).CombinedOutput(); err != nil {
				t.Errorf("the source's disk changed content: %v %s", err, out)
			}
			for _, b := range bases(t, src) {
				if fi, err := os.Stat(b); err == nil && fi.Mode().Perm() != 0o400 && step != "linked" {
					t.Errorf("base %s is writable (%v)", b, fi.Mode())
				}
			}
			// And the source can be cloned afterwards.
			clone(t, facts, lock, "c2", CloneOptions{})
		})
	}
}

// A clone runs beside its source and its siblings, so it takes none of the
// source's host ports: no port forwards, SSH port picked at start; create
// --from --forward (Edit) gives it its own.
func TestCloneHostPorts(t *testing.T) {
	facts, lock := cloneSource(t)
	src := lock.Instance()
	s, err := LoadSpec(src)
	if err != nil {
		t.Fatal(err)
	}
	s.SSHPort = 2222
	s.PortForwards = []spec.PortForward{{Host: 8080, Guest: 80, Proto: "tcp"}, {Host: 8443, Guest: 443, Proto: "tcp"}}
	data, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := store.WriteFileAtomic(src.SpecFile(), data, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		opts CloneOptions
		want []spec.PortForward
	}{
		{"c1", CloneOptions{}, nil},
		{"f1", CloneOptions{Full: true}, nil},
		{"c2", CloneOptions{Edit: func(s *spec.Spec) error {
			s.PortForwards = []spec.PortForward{{Host: 9090, Guest: 80, Proto: "tcp"}}
			return nil
		}}, []spec.PortForward{{Host: 9090, Guest: 80, Proto: "tcp"}}},
	} {
		in := clone(t, facts, lock, c.name, c.opts)
		cs, err := LoadSpec(in)
		if err != nil {
			t.Fatal(err)
		}
		if cs.SSHPort != 0 || !slices.Equal(cs.PortForwards, c.want) {
			t.Errorf("clone %s: SSH port %d, forwards %v; want 0, %v", c.name, cs.SSHPort, cs.PortForwards, c.want)
		}
	}
	// The source keeps its own.
	if s2, err := LoadSpec(src); err != nil || s2.SSHPort != 2222 || len(s2.PortForwards) != 2 {
		t.Errorf("the source's spec after cloning: %+v %v", s2, err)
	}
}

// sums maps each base file (disk*.base-*) of in to its SHA-256.
func baseSums(t *testing.T, in store.Instance) map[string]string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(in.Dir, "disk*.base-*"))
	m := map[string]string{}
	for _, f := range files {
		m[f] = fileSum(t, f)
	}
	return m
}

func fileSum(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", sha256.Sum256(b))
}

// checkBases fails unless every base in old has its old content, and every
// base of in is read-only.
func checkBases(t *testing.T, in store.Instance, old map[string]string, when string) {
	t.Helper()
	for f, sum := range old {
		if got := fileSum(t, f); got != sum {
			t.Errorf("%s: base %s was written", when, filepath.Base(f))
		}
	}
	files, _ := filepath.Glob(filepath.Join(in.Dir, "disk*.base-*"))
	for _, f := range files {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o400 {
			t.Errorf("%s: base %s is writable (%v %v)", when, filepath.Base(f), fi.Mode(), err)
		}
	}
}

// uefiTwoDisks is a stopped, clonable UEFI VM with two disks (raid1).
func uefiTwoDisks(t *testing.T) (*host.Facts, *store.Lock) {
	t.Helper()
	facts := needQEMU(t)
	needQEMUIO(t)
	if _, err := facts.UEFIFor("x86_64"); err != nil {
		t.Skipf("no UEFI firmware: %v", err)
	}
	lock := newVMSpec(t, facts, &spec.Spec{Name: "u2", Firmware: "uefi", RAID: "raid1",
		Disks: []spec.Disk{{Size: spec.Size(2 << 30)}, {Size: spec.Size(2 << 30)}}})
	priv, pub, err := sshx.NewHostKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := sshx.WriteHostKey(lock.Instance(), priv, pub); err != nil {
		t.Fatal(err)
	}
	return facts, lock
}

// TestCloneInterruptedUEFITwoDisks: an interrupt at every step of cloning a
// UEFI VM with two disks (after the UEFI variables are copied, between the
// disks...) leaves no DST, the source's disks and UEFI variables with the
// content they had, and every base that existed byte for byte as it was;
// so do snapshots of the source and of a clone, made, restored and removed.
func TestCloneInterruptedUEFITwoDisks(t *testing.T) {
	facts, lock := uefiTwoDisks(t)
	src := lock.Instance()
	pattern(t, src.Disk(0), "0x11")
	pattern(t, src.Disk(1), "0x12")
	clone(t, facts, lock, "c0", CloneOptions{})
	old := baseSums(t, src)
	if len(old) != 2 {
		t.Fatalf("bases after the first clone: %v, want one per disk", old)
	}
	q := qemuimg.Tool{Path: "qemu-img"}
	for _, at := range []struct {
		step string
		n    int // the n-th time Clone passes step (one per disk)
	}{
		{"identity", 1}, {"efivars", 1},
		{"linked", 1}, {"renamed", 1}, {"frozen", 1}, {"disk", 1},
		{"linked", 2}, {"renamed", 2}, {"frozen", 2}, {"disk", 2},
		{"commit", 1},
	} {
		name := fmt.Sprintf("%s%d", at.step, at.n)
		// The source ran since: each clone freezes the disks anew.
		pattern(t, src.Disk(0), "0x21")
		pattern(t, src.Disk(1), "0x22")
		var before []string
		for i := range 2 {
			b := filepath.Join(t.TempDir(), fmt.Sprintf("disk%d.qcow2", i))
			if err := q.Convert(t.Context(), src.Disk(i), b, qemuimg.ConvertOptions{}); err != nil {
				t.Fatal(err)
			}
			before = append(before, b)
		}
		efivars := fileSum(t, src.EFIVars())
		ctx, cancel := context.WithCancel(t.Context())
		seen := 0
		cloneStep = func(s string) {
			if s == at.step {
				if seen++; seen == at.n {
					cancel()
				}
			}
		}
		_, err := Clone(ctx, facts, lock, "c1", CloneOptions{})
		cloneStep = func(string) {}
		cancel()
		if seen < at.n {
			t.Fatalf("%s: Clone passed step %s %d times (err %v)", name, at.step, seen, err)
		}
		var ie *InterruptedError
		if !errors.As(err, &ie) || !errors.Is(err, context.Canceled) {
			t.Fatalf("%s: Clone: %v, want an InterruptedError", name, err)
		}
		if left, _ := filepath.Glob(filepath.Join(filepath.Dir(src.Dir), "*c1*")); len(left) != 0 {
			t.Errorf("%s: left %v", name, left)
		}
		for i, b := range before {
			if out, err := exec.Command("qemu-img", "compare", "-q", b, src.Disk(i)).CombinedOutput(); err != nil {
				t.Errorf("%s: disk %d of the source changed content: %v %s", name, i, err, out)
			}
		}
		if fileSum(t, src.EFIVars()) != efivars {
			t.Errorf("%s: the source's UEFI variables changed", name)
		}
		checkBases(t, src, old, name)
		for f := range baseSums(t, src) {
			if _, ok := old[f]; !ok {
				old[f] = fileSum(t, f)
			}
		}
	}

	// Snapshots of the source and of a clone write their own overlays only.
	c := clone(t, facts, lock, "c2", CloneOptions{})
	for f := range baseSums(t, src) {
		old[f] = fileSum(t, f)
	}
	cl, err := c.TryLock("test")
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Unlock()
	for _, l := range []*store.Lock{lock, cl} {
		in := l.Instance()
		if _, err := SnapshotCreate(t.Context(), facts, l, "s1", SnapshotOptions{}); err != nil {
			t.Fatalf("snapshot %s: %v", in.Name, err)
		}
		pattern(t, in.Disk(0), "0x33")
		pattern(t, in.Disk(1), "0x34")
		if _, err := SnapshotRestore(t.Context(), facts, l, "s1", SnapshotOptions{}); err != nil {
			t.Fatalf("restore %s: %v", in.Name, err)
		}
		if hasPattern(t, in.Disk(0), "0x33") || !hasPattern(t, in.Disk(1), "0x22") {
			t.Errorf("%s: the restore did not bring the disks back", in.Name)
		}
		if _, err := SnapshotDelete(t.Context(), facts, l, "s1"); err != nil {
			t.Fatalf("snapshot rm %s: %v", in.Name, err)
		}
		checkBases(t, src, old, "snapshots of "+in.Name)
	}
}

// A crash (SIGKILL) between the rename of the new overlay over the disk
// and the chmod of its base leaves the disk over a writable base. The next
// clone makes that base read-only before it reads through it.
func TestCloneCrashBeforeBaseReadOnly(t *testing.T) {
	facts, lock := cloneSource(t)
	src := lock.Instance()
	cloneStep = func(s string) {
		if s == "renamed" {
			panic("crash")
		}
	}
	func() {
		defer func() {
			cloneStep = func(string) {}
			if r := recover(); r != "crash" {
				t.Fatalf("Clone did not reach the step after the rename (%v)", r)
			}
		}()
		Clone(t.Context(), facts, lock, "c1", CloneOptions{})
	}()
	b := bases(t, src)
	if len(b) != 1 {
		t.Fatalf("bases after the crash: %v", b)
	}
	if fi, err := os.Stat(b[0]); err != nil || fi.Mode().Perm() == 0o400 {
		t.Fatalf("the crash left the base %v %v; the test wants it writable", fi.Mode(), err)
	}
	c := clone(t, facts, lock, "c2", CloneOptions{})
	if fi, err := os.Stat(b[0]); err != nil || fi.Mode().Perm() != 0o400 {
		t.Errorf("a clone reads through base %s of mode %v (%v), want 0400", b[0], fi.Mode(), err)
	}
	if got, _ := qemuimg.BackingFile(c.Disk(0)); filepath.Base(got) != filepath.Base(b[0]) {
		t.Errorf("c2 reads through %s, want the reused %s", got, b[0])
	}
	// A source that ran after the crash (its overlay no longer empty) is
	// frozen anew over the old base: that one is made read-only too.
	if err := os.Chmod(b[0], 0o600); err != nil {
		t.Fatal(err)
	}
	qemuIO(t, src.Disk(0))
	clone(t, facts, lock, "c3", CloneOptions{})
	for _, f := range bases(t, src) {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o400 {
			t.Errorf("base %s of mode %v (%v), want 0400", f, fi.Mode(), err)
		}
	}
}
