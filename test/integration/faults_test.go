package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCreateBadInput: bad input fails with a one-line error naming the field
// and leaves nothing behind.
func TestCreateBadInput(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"create", "Bad_Name", "--manual", "--iso", testISO}, "name:"},
		{[]string{"create", "x", "--manual", "--iso", testISO, "--firmware", "efi"}, "--firmware"},
		{[]string{"create", "x", "--manual", "--iso", testISO, "--memory", "2X"}, "--memory"},
		{[]string{"create", "x", "--manual", "--iso", testISO, "--raid", "raid1", "--disk", "20G"}, "raid"},
		{[]string{"create", "x", "--manual", "--iso", testISO, "--partition-table", "mbr", "--disk", "3T"}, "partitionTable"},
		{[]string{"create", "x", "--manual", "--iso", "/nonexistent.iso"}, "--iso"},
		{[]string{"create", "x", "--manual", "--iso", testISO, "--arch", "aarch64", "--firmware", "bios"}, "firmware"},
		// Unattended creates check the installer before making anything.
		{[]string{"create", "x", "--iso", "/etc/passwd"}, "--iso"},
		{[]string{"create", "x", "--iso", testISO, "--arch", "aarch64"}, "--iso"},
		{[]string{"create", "x", "--iso", "https://example.invalid/nixos.iso"}, "isoSha256"},
	}
	for _, c := range cases {
		r := e.run(c.args...)
		if r.code == 0 {
			t.Errorf("nixvm %s: succeeded, want an error", strings.Join(c.args, " "))
			continue
		}
		msg := strings.TrimSpace(r.err)
		if strings.Count(msg, "\n") != 0 || !strings.Contains(msg, c.want) {
			t.Errorf("nixvm %s: error %q should be one line naming %q", strings.Join(c.args, " "), msg, c.want)
		}
	}
	assertNoVMs(t, e)
}

// TestCreateQEMUImgFailure: when qemu-img fails on the second disk, create
// removes the first disk and the instance directory.
func TestCreateQEMUImgFailure(t *testing.T) {
	e := newEnv(t)
	bin := t.TempDir()
	real, _ := exec.LookPath("qemu-img")
	// A qemu-img that works for disk0 and fails like a full disk for disk1.
	script := "#!/bin/sh\ncase \"$*\" in *disk1.qcow2*) echo \"qemu-img: disk1.qcow2: Could not write: No space left on device\" >&2; exit 1;; esac\nexec " + real + " \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "qemu-img"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	e.setPath(bin + ":" + os.Getenv("PATH"))
	r := e.run("create", "twodisks", "--manual", "--iso", testISO, "--disk", "2G", "--disk", "2G")
	if r.code == 0 || !strings.Contains(r.err, "No space left") {
		t.Fatalf("create should fail with qemu-img's error, got exit %d: %s", r.code, r.err)
	}
	assertNoVMs(t, e)
}

// TestRemoveHalfMade: a VM whose create or install never finished shows as
// incomplete and rm removes it.
func TestRemoveHalfMade(t *testing.T) {
	e := newEnv(t)
	dir := filepath.Join(e.data, "nixvm", "vms", "half")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "state.json"), []byte(`{"phase":"installing"}`), 0o600)
	if st := e.status("half"); st.State != "incomplete" {
		t.Fatalf("state of a half-made VM = %s, want incomplete", st.State)
	}
	r := e.run("start", "half")
	if r.code == 0 || !strings.Contains(r.err, "nixvm rm half") {
		t.Fatalf("start of a half-made VM should refuse and point at rm, got %d: %s", r.code, r.err)
	}
	e.ok("rm", "half")
	assertNoVMs(t, e)
}

// TestRemoveRunning: rm refuses a running VM unless --force.
func TestRemoveRunning(t *testing.T) {
	e := newEnv(t)
	e.ok("create", "busy", "--manual", "--iso", testISO, "--firmware", "bios", "--memory", "256M", "--disk", "1G")
	e.ok("start", "busy")
	pidFile := filepath.Join(e.data, "nixvm", "vms", "busy", "qemu.pid")
	if r := e.run("rm", "busy"); r.code == 0 || !strings.Contains(r.err, "running") || !strings.Contains(r.err, ": stop it first (nixvm stop busy) or use --force") {
		t.Fatalf("rm of a running VM should refuse and say how, got %d: %s", r.code, r.err)
	}
	e.ok("rm", "--force", "busy")
	if n := countQEMU(t, pidFile); n != 0 {
		t.Fatalf("rm --force left %d QEMU processes", n)
	}
	assertNoVMs(t, e)
}

// TestLongSocketPath: an instance directory too deep for a unix socket
// address still starts, answers status and stops.
func TestLongSocketPath(t *testing.T) {
	e := newEnv(t)
	deep := filepath.Join(e.data, strings.Repeat("d", 60), strings.Repeat("e", 60))
	e.setData(deep)
	e.ok("create", "deep", "--manual", "--iso", testISO, "--firmware", "bios", "--memory", "256M", "--disk", "1G")
	e.ok("start", "deep")
	if st := e.status("deep"); st.State != "running" {
		t.Fatalf("state = %s, want running", st.State)
	}
	out := e.ok("stop", "--force", "deep")
	if !strings.Contains(out, "stopped") {
		t.Fatalf("stop said %q", out)
	}
	e.ok("rm", "deep")
}

func assertNoVMs(t *testing.T, e *env) {
	t.Helper()
	ents, _ := os.ReadDir(filepath.Join(e.data, "nixvm", "vms"))
	for _, ent := range ents {
		t.Errorf("left behind in the VMs directory: %s", ent.Name())
	}
}
