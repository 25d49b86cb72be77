package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixvm/nixvm/internal/images"
	"github.com/nixvm/nixvm/internal/installer"
	"github.com/nixvm/nixvm/internal/spec"
	"github.com/nixvm/nixvm/internal/sshx"
	"github.com/nixvm/nixvm/internal/store"
	"github.com/nixvm/nixvm/internal/vm"
)

// TestExplain: the library's errors state the fact; the CLI adds the flag
// they are about and the command that helps, found by the error's type
// (errors.As) however deep it is wrapped.
func TestExplain(t *testing.T) {
	cause := errors.New("boom")
	step := func(next vm.Next, name, tag string) error {
		return &vm.StepError{Err: cause, Step: vm.Step{Next: next, Name: name, Tag: tag}}
	}
	tests := []struct {
		name string
		err  error
		want string
	}{
		// create's installer ISO and install
		{"download", &installer.ISOError{Op: installer.ISOGet, Err: cause}, "get the installer: boom (offline? give a local ISO with --iso PATH)"},
		{"download of --iso URL", &installer.ISOError{Op: installer.ISOGet, ISO: "https://x/y.iso", Err: cause}, "get the installer: boom (offline? give a local ISO with --iso PATH)"},
		{"local ISO not an installer", &installer.ISOError{Op: installer.ISOInspect, ISO: "/x.iso", Err: cause}, "--iso: boom"},
		{"release's ISO not an installer", &installer.ISOError{Op: installer.ISOInspect, Err: cause}, "boom"},
		{"local ISO too old", &installer.ISOError{Op: installer.ISORelease, ISO: "/x.iso", Release: "23.05", Err: cause}, "--iso /x.iso is NixOS 23.05: boom"},
		{"install failed", &installer.Error{Name: "lab", Phase: "formatting", Cause: cause},
			"install failed in phase formatting: boom\nThe VM is kept in state failed with its logs (nixvm logs lab). Run nixvm create again to retry, or nixvm rm lab."},
		{"install failed, cleanup too", &installer.Error{Name: "lab", Phase: "formatting", Cause: cause, Cleanup: errors.New("stuck")},
			"install failed in phase formatting: boom\nand cleaning up failed: stuck (see nixvm status lab)\nThe VM is kept in state failed with its logs (nixvm logs lab). Run nixvm create again to retry, or nixvm rm lab."},
		{"install failed on a step", &installer.Error{Name: "lab", Phase: "booting", Cause: step(vm.NextStatus, "lab", "")},
			"install failed in phase booting: boom\nThe VM is kept in state failed with its logs (nixvm logs lab). Run nixvm create again to retry, or nixvm rm lab."},
		{"no such ISO", &vm.ISONotFoundError{Path: "x.iso", Err: os.ErrNotExist}, "--iso: x.iso: no such file (give the path of a NixOS installer ISO, or a URL with --sha256)"},
		{"start: no such ISO", fmt.Errorf("start: %w", &vm.ISONotFoundError{Path: "x.iso", Err: os.ErrNotExist, Boot: true}), "--iso: start: x.iso: no such file (give the path of an ISO file)"},
		{"start: unreadable ISO", &vm.ISONotFoundError{Path: "x.iso", Err: &os.PathError{Op: "stat", Path: "/a/x.iso", Err: os.ErrPermission}, Boot: true}, "--iso: x.iso: permission denied (give the path of an ISO file)"},
		{"dry run, not cached", &vm.NotCachedError{What: "release 25.05", Release: "25.05"},
			"the installer ISO of release 25.05 is not in the image cache and a dry run downloads nothing (nixvm image pull 25.05 first, or give --iso PATH)"},
		{"dry run, stable not cached", &vm.NotCachedError{What: "the stable release"},
			"the installer ISO of the stable release is not in the image cache and a dry run downloads nothing (nixvm image pull stable first, or give --iso PATH)"},

		// the VM's state
		{"start: running", &vm.StateError{Name: "lab", State: vm.StateRunning, PID: 7, Op: "started"}, "VM lab is already running (pid 7)"},
		{"start: installing", &vm.StateError{Name: "lab", State: vm.StateInstalling, PID: 7, Op: "started"}, "VM lab is being installed (pid 7); wait for nixvm create to finish"},
		{"start: failed", &vm.StateError{Name: "lab", State: vm.StateFailed, Op: "started", Why: "formatting: boom"}, "VM lab is failed: formatting: boom; remove it with: nixvm rm lab"},
		{"start: incomplete", &vm.StateError{Name: "half", State: vm.StateIncomplete, Op: "started"}, "VM half is incomplete; remove it with: nixvm rm half"},
		{"no spec.yaml", fmt.Errorf("start: %w", &vm.StateError{Name: "half", State: vm.StateIncomplete, Op: "loaded", Why: "no readable spec.yaml: gone", Err: cause}),
			"start: VM half is incomplete: no readable spec.yaml: gone; remove it with: nixvm rm half"},
		{"rm: running", &vm.StateError{Name: "lab", State: vm.StateRunning, PID: 7, Op: "removed"}, "VM lab is running (pid 7): stop it first (nixvm stop lab) or use --force"},
		{"clone: running", &vm.StateError{Name: "base", State: vm.StateRunning, PID: 7, Op: "cloned", Why: "a clone is made from stopped disks"},
			"VM base is running (pid 7): a clone is made from stopped disks; stop it first (nixvm stop base)"},
		{"clone: failed", &vm.StateError{Name: "base", State: vm.StateFailed, Op: "cloned", Why: "it cannot be cloned"}, "VM base is failed: it cannot be cloned"},
		{"exists", &vm.ExistsError{Name: "lab"}, `VM "lab" already exists (remove it with: nixvm rm lab)`},
		{"no such VM", fmt.Errorf("x: %w", &store.NotFoundError{Name: "nope"}), `x: no VM named "nope" (see nixvm list)`},
		{"protected", &vm.ProtectedError{Name: "base", Op: "removed"},
			"VM base is a protected base and is not removed (make VMs from it: nixvm create NEW --from base; or unprotect it: nixvm protect --off base)"},
		{"protected: snapshot", &vm.ProtectedError{Name: "sn", Op: "snapshotted"},
			"VM sn is a protected base and is not snapshotted (make VMs from it: nixvm create NEW --from sn; or unprotect it: nixvm protect --off sn)"},
		{"has clones", &vm.DependentsError{Name: "base", Dependents: []string{"c1", "c2"}},
			"VM base is the base of the linked clone(s) c1, c2, whose disks read from its disks: remove those first (or make one independent: nixvm clone --full CLONE NEW)"},

		// steps
		{"step remove", step(vm.NextRemove, "lab", ""), "boom; remove it with: nixvm rm lab"},
		{"step status", fmt.Errorf("start VM lab: %w", step(vm.NextStatus, "lab", "")), "start VM lab: boom (see nixvm status lab)"},
		{"step logs", step(vm.NextLogs, "lab", ""), "boom (see nixvm logs lab)"},
		{"step force stop", step(vm.NextForceStop, "lab", ""), "boom; nixvm stop --force lab quits it at once"},
		{"step retry install", step(vm.NextRetryInstall, "lab", ""), "boom (nixvm create lab starts over, nixvm rm lab removes it)"},
		{"step snapshot rm", step(vm.NextSnapshotRm, "lab", "t1"), "boom; nixvm snapshot rm lab t1 removes it"},
		{"step snapshot list", step(vm.NextSnapshotList, "lab", "t1"), "boom (nixvm snapshot list lab shows what is left)"},
		{"step snapshot restore", step(vm.NextSnapshotRestore, "lab", "undo-1"), "boom: nixvm snapshot restore lab undo-1"},
		{"step pick tag", step(vm.NextPickTag, "lab", "t1"), "boom: pick another TAG, or remove it first (nixvm snapshot rm lab t1)"},
		{"step RAM snapshot", step(vm.NextSnapshotRAM, "lab", ""), "boom: snapshot it with its RAM state (without --disk-only), or stopped"},
		{"step restore or stop", step(vm.NextRestoreOrForceStop, "lab", "t1"), "boom: restore again, or stop it (nixvm stop --force lab)"},
		{"step stop, restore", step(vm.NextForceStopThenRestore, "lab", "t1"), "boom: nixvm stop --force lab, then restore again"},
		{"step stop first", step(vm.NextStopThenRestore, "lab", "t1"), "boom: run nixvm stop lab first"},
		{"step thaw", fmt.Errorf("x: %w; and %w", cause, step(vm.NextThaw, "lab", "")), "x: boom; and boom (nixvm agent lab guest-fsfreeze-thaw)"},
		{"step clone", step(vm.NextCloneWithoutSnapshots, "base", ""), "boom; remove them (nixvm snapshot rm base TAG) or make a full copy (nixvm clone --full)"},
		{"step re-create", step(vm.NextRecreate, "old", ""), "boom: re-create it with this nixvm (nixvm rm old, then nixvm create old) to clone it"},
		{"step remove snapshots", step(vm.NextRemoveSnapshots, "base", ""), "boom; remove them first (nixvm snapshot rm base TAG)"},
		{"step pull arch", step(vm.NextPullArch, "", "aarch64"), "boom: use a aarch64 ISO (nixvm image pull --arch aarch64)"},
		{"step stop", step(vm.NextStop, "lab", ""), "boom (stop it with: nixvm stop lab)"},
		{"step none", step(vm.NextNone, "lab", ""), "boom"},

		// other packages
		{"image ref", &images.RefError{Ref: "abc", Msg: `image ID "abc": give at least 8 hex digits`}, `image ID "abc": give at least 8 hex digits (see nixvm image list)`},
		{"no host key", &sshx.NoHostKeyError{Name: "lab", Path: "/d/ssh_host.pub"},
			"VM lab has no host key known to nixvm (/d/ssh_host.pub is missing): VMs made with --manual are not set up for nixvm ssh"},
		{"install memory", &spec.InstallMemoryError{Memory: 512 << 20},
			"memory: 512M is too small for an unattended install (use at least " + spec.MinInstallMemory.String() + ": the installer runs from RAM and nixos-install evaluates nixpkgs there); --manual allows less"},
		{"other", cause, "boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := explain(tt.err); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestRunExplains: Run prints the library's fact with the CLI's hint, on
// one line.
func TestRunExplains(t *testing.T) {
	data := t.TempDir()
	t.Setenv("XDG_DATA_HOME", data)
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	half := filepath.Join(data, "nixvm", "vms", "half")
	if err := os.MkdirAll(half, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(half, "state.json"), []byte(`{"phase":"installing"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"status", "nope"}, "nixvm: no VM named \"nope\" (see nixvm list)\n"},
		{[]string{"start", "half"}, "nixvm: VM half is incomplete: no readable spec.yaml"},
	}
	for _, tt := range tests {
		code, out, errOut := runNixvm(t, tt.args...)
		if code != 1 || out != "" || !strings.HasPrefix(errOut, tt.want) || !strings.HasSuffix(errOut, "nixvm rm half\n") && !strings.HasSuffix(errOut, "nixvm list)\n") {
			t.Errorf("nixvm %q: exit %d, stdout %q, stderr %q; want exit 1 and %q", tt.args, code, out, errOut, tt.want)
		}
	}
}
