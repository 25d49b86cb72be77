package integration

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestScreenshot: a headless running VM (the test ISO's installer, booted
// as a CD) gives a PNG of its VGA through nixvm screenshot; a stopped VM
// gives one line that says to start it.
func TestScreenshot(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ok("create", "shot", "--manual", "--iso", testISO, "--firmware", "bios", "--memory", "256M", "--disk", "1G")

	r := e.run("screenshot", "shot")
	if r.code == 0 || !strings.Contains(r.err, "nixvm start shot") || strings.Count(strings.TrimSpace(r.err), "\n") != 0 {
		t.Errorf("screenshot of a stopped VM: exit %d, stderr %q; want one line saying to start it", r.code, r.err)
	}

	e.ok("start", "shot")
	defer e.ok("stop", "--force", "shot")

	// The partition view reads a running VM's disk, which QEMU holds
	// locked: the new disk has no table yet.
	if got := e.ok("disk", "shot"); !strings.Contains(got, "disk0.qcow2: qcow2, 1 GiB, no partition table") {
		t.Errorf("nixvm disk on the running VM printed %q", got)
	}

	out := filepath.Join(t.TempDir(), "screen.png")
	got := e.ok("screenshot", "shot", "-o", out)
	m := regexp.MustCompile(`^(\S+) \((\d+)x(\d+)\)\n$`).FindStringSubmatch(got)
	if m == nil || m[1] != out {
		t.Fatalf("screenshot printed %q, want %q (WxH)", got, out)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s is not a PNG: %v", out, err)
	}
	// A VGA in text mode or under SeaBIOS/the kernel is 640x480 or 720x400
	// and up; nothing sane is bigger than 4096 across.
	b := img.Bounds()
	if b.Dx() < 320 || b.Dy() < 200 || b.Dx() > 4096 || b.Dy() > 4096 {
		t.Errorf("screenshot is %dx%d, want a VGA-like size", b.Dx(), b.Dy())
	}
	if want := m[2] + "x" + m[3]; want != fmt.Sprintf("%dx%d", b.Dx(), b.Dy()) {
		t.Errorf("printed size %s, PNG is %dx%d", want, b.Dx(), b.Dy())
	}

	// The default name is NAME-<timestamp>.png in the current directory.
	dir := t.TempDir()
	r = runIn(e, dir, "screenshot", "shot")
	if r.code != 0 {
		t.Fatalf("screenshot without -o: exit %d: %s", r.code, r.err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 || !regexp.MustCompile(`^shot-\d{8}-\d{6}\.png$`).MatchString(ents[0].Name()) || !strings.HasPrefix(r.out, ents[0].Name()) {
		t.Errorf("default output: files %v, printed %q", ents, r.out)
	}
}

// runIn is env.run with another working directory.
func runIn(e *env, dir string, args ...string) result {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, nixvmBin, args...)
	cmd.Env, cmd.Dir = e.vars, dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	code := 0
	if err := cmd.Run(); err != nil {
		code = -1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
	}
	return result{out.String(), errb.String(), code}
}
