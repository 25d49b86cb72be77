package integration

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// snapshotListing is `nixvm snapshot list NAME --json`.
type snapshotListing struct {
	State     string `json:"state"`
	Snapshots []struct {
		Tag      string   `json:"tag"`
		RAM      bool     `json:"ram"`
		RAMBytes int64    `json:"ramBytes"`
		Images   []string `json:"images"`
		Missing  []string `json:"missing"`
		Complete bool     `json:"complete"`
	} `json:"snapshots"`
	DiskBytes int64 `json:"diskBytes"`
}

func (e *env) snapshots(name string) snapshotListing {
	e.t.Helper()
	var l snapshotListing
	out := e.ok("snapshot", "list", name, "--json")
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		e.t.Fatalf("snapshot list --json: %v\n%s", err, out)
	}
	return l
}

// imageSnapshots is what qemu-img itself says: the snapshot names of each
// of the VM's images (-U: also while QEMU runs).
func imageSnapshots(t *testing.T, e *env, name string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, f := range []string{"disk0.qcow2", "efivars.qcow2"} {
		b, err := exec.Command("qemu-img", "info", "-U", "--output=json", filepath.Join(e.vmDir(name), f)).Output()
		if err != nil {
			t.Fatalf("qemu-img info %s: %v", f, err)
		}
		var info struct {
			Snapshots []struct{ Name string } `json:"snapshots"`
		}
		if err := json.Unmarshal(b, &info); err != nil {
			t.Fatal(err)
		}
		out[f] = []string{}
		for _, s := range info.Snapshots {
			out[f] = append(out[f], s.Name)
		}
	}
	return out
}

// imageHashes hashes the VM's image files: a command that changed nothing
// leaves them byte for byte as they were (the VM must be stopped).
func imageHashes(t *testing.T, e *env, name string) string {
	t.Helper()
	var sums []string
	for _, f := range []string{"disk0.qcow2", "efivars.qcow2"} {
		fh, err := os.Open(filepath.Join(e.vmDir(name), f))
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		_, err = io.Copy(h, fh)
		fh.Close()
		if err != nil {
			t.Fatal(err)
		}
		sums = append(sums, f+"="+hex.EncodeToString(h.Sum(nil)))
	}
	return strings.Join(sums, " ")
}

// bootAndUptime is the guest's boot_id and its uptime in seconds.
func bootAndUptime(t *testing.T, e *env, name string) (string, float64) {
	t.Helper()
	f := strings.Fields(guest(t, e, name, "cat /proc/sys/kernel/random/boot_id /proc/uptime"))
	if len(f) < 2 {
		t.Fatalf("boot_id and uptime: %q", f)
	}
	up, err := strconv.ParseFloat(f[1], 64)
	if err != nil {
		t.Fatalf("uptime %q: %v", f[1], err)
	}
	return f[0], up
}

// failsWith runs nixvm, expects a non-zero exit whose stderr is one line
// matching want.
func failsWith(t *testing.T, e *env, want *regexp.Regexp, args ...string) {
	t.Helper()
	r := e.run(args...)
	msg := strings.TrimSpace(r.err)
	if r.code == 0 || !want.MatchString(msg) || strings.Contains(msg, "\n") {
		t.Fatalf("nixvm %s: exit %d, stderr %q; want a non-zero exit and one line matching %q", strings.Join(args, " "), r.code, msg, want)
	}
}

func hasTag(l snapshotListing, tag string) bool {
	for _, s := range l.Snapshots {
		if s.Tag == tag {
			return true
		}
	}
	return false
}

