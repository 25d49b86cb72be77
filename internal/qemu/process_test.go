package qemu

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nixvm/nixvm/internal/spec"
	"github.com/nixvm/nixvm/internal/store"
)

// need returns the path of tool, or skips the test when it is missing
// (fails instead when NIXVM_REQUIRE_INTEGRATION=1).
func need(t *testing.T, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		if os.Getenv("NIXVM_REQUIRE_INTEGRATION") == "1" {
			t.Fatalf("%s not found and NIXVM_REQUIRE_INTEGRATION=1: %v", tool, err)
		}
		t.Skipf("%s not found (install QEMU to run this test): %v", tool, err)
	}
	return p
}

func needFile(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("NIXVM_REQUIRE_INTEGRATION") == "1" {
			t.Fatalf("%s missing and NIXVM_REQUIRE_INTEGRATION=1: %v", path, err)
		}
		t.Skipf("%s missing (install the firmware package to run this test): %v", path, err)
	}
}

func TestReadPID(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		content string // "" = file missing
		want    int
		wantErr bool
	}{
		{"", 0, true},
		{"1234\n", 1234, false},
		{"  42  ", 42, false},
		{"abc\n", 0, true},
		{"0\n", 0, true},
		{"-5\n", 0, true},
		{"\n", 0, true},
	}
	for i, tt := range tests {
		f := filepath.Join(dir, "pid"+string(rune('a'+i)))
		if tt.content != "" {
			if err := os.WriteFile(f, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		got, err := ReadPID(f)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ReadPID(%q) = %d, %v; want %d, error %v", tt.content, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestStartRefusesForegroundArgv(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "qemu.pid")
	for _, argv := range [][]string{
		nil,
		{"/bin/true"},
		{"/bin/true", "-daemonize"},
		{"/bin/true", "-pidfile", pidFile},
		{"/bin/true", "-daemonize", "-pidfile", "/elsewhere/qemu.pid"},
	} {
		if _, err := Start(context.Background(), argv, pidFile, filepath.Join(dir, "qemu.log")); err == nil {
			t.Errorf("Start(%q) succeeded, want an error", argv)
		}
	}
}

func TestAliveKillWaitExit(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "qemu.pid")
	// A shell loop stands in for QEMU: its argv carries "-pidfile <path>"
	// into /proc/PID/cmdline the way QEMU's does.
	cmd := exec.Command("sh", "-c", `while :; do sleep 1; done`, "sh", "-pidfile", pidFile)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	pid := cmd.Process.Pid

	if runtime.GOOS == "linux" {
		// Start returns when the child's exec has released the parent's
		// memory (vfork), which is before the kernel sets up the new
		// argv: until then /proc/PID/cmdline reads empty. Wait for it.
		waitCmdline(t, pid)
		if !Alive(pid, pidFile) {
			t.Fatalf("Alive(%d, %s) = false for a running process with the pidfile in its argv", pid, pidFile)
		}
		if Alive(pid, pidFile+".other") {
			t.Errorf("Alive with another instance's pidfile = true, want false (PID reuse check)")
		}
		if Alive(os.Getpid(), pidFile) {
			t.Errorf("Alive(test process) = true, want false")
		}
	}
	for _, bad := range []int{0, -1} {
		if Alive(bad, pidFile) {
			t.Errorf("Alive(%d) = true", bad)
		}
		if Kill(bad) == nil {
			t.Errorf("Kill(%d) = nil, want an error", bad)
		}
	}

	// WaitExit must give up when its context ends.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := WaitExit(ctx, pid); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitExit on a live process = %v, want DeadlineExceeded", err)
	}

	if err := Kill(pid); err != nil {
		t.Fatal(err)
	}
	// The killed child stays a zombie (nobody reaps it yet): WaitExit
	// must still see it as gone.
	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := WaitExit(ctx, pid); err != nil {
		t.Fatalf("WaitExit after Kill: %v", err)
	}
	if Alive(pid, pidFile) {
		t.Errorf("Alive after Kill + WaitExit = true")
	}
	_ = cmd.Wait()
	if err := Kill(pid); err != nil {
		t.Errorf("Kill of a gone process = %v, want nil", err)
	}
	if err := WaitExit(context.Background(), pid); err != nil {
		t.Errorf("WaitExit of a gone process = %v, want nil", err)
	}
}

