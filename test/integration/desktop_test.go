package integration

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDesktop installs an i3 and a dwm VM from the stand-in (whose
// nixos-install puts a real X server, LightDM and the window manager into
// the target), leaves them headless with their VGA, and checks over SSH that
// LightDM logged nixos in straight into the window manager on :0, that i3
// runs with gaps, and that nixvm screenshot shows a desktop: a PNG of the
// X screen's size, not one colour, unlike the text screen of a VM without
// a desktop. The i3 VM then starts with --display spice: the session's SPICE
// agent runs.
func TestDesktop(t *testing.T) {
	iso := standinISO(t, "")
	text := textScreen(t, iso)
	cases := []struct {
		desktop, wm string
		check       func(t *testing.T, e *env, name string)
	}{
		{"i3", "i3", func(t *testing.T, e *env, name string) {
			// The running i3's own config (i3-msg asks the process), not
			// only the file: gaps inner and outer.
			cfg := guest(t, e, name, "DISPLAY=:0 i3-msg -t get_config")
			if !regexp.MustCompile(`(?m)^gaps inner [1-9]`).MatchString(cfg) || !regexp.MustCompile(`(?m)^gaps outer [1-9]`).MatchString(cfg) {
				t.Fatalf("i3's loaded config has no gaps:\n%s", cfg)
			}
			waitGuest(t, e, name, "pgrep -u nixos -x i3bar >/dev/null && pgrep -u nixos -x i3status >/dev/null && echo bar", "bar", 3*time.Minute)
		}},
		{"dwm", "dwm", func(t *testing.T, e *env, name string) {
			// st and the clock of sessionCommands, which names the root window.
			waitGuest(t, e, name, "pgrep -u nixos -x st >/dev/null || pgrep -u nixos -x stterm >/dev/null && echo st", "st", 3*time.Minute)
		}},
	}
	for _, c := range cases {
		t.Run(c.desktop, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			name := "desk-" + c.desktop
			cache := startBinaryCache(t)
			start := time.Now()
			args := append([]string{"create", name, "--iso", iso, "--desktop", c.desktop, "--firmware", "bios", "--disk", "10G"}, installArgs(cache)...)
			r := e.run(args...)
			if r.code != 0 {
				t.Fatalf("create %s: exit %d\n%s\n%s\n%s", name, r.code, tail(r.out, 30), r.err, instanceLogs(e, name))
			}
			t.Logf("create --desktop %s took %s", c.desktop, time.Since(start).Round(time.Second))
			checkCommon(t, e, name)

			// Headless (no host display for create) but with its VGA.
			cmdline, err := os.ReadFile(filepath.Join(e.data, "nixvm", "vms", name, "cmdline"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(cmdline), "-vga std") || !strings.Contains(string(cmdline), "-display none") {
				t.Fatalf("desktop VM not headless with a VGA: %s", cmdline)
			}

			// LightDM's auto-login: the window manager runs as nixos on :0
			// without anyone typing a password.
			waitGuest(t, e, name, fmt.Sprintf("pgrep -u nixos -x %s >/dev/null && echo up", c.wm), "up", 5*time.Minute)
			expectOut(t, guest(t, e, name, fmt.Sprintf("sudo cat /proc/$(pgrep -u nixos -x %s | head -n1)/environ | tr '\\0' '\\n' | grep '^DISPLAY='", c.wm)), "DISPLAY=:0")
			expectOut(t, guest(t, e, name, "test -S /tmp/.X11-unix/X0 && echo x0"), "x0")
			expectOut(t, guest(t, e, name, "ps -o user= -C lightdm | sort -u | head -n1"), "root")
			c.check(t, e, name)

			// The X screen's size, from the server's log.
			mode := regexp.MustCompile(`using initial mode (\d+)x(\d+)`).FindStringSubmatch(guest(t, e, name, "cat /var/log/Xorg.0.log"))
			if mode == nil {
				t.Fatalf("no initial mode in Xorg.0.log")
			}
			img := screenshot(t, e, name)
			if got := fmt.Sprintf("%dx%d", img.Bounds().Dx(), img.Bounds().Dy()); got != mode[1]+"x"+mode[2] {
				t.Errorf("screenshot is %s, the X screen %sx%s", got, mode[1], mode[2])
			}
			if n := colours(img); n < 3 {
				t.Errorf("screenshot has %d colours: not a desktop", n)
			}
			// The text screen is another size (VGA text mode): compared at
			// the desktop's size, most of a desktop's pixels differ.
			d := differing(img, text)
			t.Logf("%s screenshot: %s, %d colours; %.1f%% of its pixels differ from the text screen (%dx%d) at that size",
				c.desktop, mode[1]+"x"+mode[2], colours(img), 100*d, text.Bounds().Dx(), text.Bounds().Dy())
			if d < 0.01 {
				t.Errorf("the %s screenshot differs from the text screen of a VM without a desktop in %.2f%% of its pixels: not a desktop", c.desktop, 100*d)
			}
			if dir := os.Getenv("NIXVM_TEST_SCREENSHOT_DIR"); dir != "" {
				// nixvm screenshot's own file (docs/img/i3.png is one).
				e.ok("screenshot", name, "-o", filepath.Join(dir, c.desktop+".png"))
			}
			if c.desktop == "i3" {
				// With SPICE the session's agent runs (it applies a viewer's
				// window size) on the QXL VGA, and the screen is a desktop.
				e.ok("stop", name)
				e.ok("start", name, "--display", "spice")
				waitGuest(t, e, name, "pgrep -u nixos -x i3 >/dev/null && echo up", "up", 5*time.Minute)
				if r := e.run("ssh", name, "--", "sh", "-c", "sleep 5; pgrep -u nixos -x spice-vdagent >/dev/null && echo agent"); strings.TrimSpace(r.out) != "agent" {
					diag := e.run("ssh", name, "--", "sh", "-c", "ls -l /dev/virtio-ports; systemctl status spice-vdagentd.socket spice-vdagentd --no-pager 2>&1 | tail -n 20; sudo journalctl -b --no-pager 2>&1 | grep -i -e spice -e vdagent | tail -n 30; loginctl list-sessions --no-pager; tail -n 30 ~/.xsession-errors")
					t.Fatalf("%s with --display spice: no spice-vdagent of nixos running (%q %q)\n%s%s", name, r.out, r.err, diag.out, diag.err)
				}
				if n := colours(screenshot(t, e, name)); n < 3 {
					t.Errorf("screenshot with SPICE has %d colours: not a desktop", n)
				}
			}
			e.ok("stop", name)
		})
	}
}

// TestDisplayWindow starts a VM with --display gtk on a real X server
// (Xvfb): QEMU's window appears in the server's window list, nixvm prints
// the keys, the choice is remembered by the next start, and --display vnc
// and spice listen on unix sockets that nixvm display names.
func TestDisplayWindow(t *testing.T) {
	needIntegration(t)
	for _, tool := range []string{"Xvfb", "xwininfo"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("NIXVM_REQUIRE_INTEGRATION") != "" {
				t.Fatalf("%s missing: apt-get install xvfb x11-utils", tool)
			}
			t.Skipf("%s missing", tool)
		}
	}
	t.Parallel()
	disp := startXvfb(t)
	e := newEnv(t)
	e.setVar("DISPLAY", disp)
	e.setVar("WAYLAND_DISPLAY", "")
	e.ok("create", "win", "--manual", "--iso", testISO, "--firmware", "bios", "--memory", "256M", "--disk", "1G")

	out := e.ok("start", "win", "--display", "gtk")
	if !strings.Contains(out, "Ctrl+Alt+G frees the mouse") || !strings.Contains(out, "Ctrl+Alt+F toggles full screen") {
		t.Errorf("start --display gtk did not print the keys:\n%s", out)
	}
	waitWindow(t, disp, "nixvm-win", time.Minute)
	if got := e.ok("display", "win"); !strings.Contains(got, "gtk") || !strings.Contains(got, "Ctrl+Alt+G") {
		t.Errorf("nixvm display printed %q", got)
	}
	e.ok("stop", "--force", "win")

	// Remembered: the next start without --display opens the window again.
	out = e.ok("start", "win")
	if !strings.Contains(out, "a gtk window (remembered") {
		t.Errorf("second start did not remember gtk:\n%s", out)
	}
	waitWindow(t, disp, "nixvm-win", time.Minute)
	e.ok("stop", "--force", "win")

	out = e.ok("start", "win", "--display", "vnc")
	got := e.ok("display", "win")
	m := regexp.MustCompile(`vncviewer (/\S+vnc\.sock)`).FindStringSubmatch(got)
	if m == nil {
		t.Fatalf("nixvm display for vnc printed %q (start said %q)", got, out)
	}
	if fi, err := os.Stat(m[1]); err != nil || fi.Mode()&os.ModeSocket == 0 {
		t.Errorf("%s is not a listening socket: %v", m[1], err)
	}
	e.ok("stop", "--force", "win")

	// SPICE: a unix socket for remote-viewer, the QXL VGA (its size follows
	// the viewer's window), and the screen still screenshots.
	out = e.ok("start", "win", "--display", "spice")
	got = e.ok("display", "win")
	m = regexp.MustCompile(`remote-viewer spice\+unix://(/\S+/spice\.sock)`).FindStringSubmatch(got)
	if m == nil {
		t.Fatalf("nixvm display for spice printed %q (start said %q)", got, out)
	}
	if fi, err := os.Stat(m[1]); err != nil || fi.Mode()&os.ModeSocket == 0 {
		t.Errorf("%s is not a listening socket: %v", m[1], err)
	}
	cmdline, err := os.ReadFile(filepath.Join(e.data, "nixvm", "vms", "win", "cmdline"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cmdline), "-vga qxl") || !strings.Contains(string(cmdline), "name=com.redhat.spice.0") {
		t.Errorf("spice VM has no QXL VGA or no SPICE agent port: %s", cmdline)
	}
	img := screenshot(t, e, "win")
	if b := img.Bounds(); b.Dx() < 320 || b.Dy() < 200 {
		t.Errorf("screenshot of the QXL VGA is %dx%d", b.Dx(), b.Dy())
	}
	e.ok("stop", "--force", "win")
}

