package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixvm/nixvm/internal/images/imagestest"
)

// TestCreatePreflight: what real NixOS cannot install (too little memory or
// disk, a VM name that is no host name, a release older than the options
// the configuration uses, explicit out-of-range numbers) is refused before
// anything is downloaded or made: a one-line error naming the field and the
// valid range, a non-zero exit, no request to the channel server, no VM and
// no cached file.
func TestCreatePreflight(t *testing.T) {
	e := newEnv(t)
	srv := imagestest.NewServer(t, imagestest.Config{Redirect: true})
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"create", "lab", "--memory", "1G"}, "memory: 1G is too small for an unattended install (use at least 2G"},
		{[]string{"create", "lab", "--disk", "4G"}, "disks[0].size: 4G leaves 3582M for the root file system after the 512M ESP and partitioning overhead (a minimal NixOS needs at least 4G; use a disk of at least 4610M)"},
		{[]string{"create", "lab", "--desktop", "i3", "--disk", "6G"}, "(NixOS with the i3 desktop needs at least 8G"},
		{[]string{"create", "lab-"}, `name: "lab-" is not a valid VM name (it becomes the NixOS host name: use 1-63 of a-z, 0-9 and -, starting and ending with a letter or digit)`},
		{[]string{"create", "lab", "--release", "23.05", "--raid", "raid1"}, "release: 23.05 is too old for this VM: its configuration sets boot.swraid.enable, which NixOS has since 23.11 (use release 23.11 or newer)"},
		{[]string{"create", "lab", "--release", "22.11"}, "release: 22.11 is too old for this VM"},
		{[]string{"create", "lab", "--cpus", "0"}, "--cpus: 0 is out of range (use 1 to 256)"},
		{[]string{"create", "lab", "--cpus", "300"}, "--cpus: 300 is out of range (use 1 to 256)"},
		{[]string{"create", "lab", "--memory", "0"}, "--memory: 0 is too small"},
		{[]string{"create", "lab", "--ssh-port", "70000"}, "sshPort: 70000 is out of range"},
		{[]string{"create", "lab", "--network-timeout", "1s"}, "--network-timeout: 1s is out of range (use 10s to 1h0m0s)"},
		{[]string{"create", "lab", "--substituter", "cache.example"}, `substituters[0]: "cache.example" is not a binary cache URL`},
	}
	for _, c := range cases {
		args := append(c.args, "--channels-url", srv.URL)
		r := e.run(args...)
		if r.code == 0 {
			t.Errorf("nixvm %s: succeeded, want an error", strings.Join(c.args, " "))
			continue
		}
		msg := strings.TrimSpace(r.err)
		if strings.Count(msg, "\n") != 0 || !strings.Contains(msg, c.want) {
			t.Errorf("nixvm %s:\n got %q\nwant one line containing %q", strings.Join(c.args, " "), msg, c.want)
		}
	}
	if n := len(srv.Requests("", "")); n != 0 {
		t.Errorf("refused creates sent %d requests to the channel server", n)
	}
	assertNoVMs(t, e)
	assertNoCache(t, e)

	// A local ISO whose release is too old is refused once its label is
	// read, still before the VM is made.
	old := filepath.Join(t.TempDir(), "nixos-23.05.iso")
	cmd := exec.Command(filepath.Join(repoRoot(), "scripts", "build-test-iso"), old, "--release", "23.05")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build-test-iso --release 23.05: %v\n%s", err, out)
	}
	r := e.run("create", "lab", "--iso", old, "--raid", "raid1")
	want := "--iso " + old + " is NixOS 23.05: release: 23.05 is too old for this VM: its configuration sets boot.swraid.enable, which NixOS has since 23.11"
	if msg := strings.TrimSpace(r.err); r.code == 0 || strings.Count(msg, "\n") != 0 || !strings.Contains(msg, want) {
		t.Errorf("create --iso (23.05) --raid raid1: exit %d\n got %q\nwant %q", r.code, msg, want)
	}
	assertNoVMs(t, e)
}

// assertNoCache: nothing was downloaded into the env's image cache.
func assertNoCache(t *testing.T, e *env) {
	t.Helper()
	var files []string
	for _, kv := range e.vars {
		if dir, ok := strings.CutPrefix(kv, "XDG_CACHE_HOME="); ok {
			filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
				if err == nil && !fi.IsDir() {
					files = append(files, p)
				}
				return nil
			})
		}
	}
	if len(files) > 0 {
		t.Errorf("refused creates left files in the cache: %v", files)
	}
}
