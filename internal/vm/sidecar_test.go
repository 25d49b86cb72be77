package vm

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nixvm/nixvm/internal/host"
	"github.com/nixvm/nixvm/internal/qemu"
	"github.com/nixvm/nixvm/internal/spec"
	"github.com/nixvm/nixvm/internal/store"
)

// Sidecars live and die with the VM: started before a real QEMU, stopped
// after it, and never left behind by a start that fails.

func needQEMU(t *testing.T) *host.Facts {
	t.Helper()
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		if os.Getenv("NIXVM_REQUIRE_INTEGRATION") == "1" {
			t.Fatal("qemu-system-x86_64 not installed")
		}
		t.Skip("qemu-system-x86_64 not installed")
	}
	facts, err := host.Find(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return facts
}

func newVM(t *testing.T, facts *host.Facts) *store.Lock {
	t.Helper()
	return newVMWith(t, facts, "sc", "bios")
}

// newVMWith is newVM with the VM's name and firmware.
func newVMWith(t *testing.T, facts *host.Facts, name, firmware string) *store.Lock {
	t.Helper()
	return newVMSpec(t, facts, &spec.Spec{Name: name, Firmware: firmware})
}

// newVMSpec is newVM from s (defaults applied, memory made small).
func newVMSpec(t *testing.T, facts *host.Facts, s *spec.Spec) *store.Lock {
	t.Helper()
	root, err := os.MkdirTemp("", "nv"+s.Name) // short: socket paths
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	t.Setenv("XDG_DATA_HOME", filepath.Join(root, "d"))
	t.Setenv("XDG_RUNTIME_DIR", filepath.Join(root, "r"))
	s.ApplyDefaults()
	s.Memory = spec.Size(256 << 20)
	lock, err := Create(t.Context(), facts, s, CreateOptions{Manual: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		Stop(context.Background(), lock, StopOptions{Force: true})
		lock.Unlock()
	})
	return lock
}

// sleeper is a sidecar that creates its ready file and then waits.
func sleeper(dir, name string) qemu.Sidecar {
	ready := filepath.Join(dir, name+".ready")
	return qemu.Sidecar{Name: name, Argv: []string{"sh", "-c", "touch " + ready + " && exec sleep 600"}, Ready: ready}
}

func TestSidecarsLiveAndDieWithTheVM(t *testing.T) {
	facts := needQEMU(t)
	lock := newVM(t, facts)
	in := lock.Instance()
	sc := sleeper(t.TempDir(), "proxy")
	started, err := Start(t.Context(), facts, lock, StartOptions{Sidecars: []qemu.Sidecar{sc}})
	if err != nil {
		t.Fatal(err)
	}
	pid := qemu.SidecarPID(in.SidecarPID("proxy"))
	if pid == 0 || started.PID == 0 {
		t.Fatalf("sidecar pid %d, QEMU pid %d: want both running", pid, started.PID)
	}
	how, err := Stop(t.Context(), lock, StopOptions{Force: true})
	if err != nil || how != StoppedQuit {
		t.Fatalf("stop: %s, %v", how, err)
	}
	if qemu.SidecarPID(in.SidecarPID("proxy")) != 0 || alive(pid) {
		t.Fatalf("the sidecar (pid %d) outlived its VM", pid)
	}
	if _, err := os.Stat(in.SidecarPID("proxy")); !os.IsNotExist(err) {
		t.Errorf("sidecar pidfile left: %v", err)
	}
}

func TestFailedStartStopsSidecars(t *testing.T) {
	facts := needQEMU(t)
	lock := newVM(t, facts)
	in := lock.Instance()
	dir := t.TempDir()
	good := sleeper(dir, "good")
	// The second never gets ready: the start fails and must stop the first.
	bad := qemu.Sidecar{Name: "bad", Argv: []string{"sh", "-c", "echo cannot bind >&2; exit 3"}, Ready: filepath.Join(dir, "bad.ready")}
	_, err := Start(t.Context(), facts, lock, StartOptions{Sidecars: []qemu.Sidecar{good, bad}})
	if err == nil || !strings.Contains(err.Error(), "sidecar bad") {
		t.Fatalf("start with a failing sidecar: %v", err)
	}
	for _, pf := range []string{in.SidecarPID("good"), in.SidecarPID("bad")} {
		if _, err := os.Stat(pf); !os.IsNotExist(err) {
			t.Errorf("%s left after a failed start", pf)
		}
	}
	if b, _ := os.ReadFile(in.SidecarLog("bad")); !strings.Contains(string(b), "cannot bind") {
		t.Errorf("the sidecar's log lacks its output: %q", b)
	}
	if info := Status(in); info.State != StateStopped {
		t.Errorf("state after the failed start = %s, want stopped", info.State)
	}
}

func alive(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i > 0 && i+2 < len(b) && b[i+2] != 'Z'
}