// startXvfb runs a real X server on a free display number until the test ends.
func startXvfb(t *testing.T) string {
	t.Helper()
	for n := 90; n < 120; n++ {
		if _, err := os.Stat(fmt.Sprintf("/tmp/.X11-unix/X%d", n)); err == nil {
			continue
		}
		disp := fmt.Sprintf(":%d", n)
		cmd := exec.Command("Xvfb", disp, "-screen", "0", "1280x800x24", "-nolisten", "tcp")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			if exec.Command("xwininfo", "-display", disp, "-root").Run() == nil {
				return disp
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Fatalf("Xvfb %s did not answer within 30s", disp)
	}
	t.Fatal("no free X display number")
	return ""
}

// waitWindow polls the X server's window tree for a window whose name
// contains title.
func waitWindow(t *testing.T, disp, title string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	var tree []byte
	for time.Now().Before(deadline) {
		tree, _ = exec.Command("xwininfo", "-display", disp, "-root", "-tree").Output()
		if bytes.Contains(tree, []byte(title)) {
			return
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("no window %q on %s within %s:\n%s", title, disp, within, tail(string(tree), 20))
}

// waitGuest runs script over nixvm ssh until it prints want or the deadline
// passes (the display manager starts after sshd).
func waitGuest(t *testing.T, e *env, name, script, want string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	var last result
	for time.Now().Before(deadline) {
		last = e.run("ssh", name, "--", "sh", "-c", script)
		if strings.TrimSpace(last.out) == want {
			return
		}
		time.Sleep(2 * time.Second)
	}
	diag := e.run("ssh", name, "--", "sh", "-c", "systemctl status lightdm --no-pager 2>&1 | tail -n 20; sudo tail -n 20 /var/log/lightdm/lightdm.log; ps -eo user,comm | tail -n 40")
	t.Fatalf("%s: %q never printed %q within %s (last: %q %q)\n%s", name, script, want, within, last.out, last.err, diag.out)
}

// textScreen is the screen of a VM without a desktop: the stand-in's live
// system at its text console, as a VM with desktop none shows one.
func textScreen(t *testing.T, iso string) image.Image {
	t.Helper()
	e := newEnv(t)
	e.ok("create", "text", "--manual", "--iso", iso, "--firmware", "bios", "--memory", "1G", "--disk", "1G")
	e.ok("start", "text")
	defer e.ok("stop", "--force", "text")
	e.waitLog("text", regexp.MustCompile(`nixos@nixos`), 5*time.Minute)
	return screenshot(t, e, "text")
}

// instanceLogs is what a failed install leaves in its instance directory
// (the test's directories are removed at the end): the last lines of the
// serial console and of the install events. With NIXVM_TEST_KEEP_DIR set,
// the logs are also copied there, one directory per VM.
func instanceLogs(e *env, name string) string {
	dir := filepath.Join(e.data, "nixvm", "vms", name)
	var b strings.Builder
	keep := os.Getenv("NIXVM_TEST_KEEP_DIR")
	for _, f := range []string{"serial.log", "events.jsonl", "qemu.log", "state.json"} {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			fmt.Fprintf(&b, "--- %s: %v\n", f, err)
			continue
		}
		fmt.Fprintf(&b, "--- %s (last 60 lines)\n%s\n", f, tail(string(data), 60))
		if keep != "" {
			os.MkdirAll(filepath.Join(keep, name), 0o755)
			os.WriteFile(filepath.Join(keep, name, f), data, 0o644)
		}
	}
	return b.String()
}

func screenshot(t *testing.T, e *env, name string) image.Image {
	t.Helper()
	out := filepath.Join(t.TempDir(), name+".png")
	e.ok("screenshot", name, "-o", out)
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s is not a PNG: %v", out, err)
	}
	return img
}

func colours(img image.Image) int {
	seen := map[[4]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, a := img.At(x, y).RGBA()
			seen[[4]uint32{r, g, bl, a}] = true
		}
	}
	return len(seen)
}

// differing is the fraction of a's pixels that differ from b scaled to a's
// size (nearest neighbour), over every second pixel.
func differing(a, b image.Image) float64 {
	ab, bb := a.Bounds(), b.Bounds()
	n, diff := 0, 0
	for y := ab.Min.Y; y < ab.Max.Y; y += 2 {
		for x := ab.Min.X; x < ab.Max.X; x += 2 {
			bx := bb.Min.X + (x-ab.Min.X)*bb.Dx()/ab.Dx()
			by := bb.Min.Y + (y-ab.Min.Y)*bb.Dy()/ab.Dy()
			r1, g1, b1, _ := a.At(x, y).RGBA()
			r2, g2, b2, _ := b.At(bx, by).RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 {
				diff++
			}
			n++
		}
	}
	return float64(diff) / float64(n)
}
