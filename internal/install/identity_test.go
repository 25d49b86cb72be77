package install

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The activation snippet, as Nix hands it to the activation script, run
// against a fake root: a first boot of a clone applies machine-id, host key
// and host name; a second boot changes nothing; a boot without nixvm's
// fw_cfg files changes nothing.
func TestIdentitySnippet(t *testing.T) {
	requireTool(t, "nix-instantiate", "nix-bin")
	dir := t.TempDir()
	mod := filepath.Join(dir, SeedIdentity)
	if err := os.WriteFile(mod, []byte(identityNix()), 0o644); err != nil {
		t.Fatal(err)
	}
	expr := `(import ` + mod + ` { config = {}; lib = {}; pkgs = {}; }).system.activationScripts.nixvmIdentity.text`
	out, err := exec.Command("nix-instantiate", "--eval", "--strict", "--json", "-E", expr).Output()
	if err != nil {
		t.Fatalf("evaluate %s: %v", SeedIdentity, err)
	}
	var script string
	if err := json.Unmarshal(out, &script); err != nil {
		t.Fatal(err)
	}

	root := t.TempDir()
	// The snippet's absolute paths, moved under root.
	for _, p := range []string{"/sys/", "/etc/", "/proc/"} {
		script = strings.ReplaceAll(script, " "+p, " "+root+p)
		script = strings.ReplaceAll(script, "="+p, "="+root+p)
		script = strings.ReplaceAll(script, ">"+p, ">"+root+p)
	}
	if strings.Count(script, "/etc/") != strings.Count(script, root+"/etc/") {
		t.Fatalf("a path was not moved under the fake root:\n%s", script)
	}
	write := func(rel, data string) {
		t.Helper()
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	read := func(rel string) string {
		t.Helper()
		b, _ := os.ReadFile(filepath.Join(root, rel))
		return string(b)
	}
	run := func() string {
		t.Helper()
		out, err := exec.Command("bash", "-c", script).CombinedOutput()
		if err != nil {
			t.Fatalf("snippet failed: %v\n%s", err, out)
		}
		return string(out)
	}
	// The base VM's files, as the clone's disk has them.
	write("etc/machine-id", "11111111111111111111111111111111\n")
	write("etc/hostname", "base\n")
	write("etc/ssh/ssh_host_ed25519_key", "base key")
	write("etc/ssh/ssh_host_ed25519_key.pub", "ssh-ed25519 BASE")
	write("etc/nixos/"+SeedHostname, hostnameNix("base"))
	write("proc/sys/kernel/hostname", "base")

	if out := run(); out != "" {
		t.Fatalf("without fw_cfg files the snippet did something: %s", out)
	}
	fw := "sys/firmware/qemu_fw_cfg/by_name/opt/io.github.nixvm/"
	write(fw+"hostname/raw", "clone1")
	write(fw+"machine-id/raw", "22222222222222222222222222222222")
	write(fw+"ssh_host_ed25519_key/raw", "clone key")
	write(fw+"ssh_host_ed25519_key.pub/raw", "ssh-ed25519 CLONE")
	out1 := run()
	for _, c := range []struct{ file, want string }{
		{"etc/machine-id", "22222222222222222222222222222222\n"},
		{"etc/hostname", "clone1\n"},
		{"proc/sys/kernel/hostname", "clone1"},
		{"etc/ssh/ssh_host_ed25519_key", "clone key"},
		{"etc/ssh/ssh_host_ed25519_key.pub", "ssh-ed25519 CLONE"},
		{"etc/nixos/" + SeedHostname, hostnameNix("clone1")},
	} {
		if got := read(c.file); got != c.want {
			t.Errorf("%s = %q, want %q (snippet said %q)", c.file, got, c.want, out1)
		}
	}
	if fi, err := os.Stat(filepath.Join(root, "etc/ssh/ssh_host_ed25519_key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("host key mode: %v %v, want 0600", fi.Mode(), err)
	}
	if out := run(); out != "" {
		t.Errorf("the second boot changed something again: %s", out)
	}
}
