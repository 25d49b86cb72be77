package cli

import (
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/nixvm/nixvm/internal/spec"
	"github.com/nixvm/nixvm/internal/store"
	"github.com/nixvm/nixvm/internal/vm"
)

// TestCloneDropsForwards: nixvm clone of a VM with host port forwards says
// which the clone does not have, in text and in --json, and the clone's
// spec has none.
func TestCloneDropsForwards(t *testing.T) {
	qemuImg, err := exec.LookPath("qemu-img")
	if err != nil {
		t.Skip("qemu-img not installed")
	}
	in, _ := testVM(t, "lab", 2222, false)
	writeTestSpec(t, in, &spec.Spec{Name: "lab", Firmware: "bios", SSHPort: 2222, PortForwards: []spec.PortForward{{Host: 8080, Guest: 80, Proto: "tcp"}, {Host: 8443, Guest: 443, Proto: "tcp"}}})
	lock, err := in.TryLock("test")
	if err != nil {
		t.Fatal(err)
	}
	id, err := store.NewIdentity()
	if err == nil {
		err = lock.WriteIdentity(id)
	}
	lock.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(qemuImg, "create", "-q", "-f", "qcow2", in.Disk(0), "1G").CombinedOutput(); err != nil {
		t.Fatalf("qemu-img create: %v %s", err, out)
	}
	code, out, errOut := runNixvm(t, "clone", "lab", "lab2")
	want := "VM lab2 does not forward lab's host ports 8080:80, 8443:443 (two VMs cannot listen on one host port; a VM from lab gets its own with nixvm create NAME --from lab --forward HOST:GUEST)\n"
	if code != 0 || !strings.Contains(out, want) {
		t.Fatalf("nixvm clone: exit %d, stdout %q, stderr %q; want the line %q", code, out, errOut, want)
	}
	code, out, errOut = runNixvm(t, "clone", "lab", "lab3", "--json")
	var res cloneResult
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || !slices.Equal(res.DroppedForwards, []string{"8080:80", "8443:443"}) {
		t.Fatalf("nixvm clone --json: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	for _, name := range []string{"lab2", "lab3"} {
		c, err := store.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		cs, err := vm.LoadSpec(c)
		if err != nil || len(cs.PortForwards) != 0 || cs.SSHPort != 0 {
			t.Errorf("%s's spec: %+v %v; want no host ports", name, cs, err)
		}
	}
}
