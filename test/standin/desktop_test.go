package standin

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// desktop runs the checker on a configuration and then the stand-in's
// desktop step (scripts/standin/desktop-configure, the part of
// desktop-install that turns the options into files) on a scratch root
// whose /etc/passwd has the user nixos. It returns the root, the step's
// stderr, and whether it succeeded.
func desktop(t *testing.T, body string) (string, string, bool) {
	t.Helper()
	perl, err := exec.LookPath("perl")
	if err != nil {
		t.Fatalf("perl is needed: %v", err)
	}
	d := t.TempDir()
	if err := os.WriteFile(filepath.Join(d, "configuration.nix"), []byte(conf(body)["configuration.nix"]), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(perl, filepath.Join(dir, "nixconf-dump"), "--check", "--release", "25.11",
		"--options", filepath.Join(dir, "nixos-options.tsv"), filepath.Join(d, "configuration.nix"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	dump, err := cmd.Output()
	if err != nil {
		t.Fatalf("checker refused the configuration: %v\n%s", err, stderr.String())
	}
	if err := os.WriteFile(filepath.Join(d, "dump"), dump, 0o644); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(d, "root")
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	passwd := "root:x:0:0:root:/root:/bin/bash\nnixos:x:1000:100::/home/nixos:/bin/bash\n"
	if err := os.WriteFile(filepath.Join(root, "etc", "passwd"), []byte(passwd), 0o644); err != nil {
		t.Fatal(err)
	}
	stderr.Reset()
	cmd = exec.Command("bash", filepath.Join(dir, "desktop-configure"), root, filepath.Join(d, "dump"))
	cmd.Stderr = &stderr
	err = cmd.Run()
	return root, stderr.String(), err == nil
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const lightdmConf = "etc/lightdm/lightdm.conf.d/50-nixos.conf"

// TestDesktopAutoLogin: with services.displayManager.autoLogin LightDM logs
// the user in to the window manager's session; without it (here switched
// off again by a later module, as a user's extraConfig would) there is no
// autologin line, so LightDM shows its greeter, which asks for a password,
// as on NixOS.
func TestDesktopAutoLogin(t *testing.T) {
	const wm = `services.xserver.enable = true; services.xserver.windowManager.i3.enable = true;`
	root, out, ok := desktop(t, wm+`
  services.displayManager.autoLogin.enable = true; services.displayManager.autoLogin.user = "nixos";`)
	if !ok {
		t.Fatalf("auto-login refused: %s", out)
	}
	got := readFile(t, filepath.Join(root, lightdmConf))
	for _, w := range []string{"user-session=i3\n", "autologin-user=nixos\n", "autologin-session=i3\n", "autologin-user-timeout=0\n"} {
		if !strings.Contains(got, w) {
			t.Errorf("auto-login: %s lacks %q:\n%s", lightdmConf, w, got)
		}
	}

	root, out, ok = desktop(t, wm+`
  services.displayManager.autoLogin.enable = true; services.displayManager.autoLogin.user = "nixos";
  services.displayManager.autoLogin.enable = lib.mkForce false;`)
	if !ok {
		t.Fatalf("auto-login off refused: %s", out)
	}
	got = readFile(t, filepath.Join(root, lightdmConf))
	if strings.Contains(got, "autologin") || !strings.Contains(got, "user-session=i3\n") {
		t.Errorf("auto-login off: want the greeter (no autologin line) and the i3 session:\n%s", got)
	}

	if _, out, ok = desktop(t, wm+`
  services.displayManager.autoLogin.enable = true; services.displayManager.autoLogin.user = "alice";`); ok || !strings.Contains(out, "services.displayManager.autoLogin.user: no user alice") {
		t.Errorf("auto-login as a user that does not exist: want a failure naming it, got ok=%v %q", ok, out)
	}
	if _, out, ok = desktop(t, `services.xserver.enable = true;`); ok || !strings.Contains(out, "needs services.xserver.windowManager.i3 or .dwm") {
		t.Errorf("X11 without a window manager: want a failure, got ok=%v %q", ok, out)
	}
}

// TestDesktopFiles: the keyboard layout, i3's configFile (a writeText, as
// nixvm writes it) and the session commands end up where the X server, i3
// and the X session read them.
func TestDesktopFiles(t *testing.T) {
	root, out, ok := desktop(t, `services.xserver.enable = true; services.xserver.xkb.layout = "de";
  services.xserver.windowManager.i3.enable = true;
  services.xserver.windowManager.i3.configFile = pkgs.writeText "i3-config" ''
    gaps inner 8
    bar {
      status_command i3status
    }
  '';
  services.xserver.displayManager.sessionCommands = ''
    xsetroot -name hello &
  '';`)
	if !ok {
		t.Fatalf("refused: %s", out)
	}
	if got := readFile(t, filepath.Join(root, "etc/X11/xorg.conf.d/00-keyboard.conf")); !strings.Contains(got, `Option "XkbLayout" "de"`) {
		t.Errorf("keyboard: %s", got)
	}
	if got := readFile(t, filepath.Join(root, "etc/i3/config")); got != "gaps inner 8\nbar {\n  status_command i3status\n}\n" {
		t.Errorf("i3 config: %q", got)
	}
	if got := readFile(t, filepath.Join(root, "etc/X11/Xsession.d/95nixos-session-commands")); !strings.Contains(got, "xsetroot -name hello &\n") {
		t.Errorf("session commands: %q", got)
	}
}
