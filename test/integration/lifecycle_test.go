package integration

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nixvm/nixvm/internal/qmp"
)

var guestReady = regexp.MustCompile(`nixvm-test-guest: ready`)

type vmInfo struct {
	Name      string `json:"name"`
	State     string `json:"state"`
	PID       int    `json:"pid"`
	SSHPort   int    `json:"sshPort"`
	DiskBytes int64  `json:"diskBytes"`
}

func (e *env) list() []vmInfo {
	e.t.Helper()
	var infos []vmInfo
	if err := json.Unmarshal([]byte(e.ok("list", "--json")), &infos); err != nil {
		e.t.Fatalf("list --json: %v", err)
	}
	return infos
}

func (e *env) status(name string) vmInfo {
	e.t.Helper()
	var info vmInfo
	if err := json.Unmarshal([]byte(e.ok("status", name, "--json")), &info); err != nil {
		e.t.Fatalf("status --json: %v", err)
	}
	return info
}

// TestLifecycle: create → start → running → console line in logs → stop
// (ACPI) → list shows stopped → rm, for both firmwares.
func TestLifecycle(t *testing.T) {
	for _, fw := range []string{"bios", "uefi"} {
		t.Run(fw, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			name := "life-" + fw
			e.ok("create", name, "--manual", "--iso", testISO, "--firmware", fw, "--memory", "512M", "--disk", "2G")
			dir := filepath.Join(e.data, "nixvm", "vms", name)
			assertMode(t, dir, 0o700)
			assertMode(t, filepath.Join(dir, "disk0.qcow2"), 0o600)
			if fw == "uefi" {
				assertMode(t, filepath.Join(dir, "efivars.qcow2"), 0o600)
			}

			dry := e.ok("start", name, "--dry-run")
			if !strings.Contains(dry, "qemu-system-x86_64") || !strings.Contains(dry, testISO) {
				t.Fatalf("dry run does not show the QEMU command with the ISO:\n%s", dry)
			}
			if _, err := os.Stat(filepath.Join(dir, "qemu.pid")); err == nil {
				t.Fatal("--dry-run started QEMU")
			}

			e.ok("start", name)
			if st := e.status(name); st.State != "running" || st.PID == 0 || st.SSHPort == 0 {
				t.Fatalf("status after start = %+v, want running with pid and ssh port", st)
			}
			cmdline, err := os.ReadFile(filepath.Join(dir, "cmdline"))
			if err != nil || !strings.Contains(string(cmdline), "hostfwd=tcp:127.0.0.1:") {
				t.Fatalf("cmdline file missing or forwards not bound to 127.0.0.1: %v\n%s", err, cmdline)
			}
			wantFW := regexp.MustCompile(`nixvm-test-guest: firmware=` + fw)
			e.waitLog(name, guestReady, 4*time.Minute)
			e.waitLog(name, wantFW, 5*time.Second)
			// Every writable drive, UEFI variables included, is qcow2:
			// QEMU can take an internal snapshot of the running VM.
			if out := hmp(t, filepath.Join(dir, "qmp.sock"), "savevm nixvm-test"); strings.TrimSpace(out) != "" {
				t.Fatalf("savevm failed: %s", out)
			}

			out := e.ok("stop", name)
			if !strings.Contains(out, "ACPI") {
				t.Fatalf("stop should end the guest by ACPI power-off, said: %s", out)
			}
			infos := e.list()
			if len(infos) != 1 || infos[0].Name != name || infos[0].State != "stopped" {
				t.Fatalf("list after stop = %+v, want one stopped VM", infos)
			}
			e.ok("rm", name)
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Fatalf("rm left %s behind (%v)", dir, err)
			}
			if infos := e.list(); len(infos) != 0 {
				t.Fatalf("list after rm = %+v, want empty", infos)
			}
		})
	}
}

// TestStartRace: two concurrent starts of one VM run one QEMU; the loser
// says why.
func TestStartRace(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ok("create", "race", "--manual", "--iso", testISO, "--firmware", "bios", "--memory", "256M", "--disk", "1G")
	var wg sync.WaitGroup
	results := make([]result, 2)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = e.run("start", "race")
		}()
	}
	wg.Wait()
	wins, losses := 0, 0
	for _, r := range results {
		switch {
		case r.code == 0:
			wins++
		case strings.Contains(r.err, "busy") || strings.Contains(r.err, "already running"):
			losses++
		default:
			t.Fatalf("a start failed for a wrong reason: exit %d: %s", r.code, r.err)
		}
	}
	if wins != 1 || losses != 1 {
		t.Fatalf("got %d successful and %d refused starts, want 1 and 1: %+v", wins, losses, results)
	}
	if n := countQEMU(t, filepath.Join(e.data, "nixvm", "vms", "race", "qemu.pid")); n != 1 {
		t.Fatalf("%d QEMU processes run the VM, want 1", n)
	}
	e.ok("stop", "--force", "race")
}

// TestKilledQEMU: a QEMU killed with SIGKILL shows as crashed, and start
// works again.
func TestKilledQEMU(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ok("create", "crash", "--manual", "--iso", testISO, "--firmware", "bios", "--memory", "256M", "--disk", "1G")
	e.ok("start", "crash")
	st := e.status("crash")
	if err := syscall.Kill(st.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitState(t, e, "crash", "crashed", 30*time.Second)
	e.ok("start", "crash")
	if st := e.status("crash"); st.State != "running" {
		t.Fatalf("after restarting a crashed VM: state %s, want running", st.State)
	}
	e.ok("stop", "--force", "crash")
	if st := e.status("crash"); st.State != "stopped" {
		t.Fatalf("after stop: state %s, want stopped", st.State)
	}
}

func waitState(t *testing.T, e *env, name, want string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	var st vmInfo
	for time.Now().Before(deadline) {
		if st = e.status(name); st.State == want {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("VM %s stayed %s, want %s", name, st.State, want)
}

// countQEMU counts processes whose command line names pidFile.
func countQEMU(t *testing.T, pidFile string) int {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	n := 0
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		for _, arg := range strings.Split(string(b), "\x00") {
			if arg == pidFile {
				n++
				break
			}
		}
	}
	return n
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Fatalf("%s has mode %o, want %o", path, got, want)
	}
}

// hmp runs a human monitor command over QMP and returns its output (empty
// when it succeeded quietly).
func hmp(t *testing.T, sock, command string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := qmp.Dial(ctx, sock)
	if err != nil {
		t.Fatalf("QMP: %v", err)
	}
	defer c.Close()
	var out string
	if err := c.Execute(ctx, "human-monitor-command", map[string]string{"command-line": command}, &out); err != nil {
		t.Fatalf("QMP %s: %v", command, err)
	}
	return out
}
