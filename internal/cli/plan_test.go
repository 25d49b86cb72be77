package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const planTestKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPlanTestKeyPlanTestKeyPlanTestKeyPlanTe you@host"

// planEnv gives the command its own XDG directories, optionally with a
// nixvm user key, and returns them.
func planEnv(t *testing.T, withKey bool) (config, data string) {
	t.Helper()
	root := t.TempDir()
	config, data = filepath.Join(root, "config"), filepath.Join(root, "data")
	t.Setenv("XDG_CONFIG_HOME", config)
	t.Setenv("XDG_DATA_HOME", data)
	t.Setenv("XDG_CACHE_HOME", filepath.Join(root, "cache"))
	if withKey {
		dir := filepath.Join(config, "nixvm", "ssh")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "id_ed25519.pub"), []byte(planTestKey+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return config, data
}

func runPlan(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd := newPlanCommand()
	cmd.SetArgs(append([]string{}, args...))
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func TestPlanStdout(t *testing.T) {
	_, data := planEnv(t, true)
	out, err := runPlan(t, "lab", "--firmware", "bios", "--partition-table", "mbr", "--swap", "1G", "--release", "25.05")
	if err != nil {
		t.Fatal(err)
	}
	// The QEMU commands hold host paths and a free port: checked apart
	// from the golden file.
	files, qemuCmds, ok := strings.Cut(out, "\n==> qemu-commands.sh <==\n")
	if !ok {
		t.Fatalf("plan printed no QEMU commands:\n%s", out)
	}
	doctorGolden(t, "plan-bios-mbr-swap.golden", files)
	for _, want := range []string{"-machine pc", "-kernel ", "seed.iso", "bootindex=0", "hostfwd=tcp:127.0.0.1:"} {
		if !strings.Contains(qemuCmds, want) {
			t.Errorf("plan's QEMU commands lack %q:\n%s", want, qemuCmds)
		}
	}
	if _, err := os.Stat(data); err == nil {
		t.Errorf("plan created %s; it must not touch instance directories", data)
	}
}

func TestPlanOut(t *testing.T) {
	config, _ := planEnv(t, false)
	dir := filepath.Join(t.TempDir(), "a", "plan")
	out, err := runPlan(t, "lab", "--raid", "raid1", "--lvm", "--out", dir)
	if err != nil {
		t.Fatal(err)
	}
	if out != "" {
		t.Errorf("plan --out printed %q, want nothing", out)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("out dir: %v, %v; want mode 0700", fi, err)
	}
	for name, mode := range map[string]os.FileMode{"configuration.nix": 0o644, "nixvm-extra.nix": 0o644, "install.sh": 0o755} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s has mode %v, want %v", name, fi.Mode().Perm(), mode)
		}
	}
	conf, _ := os.ReadFile(filepath.Join(dir, "configuration.nix"))
	for _, want := range []string{
		`  boot.swraid.enable = true;`,
		`  boot.initrd.services.lvm.enable = true;`,
		`  # nixvm plan: release "stable" is resolved when create fetches the installer; 25.11 assumed here.`,
		`  system.stateVersion = "25.11";`,
		`ssh-ed25519 PLACEHOLDER (nixvm create makes the key ` + filepath.Join(config, "nixvm", "ssh", "id_ed25519.pub") + `)`,
	} {
		if !strings.Contains(string(conf), want+"\n") && !strings.Contains(string(conf), want) {
			t.Errorf("configuration.nix lacks %q:\n%s", want, conf)
		}
	}
	// plan reads the user's key but never makes one.
	if _, err := os.Stat(filepath.Join(config, "nixvm")); err == nil {
		t.Errorf("plan created %s", filepath.Join(config, "nixvm"))
	}
	script, _ := os.ReadFile(filepath.Join(dir, "install.sh"))
	if !strings.Contains(string(script), "mdadm --create /dev/md/root") {
		t.Errorf("install.sh does not make the RAID:\n%s", script)
	}

	// Again into the same directory: files are replaced.
	if _, err := runPlan(t, "lab", "--out", dir); err != nil {
		t.Fatal(err)
	}
	conf, _ = os.ReadFile(filepath.Join(dir, "configuration.nix"))
	if strings.Contains(string(conf), "swraid") {
		t.Errorf("second plan did not replace configuration.nix")
	}
}

func TestPlanSpecFile(t *testing.T) {
	planEnv(t, true)
	path := filepath.Join(t.TempDir(), "lab.yaml")
	if err := os.WriteFile(path, []byte("name: lab\ndesktop: dwm\nextraConfig: |\n  services.nginx.enable = true;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runPlan(t, "-f", path, "--desktop", "i3")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"==> configuration.nix <==\n",
		"\n==> nixvm-extra.nix <==\n",
		"\n==> install.sh <==\n#!/usr/bin/env bash\n",
		`  services.xserver.windowManager.i3.enable = true;`, // the flag wins over the file
		"\nservices.nginx.enable = true;\n}\n",
		`[ "` + planTestKey + `" ]`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestPlanErrors(t *testing.T) {
	planEnv(t, true)
	specFile := filepath.Join(t.TempDir(), "lab.yaml")
	if err := os.WriteFile(specFile, []byte("name: lab\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{nil, "NAME: missing"},
		{[]string{"-f", specFile, "other"}, `NAME: "other" differs from name "lab"`},
		{[]string{"Lab"}, `name: "Lab" is not a valid VM name`},
		{[]string{"lab", "--extra-config", "a = {\n"}, `extraConfig: unbalanced "{" at line 1`},
		{[]string{"lab", "--disk", "1536M"}, "disks[0].size: 1536M leaves 1022M for the root file system"},
		{[]string{"lab", "--out", "/proc/nixvm-plan"}, "--out: "},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, err := runPlan(t, tt.args...)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("plan %v = %v, want %s...", tt.args, err, tt.want)
			}
		})
	}
}
