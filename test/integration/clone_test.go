package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestClone installs one VM, makes three linked clones of it (one through
// create --from), boots them at the same time and checks that each is its
// own machine (host name, verified host key, MAC, machine-id), that the
// base keeps working without affecting them, that the base cannot be
// removed while they exist, and what --full and bad input do.
func TestClone(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	iso := standinISO(t, "")
	cache := startBinaryCache(t)
	base := "cbase"
	args := append(append([]string{"create", base, "--iso", iso, "--disk", "6G"}, installArgs(cache)...), "--firmware", "bios")
	if r := e.run(args...); r.code != 0 {
		t.Fatalf("create %s: exit %d\n%s\n%s", base, r.code, tail(r.out, 30), r.err)
	}
	guest(t, e, base, "echo from-base > ~/mark")
	e.ok("stop", base)

	// Bad input: one line naming what is wrong, exit non-zero, no VM made.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"clone", "nope", "x1"}, `no VM named "nope"`},
		{[]string{"clone", base, base}, `VM "cbase" already exists`},
		{[]string{"clone", base, "Bad_Name"}, "DST:"},
		{[]string{"create", "x2", "--from", base, "--disk", "20G"}, "--disk: cannot differ from cbase with --from"},
		{[]string{"create", "x3", "--from", base, "--lvm"}, "--lvm: cannot differ"},
		{[]string{"create", "x4", "--from", "nope"}, `no VM named "nope"`},
	} {
		r := e.run(c.args...)
		if r.code == 0 || !strings.Contains(r.err, c.want) || strings.Count(strings.TrimSpace(r.err), "\n") > 0 {
			t.Errorf("nixvm %s: exit %d, stderr %q; want one line containing %q", strings.Join(c.args, " "), r.code, r.err, c.want)
		}
	}
	for _, n := range []string{"x1", "x2", "x3", "x4", "Bad_Name"} {
		if _, err := os.Stat(e.vmDir(n)); err == nil {
			t.Errorf("a failed clone left VM directory %s", n)
		}
	}

	var res struct {
		Name    string  `json:"name"`
		Linked  bool    `json:"linked"`
		Seconds float64 `json:"seconds"`
	}
	if err := json.Unmarshal([]byte(e.ok("clone", base, "c1", "--json")), &res); err != nil || !res.Linked || res.Name != "c1" {
		t.Fatalf("clone --json: %+v %v", res, err)
	}
	t.Logf("linked clone of a %s VM in %.3fs", "6G", res.Seconds)
	e.ok("clone", base, "c2")
	// The second clone of an unchanged base reuses its frozen image.
	bases, _ := filepath.Glob(filepath.Join(e.vmDir(base), "disk0.base-*.qcow2"))
	if len(bases) != 1 {
		t.Fatalf("base images of %s: %v, want exactly one", base, bases)
	}
	if fi, err := os.Stat(bases[0]); err != nil || fi.Mode().Perm() != 0o400 {
		t.Errorf("base image %s: mode %v (%v), want 0400 (read-only)", bases[0], fi.Mode(), err)
	}

	// c3 comes from create --from, with less memory, started and ready.
	t0 := time.Now()
	e.ok("create", "c3", "--from", base, "--memory", "1536M")
	t.Logf("create --from to SSH ready: %s", time.Since(t0).Round(time.Second))
	clones := []string{"c1", "c2", "c3"}
	var wg sync.WaitGroup
	for _, c := range clones[:2] {
		wg.Add(1)
		go func() { defer wg.Done(); e.ok("start", c) }()
	}
	wg.Wait()
	for _, c := range clones[:2] {
		waitSSH(t, e, c, 15*time.Minute)
	}

	seen := map[string]string{}
	for _, c := range clones {
		id := readIdentity(t, e, c)
		expectOut(t, guest(t, e, c, "hostname"), c)
		expectOut(t, guest(t, e, c, "cat /etc/machine-id"), id.MachineID)
		expectOut(t, guest(t, e, c, "cat /sys/class/net/e*/address"), id.MAC)
		expectOut(t, guest(t, e, c, "cat ~/mark"), "from-base")
		expectOut(t, guest(t, e, c, "cat /etc/nixos/nixvm-hostname.nix | tail -n1"), `{ networking.hostName = "`+c+`"; }`)
		pub, err := os.ReadFile(filepath.Join(e.vmDir(c), "ssh_host_ed25519_key.pub"))
		if err != nil {
			t.Fatal(err)
		}
		// nixvm ssh verified the key; the guest also serves this one.
		expectOut(t, guest(t, e, c, "cat /etc/ssh/ssh_host_ed25519_key.pub"), strings.TrimSpace(string(pub)))
		for what, v := range map[string]string{"machine-id": id.MachineID, "MAC": id.MAC, "host key": string(pub)} {
			if other, dup := seen[what+v]; dup {
				t.Errorf("%s and %s share the %s %s", other, c, what, v)
			}
			seen[what+v] = c
		}
	}
	if kb, err := strconv.Atoi(strings.TrimSpace(guest(t, e, "c3", "awk '/MemTotal/ { print $2 }' /proc/meminfo"))); err != nil || kb > 1536*1024 || kb < 1024*1024 {
		t.Errorf("c3 (--memory 1536M) has MemTotal %d kB (%v)", kb, err)
	}

	// list shows the relation.
	var infos []struct {
		Name    string `json:"name"`
		CloneOf string `json:"cloneOf"`
	}
	if err := json.Unmarshal([]byte(e.ok("list", "--json")), &infos); err != nil {
		t.Fatal(err)
	}
	for _, i := range infos {
		want := base
		if i.Name == base {
			want = ""
		}
		if i.CloneOf != want {
			t.Errorf("list: %s is a clone of %q, want %q", i.Name, i.CloneOf, want)
		}
	}

	// The base goes on; its clones do not see what it does afterwards.
	e.ok("start", base)
	waitSSH(t, e, base, 15*time.Minute)
	guest(t, e, base, "echo later > ~/mark2")
	e.ok("stop", base)
	expectOut(t, guest(t, e, "c1", "test -e ~/mark2 && echo seen || echo absent"), "absent")

	// The base cannot be removed while clones depend on it, not even with --force.
	for _, a := range [][]string{{"rm", base}, {"rm", "--force", base}} {
		r := e.run(a...)
		if r.code == 0 || !strings.Contains(r.err, "c1, c2, c3") {
			t.Errorf("nixvm %s with clones: exit %d, %q; want a refusal naming c1, c2, c3", strings.Join(a, " "), r.code, r.err)
		}
	}
	if _, err := os.Stat(e.vmDir(base)); err != nil {
		t.Fatalf("the base went: %v", err)
	}

	// A running VM is not cloned; a full copy is independent of its source.
	if r := e.run("clone", "c1", "f1"); r.code == 0 || !strings.Contains(r.err, "is running") {
		t.Errorf("clone of a running VM: exit %d, %q", r.code, r.err)
	}
	e.ok("stop", "c1")
	e.ok("clone", "--full", "c1", "f1")
	if b := qemuImgBacking(t, filepath.Join(e.vmDir("f1"), "disk0.qcow2")); b != "" {
		t.Errorf("full copy f1 has backing file %s", b)
	}
	// A VM without an identity (made by an older nixvm) is refused.
	if err := os.Remove(filepath.Join(e.vmDir("f1"), "identity.json")); err != nil {
		t.Fatal(err)
	}
	if r := e.run("clone", "f1", "f2"); r.code == 0 || !strings.Contains(r.err, "re-create it") {
		t.Errorf("clone of a VM without identity: exit %d, %q", r.code, r.err)
	}

	for _, c := range append(clones, "f1") {
		e.ok("rm", "--force", c)
	}
	e.ok("rm", base)
	var left []string
	entries, _ := os.ReadDir(filepath.Dir(e.vmDir(base)))
	for _, en := range entries {
		left = append(left, en.Name())
	}
	sort.Strings(left)
	if len(left) != 0 {
		t.Errorf("VMs directory after removing everything: %v", left)
	}
}

type identity struct {
	MachineID string `json:"machineId"`
	MAC       string `json:"mac"`
}

func readIdentity(t *testing.T, e *env, name string) identity {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.vmDir(name), "identity.json"))
	if err != nil {
		t.Fatal(err)
	}
	var id identity
	if err := json.Unmarshal(b, &id); err != nil {
		t.Fatal(err)
	}
	return id
}

func qemuImgBacking(t *testing.T, path string) string {
	t.Helper()
	out := sh(t, "", "qemu-img", "info", "--output=json", "-U", path)
	var info struct {
		Backing string `json:"backing-filename"`
	}
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatal(err)
	}
	return info.Backing
}