// vmFixture is a minimal VM (no OS) in a short temporary directory.
type vmFixture struct {
	p   Params
	log string
}

func newVM(t *testing.T, arch, firmware string) vmFixture {
	t.Helper()
	bin := need(t, "qemu-system-"+arch)
	img := need(t, "qemu-img")
	// t.TempDir() under /tmp keeps socket paths far below the 107-byte limit.
	in := store.Instance{Name: "itest", Dir: t.TempDir()}
	if out, err := exec.Command(img, "create", "-q", "-f", "qcow2", in.Disk(0), "64M").CombinedOutput(); err != nil {
		t.Fatalf("qemu-img create: %v: %s", err, out)
	}
	p := Params{
		Spec: spec.Spec{
			Name: "itest", Arch: arch, CPUs: 1, Memory: 256 * spec.MiB,
			Disks: []spec.Disk{{Size: 64 * spec.MiB}}, Firmware: firmware,
		},
		Instance:  in,
		Binary:    bin,
		Accel:     "tcg",
		SSHPort:   freePort(t),
		Display:   "none",
		Daemonize: true,
	}
	if firmware == "uefi" {
		code, vars := "/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd"
		if arch == "aarch64" {
			code, vars = "/usr/share/AAVMF/AAVMF_CODE.fd", "/usr/share/AAVMF/AAVMF_VARS.fd"
		}
		needFile(t, code)
		needFile(t, vars)
		b, err := os.ReadFile(vars)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(in.EFIVars(), b, 0o600); err != nil {
			t.Fatal(err)
		}
		p.UEFICode = code
	}
	return vmFixture{p: p, log: in.QEMULog()}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// run starts the VM and registers a cleanup that kills it.
func (v vmFixture) run(t *testing.T) int {
	t.Helper()
	argv, err := Command(v.p)
	if err != nil {
		t.Fatalf("Command: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pid, err := Start(ctx, argv, v.p.Instance.PIDFile(), v.log)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = Kill(pid) })
	return pid
}

func TestStartRealQEMU(t *testing.T) {
	tests := []struct {
		name, arch, firmware, display string
		cpus                          int
		iso                           bool
	}{
		{"x86_64 bios headless", "x86_64", "bios", "none", 1, false},
		{"x86_64 bios vnc with iso", "x86_64", "bios", "vnc", 2, true},
		{"x86_64 uefi vnc with iso", "x86_64", "uefi", "vnc", 2, true},
		{"aarch64 uefi headless", "aarch64", "uefi", "none", 1, false},
		{"aarch64 uefi vnc with iso", "aarch64", "uefi", "vnc", 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVM(t, tt.arch, tt.firmware)
			v.p.Display = tt.display
			v.p.Spec.CPUs = tt.cpus
			if tt.iso {
				// QEMU does not look inside a CD image before the guest does.
				v.p.ISO = filepath.Join(v.p.Instance.Dir, "fake.iso")
				if err := os.WriteFile(v.p.ISO, make([]byte, 1<<20), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			in := v.p.Instance
			pid := v.run(t)

			if !Alive(pid, in.PIDFile()) {
				t.Fatalf("Alive(%d) = false right after Start", pid)
			}
			if got, err := ReadPID(in.PIDFile()); err != nil || got != pid {
				t.Errorf("ReadPID = %d, %v; want %d", got, err, pid)
			}
			for _, f := range []string{in.SerialLog(), in.QMPSocket(), in.SerialSocket()} {
				if _, err := os.Stat(f); err != nil {
					t.Errorf("after Start: %v", err)
				}
			}
			if tt.display == "vnc" {
				if fi, err := os.Stat(VNCSocket(in)); err != nil || fi.Mode()&os.ModeSocket == 0 {
					t.Errorf("VNC socket: %v", err)
				}
			}
			if fi, err := os.Stat(in.QMPSocket()); err == nil && fi.Mode()&os.ModeSocket == 0 {
				t.Errorf("%s is not a socket: %v", in.QMPSocket(), fi.Mode())
			}
			log, err := os.ReadFile(v.log)
			if err != nil || !strings.Contains(string(log), "nixvm starting: ") {
				t.Errorf("qemu.log lacks the header line: %q, %v", log, err)
			}

			if err := Kill(pid); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := WaitExit(ctx, pid); err != nil {
				t.Fatal(err)
			}
			if Alive(pid, in.PIDFile()) {
				t.Errorf("Alive after Kill + WaitExit")
			}
		})
	}
}

// TestStartRealQEMUKernelAppend boots a real kernel directly and checks that
// the guest sees Append exactly, spaces and quotes included.
func TestStartRealQEMUKernelAppend(t *testing.T) {
	// NIXVM_TEST_KERNEL (set by scripts/test from the test-ISO cache)
	// names a kernel when the host has none installed.
	kernels, _ := filepath.Glob("/boot/vmlinuz-*")
	if k := os.Getenv("NIXVM_TEST_KERNEL"); k != "" {
		kernels = []string{k}
	}
	if len(kernels) == 0 {
		needFile(t, "/boot/vmlinuz-* or $NIXVM_TEST_KERNEL")
	}
	if _, err := os.Open(kernels[0]); err != nil {
		t.Skipf("kernel not readable: %v", err)
	}
	v := newVM(t, "x86_64", "bios")
	v.p.Kernel = kernels[0]
	marker := `nixvm.test="it's a \"quoted\" value"`
	v.p.Append = "console=ttyS0,115200n8 panic=-1 " + marker
	in := v.p.Instance
	pid := v.run(t)

	deadline := time.Now().Add(3 * time.Minute)
	for {
		b, _ := os.ReadFile(in.SerialLog())
		if strings.Contains(string(b), "Command line: "+v.p.Append) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("serial.log has no %q after 3m; it has:\n%s", "Command line: "+v.p.Append, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := Kill(pid); err != nil {
		t.Fatal(err)
	}
}

func TestStartRealQEMUError(t *testing.T) {
	v := newVM(t, "x86_64", "bios")
	in := v.p.Instance
	if err := os.Remove(in.Disk(0)); err != nil {
		t.Fatal(err)
	}
	argv, err := Command(v.p)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pid, err := Start(ctx, argv, in.PIDFile(), v.log)
	if err == nil {
		_ = Kill(pid)
		t.Fatalf("Start with a missing disk succeeded (pid %d)", pid)
	}
	// QEMU's own message: "qemu-system-x86_64: -blockdev driver=file,...: Could not open '...disk0.qcow2': No such file or directory".
	for _, want := range []string{filepath.Base(argv[0]) + ": -blockdev", "Could not open", in.Disk(0), v.log} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error is not one line: %q", err)
	}
}

func TestStartCancelled(t *testing.T) {
	v := newVM(t, "x86_64", "bios")
	argv, err := Command(v.p)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Start(ctx, argv, v.p.Instance.PIDFile(), v.log); !errors.Is(err, context.Canceled) {
		t.Fatalf("Start with a cancelled context = %v, want context.Canceled", err)
	}
}

// waitCmdline waits until /proc/PID/cmdline is set up after an exec.
func waitCmdline(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		if err == nil && len(b) > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d: no command line 10 s after exec (%v)", pid, err)
		}
		time.Sleep(time.Millisecond)
	}
}