// TestSnapshot: one installed UEFI VM, its snapshots taken and restored
// stopped, running with RAM state, running disk-only (file systems
// frozen) and with RAM state into a stopped VM; bad input and a missing
// tag change nothing; Ctrl-C during a create leaves no snapshot.
func TestSnapshot(t *testing.T) {
	e := newEnv(t)
	cache := startBinaryCache(t)
	const name = "snap"
	start := time.Now()
	r := e.run(append([]string{"create", name, "--iso", standinISO(t, ""), "--firmware", "uefi", "--disk", "6G"}, installArgs(cache)...)...)
	if r.code != 0 {
		t.Fatalf("create: exit %d\n%s\n%s", r.code, tail(r.out, 30), r.err)
	}
	t.Logf("install: %s", time.Since(start).Round(time.Second))
	waitSSH(t, e, name, 5*time.Minute)
	boot := func(t *testing.T) {
		t.Helper()
		s := time.Now()
		e.ok("start", name)
		waitSSH(t, e, name, 5*time.Minute)
		t.Logf("start to SSH: %s", time.Since(s).Round(time.Second))
	}
	timed := func(t *testing.T, args ...string) string {
		t.Helper()
		s := time.Now()
		out := e.ok(args...)
		t.Logf("nixvm %s: %s", strings.Join(args, " "), time.Since(s).Round(100*time.Millisecond))
		return out
	}

	t.Run("offline", func(t *testing.T) {
		e.ok("stop", name)
		before := imageHashes(t, e, name)
		// Bad input: one line naming the argument, nothing changed.
		failsWith(t, e, regexp.MustCompile(`no VM named "nosuch"`), "snapshot", "create", "nosuch", "t1")
		failsWith(t, e, regexp.MustCompile(`TAG "a/b"`), "snapshot", "create", name, "a/b")
		failsWith(t, e, regexp.MustCompile(`TAG "42".*digits`), "snapshot", "create", name, "42")
		failsWith(t, e, regexp.MustCompile(`no snapshot "ghost" \(it has no snapshots\)`), "snapshot", "restore", name, "ghost")
		if after := imageHashes(t, e, name); after != before {
			t.Fatalf("bad input changed the images:\n%s\n%s", before, after)
		}

		timed(t, "snapshot", "create", name, "off1")
		failsWith(t, e, regexp.MustCompile(`already has a snapshot "off1"`), "snapshot", "create", name, "off1")
		l := e.snapshots(name)
		if len(l.Snapshots) != 1 || l.Snapshots[0].Tag != "off1" || !l.Snapshots[0].Complete || l.Snapshots[0].RAM ||
			strings.Join(l.Snapshots[0].Images, ",") != "disk0,efivars" {
			t.Fatalf("list after an offline snapshot: %+v", l)
		}
		if got := imageSnapshots(t, e, name); strings.Join(got["disk0.qcow2"], ",") != "off1" || strings.Join(got["efivars.qcow2"], ",") != "off1" {
			t.Fatalf("qemu-img sees snapshots %v, want off1 on disk0 and efivars", got)
		}

		boot(t)
		guest(t, e, name, "echo changed > ~/offline-change && sync")
		e.ok("stop", name)
		// A missing tag changes nothing and says which tags exist.
		before = imageHashes(t, e, name)
		snapsBefore := imageSnapshots(t, e, name)
		failsWith(t, e, regexp.MustCompile(`no snapshot "nope" \(its snapshots: off1\)`), "snapshot", "restore", name, "nope")
		if after := imageHashes(t, e, name); after != before {
			t.Fatal("a restore of a missing tag changed the images")
		}
		if got := imageSnapshots(t, e, name); strings.Join(got["disk0.qcow2"], ",") != strings.Join(snapsBefore["disk0.qcow2"], ",") {
			t.Fatalf("snapshots changed: %v -> %v", snapsBefore, got)
		}
		out := timed(t, "snapshot", "restore", name, "off1")
		if !strings.Contains(out, "restored to snapshot off1") {
			t.Fatalf("restore said: %s", out)
		}
		if st := e.status(name); st.State != "stopped" {
			t.Fatalf("after an offline restore the VM is %s, want stopped", st.State)
		}
		boot(t)
		expectOut(t, guest(t, e, name, "test -e ~/offline-change && echo present || echo gone"), "gone")
		// The file system is whole after the restore.
		expectOut(t, guest(t, e, name, "echo ok > ~/w && cat ~/w"), "ok")
	})

	var ramBoot string
	var ramUptime float64
	t.Run("online-ram", func(t *testing.T) {
		before := e.status(name)
		guest(t, e, name, "echo A > ~/a && sync")
		ramBoot, ramUptime = bootAndUptime(t, e, name)
		out := timed(t, "snapshot", "create", name, "ram1")
		if !strings.Contains(out, "with RAM state") {
			t.Fatalf("create of a running VM said: %s", out)
		}
		guest(t, e, name, "rm ~/a && echo B > ~/b && sync")
		_, upB := bootAndUptime(t, e, name)
		out = timed(t, "snapshot", "restore", name, "ram1")
		if !strings.Contains(out, "resumed where it was") {
			t.Fatalf("restore said: %s", out)
		}
		after := e.status(name)
		if after.State != "running" || after.PID != before.PID {
			t.Fatalf("after an online restore: %+v, want the same QEMU running (pid %d)", after, before.PID)
		}
		expectOut(t, guest(t, e, name, "cat ~/a; test -e ~/b && echo B-present || echo B-gone"), "A\nB-gone")
		bootID, up := bootAndUptime(t, e, name)
		if bootID != ramBoot {
			t.Fatalf("boot_id %s after the restore, %s at the snapshot: the guest rebooted", bootID, ramBoot)
		}
		// The guest's clock went back to the snapshot and went on from
		// there: later than at the snapshot, and, as the guest was
		// paused while restoring, not past where it was before.
		if up < ramUptime || up > upB+60 {
			t.Fatalf("uptime %.1f s after the restore; %.1f s at the snapshot, %.1f s before the restore", up, ramUptime, upB)
		}
		l := e.snapshots(name)
		for _, s := range l.Snapshots {
			if s.Tag == "ram1" && (!s.RAM || s.RAMBytes <= 0 || !s.Complete) {
				t.Fatalf("ram1 in list: %+v", s)
			}
		}
		// A disk-only snapshot cannot be loaded into a running VM.
		failsWith(t, e, regexp.MustCompile(`no RAM state.*nixvm stop `+name+` first`), "snapshot", "restore", name, "off1")
	})

	t.Run("interrupt", func(t *testing.T) {
		// SIGINT as soon as the save job starts (the line is printed just
		// before it is sent to QEMU): the job runs to its end, then the
		// snapshot is deleted again. Saving the RAM of a booted 2G guest
		// takes seconds under TCG; should the signal still come after the
		// save returned, the command has finished and must say so (exit 0,
		// snapshot kept and complete): either way the state is truthful.
		b := e.background("snapshot", "create", name, "intr1")
		b.waitLine(t, regexp.MustCompile(`saving VM `+name+`'s RAM state`), 2*time.Minute)
		b.signal(t, syscall.SIGINT)
		code := b.wait(t, 5*time.Minute)
		kept := hasTag(e.snapshots(name), "intr1")
		onImages := 0
		for _, names := range imageSnapshots(t, e, name) {
			for _, n := range names {
				if n == "intr1" {
					onImages++
				}
			}
		}
		switch {
		case code == 0:
			t.Logf("the signal came after the save had finished: snapshot kept (%s)", strings.TrimSpace(b.stdout()))
			if !kept || onImages != 2 {
				t.Fatalf("create exited 0 but intr1 is on %d of 2 images", onImages)
			}
			e.ok("snapshot", "rm", name, "intr1")
		default:
			assertInterrupted(t, b, code, 130, regexp.MustCompile(`^nixvm: interrupted: (snapshot intr1 of VM snap was not kept|no snapshot of VM snap was taken)`))
			t.Logf("interrupted: %s", strings.TrimSpace(b.stderr()))
			if kept || onImages != 0 {
				t.Fatalf("an interrupted create left snapshot intr1 (on %d images)", onImages)
			}
		}
		if st := assertTruthful(t, e, name); st.State != "running" {
			t.Fatalf("after an interrupted create the VM is %s, want running", st.State)
		}
		expectOut(t, guest(t, e, name, "cat ~/a"), "A")
	})

	t.Run("disk-only", func(t *testing.T) {
		// No sync: freezing the file systems flushes them.
		guest(t, e, name, "echo D > ~/d")
		out := timed(t, "snapshot", "create", name, "disk1", "--disk-only")
		if !regexp.MustCompile(`[1-9][0-9]* file system\(s\) frozen`).MatchString(out) {
			t.Fatalf("disk-only create said: %s", out)
		}
		// Thawed: the guest writes again.
		guest(t, e, name, "echo E > ~/e && sync")
		failsWith(t, e, regexp.MustCompile(`snapshot "disk1" of VM snap has no RAM state.*run nixvm stop snap first`), "snapshot", "restore", name, "disk1")
		e.ok("stop", name)
		timed(t, "snapshot", "restore", name, "disk1")
		boot(t)
		expectOut(t, guest(t, e, name, "cat ~/d; test -e ~/e && echo E-present || echo E-gone"), "D\nE-gone")
	})

	t.Run("stopped-ram", func(t *testing.T) {
		e.ok("stop", name)
		out := timed(t, "snapshot", "restore", name, "ram1")
		if !strings.Contains(out, "started from snapshot ram1") {
			t.Fatalf("restore of a RAM snapshot into a stopped VM said: %s", out)
		}
		waitSSH(t, e, name, 2*time.Minute)
		expectOut(t, guest(t, e, name, "cat ~/a; test -e ~/d && echo D-present || echo D-gone"), "A\nD-gone")
		if bootID, up := bootAndUptime(t, e, name); bootID != ramBoot || up < ramUptime {
			t.Fatalf("after loading ram1 into the stopped VM: boot_id %s uptime %.1f; at the snapshot %s %.1f", bootID, up, ramBoot, ramUptime)
		}
		if l := e.snapshots(name); len(l.Snapshots) != 3 {
			t.Fatalf("want off1, ram1, disk1 (no undo point left), got %+v", l.Snapshots)
		}
	})

	t.Run("rm", func(t *testing.T) {
		e.ok("snapshot", "rm", name, "ram1")
		e.ok("stop", name)
		e.ok("snapshot", "rm", name, "off1")
		e.ok("snapshot", "rm", name, "disk1")
		if l := e.snapshots(name); len(l.Snapshots) != 0 {
			t.Fatalf("after rm of every snapshot: %+v", l.Snapshots)
		}
		if got := imageSnapshots(t, e, name); len(got["disk0.qcow2"])+len(got["efivars.qcow2"]) != 0 {
			t.Fatalf("qemu-img still sees %v", got)
		}
		failsWith(t, e, regexp.MustCompile(`no snapshot "ram1"`), "snapshot", "rm", name, "ram1")
	})
}
