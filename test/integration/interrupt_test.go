package integration

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nixvm/nixvm/internal/qmp"
)

// Interruption tests: SIGINT or SIGTERM at each point of stop, start,
// create and rm must leave a state that status reports truthfully (running
// means a live QEMU, stopped means none), nixvm must exit 128+signal with
// one line saying what was undone, and the next command must work. Each
// point is reached by waiting for an event (a line nixvm prints, a file a
// QEMU wrapper writes), never by sleeping.

var signals = []struct {
	name string
	sig  syscall.Signal
	code int
}{
	{"SIGINT", syscall.SIGINT, 130},
	{"SIGTERM", syscall.SIGTERM, 143},
}

// bgRun is a nixvm command running in the background whose output lines
// can be waited for.
type bgRun struct {
	cmd      *exec.Cmd
	mu       sync.Mutex
	out, err bytes.Buffer
	lines    chan string // stdout and stderr lines, as they come
	done     chan struct{}
	code     int
	// errAtSignal is how much stderr there was when the last signal was
	// sent: what nixvm says about the interrupt comes after it.
	errAtSignal int
}

func (e *env) background(args ...string) *bgRun {
	e.t.Helper()
	b := &bgRun{lines: make(chan string, 1024), done: make(chan struct{})}
	b.cmd = exec.Command(nixvmBin, args...)
	b.cmd.Env = e.vars
	stdout, err := b.cmd.StdoutPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	stderr, err := b.cmd.StderrPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	if err := b.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	var wg sync.WaitGroup
	pump := func(r io.Reader, buf *bytes.Buffer) {
		defer wg.Done()
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			b.mu.Lock()
			buf.WriteString(sc.Text() + "\n")
			b.mu.Unlock()
			select {
			case b.lines <- sc.Text():
			default:
			}
		}
	}
	wg.Add(2)
	go pump(stdout, &b.out)
	go pump(stderr, &b.err)
	go func() {
		wg.Wait()
		err := b.cmd.Wait()
		b.code = 0
		if ee, ok := err.(*exec.ExitError); ok {
			b.code = ee.ExitCode()
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				b.code = 128 + int(ws.Signal()) // killed by the signal itself
			}
		} else if err != nil {
			b.code = -1
		}
		close(b.done)
	}()
	e.t.Cleanup(func() {
		select {
		case <-b.done:
		default:
			b.cmd.Process.Kill()
			<-b.done
		}
	})
	return b
}

// waitLine waits for an output line matching re.
func (b *bgRun) waitLine(t *testing.T, re *regexp.Regexp, within time.Duration) string {
	t.Helper()
	timer := time.NewTimer(within)
	defer timer.Stop()
	for {
		select {
		case l := <-b.lines:
			if re.MatchString(l) {
				return l
			}
		case <-b.done:
			// Drain what came before the exit.
			for {
				select {
				case l := <-b.lines:
					if re.MatchString(l) {
						return l
					}
				default:
					t.Fatalf("nixvm %s exited (code %d) without printing %q\nstdout: %s\nstderr: %s", strings.Join(b.cmd.Args[1:], " "), b.code, re, b.stdout(), b.stderr())
				}
			}
		case <-timer.C:
			t.Fatalf("nixvm %s did not print %q within %s\nstdout: %s\nstderr: %s", strings.Join(b.cmd.Args[1:], " "), re, within, b.stdout(), b.stderr())
		}
	}
}

func (b *bgRun) stdout() string { b.mu.Lock(); defer b.mu.Unlock(); return b.out.String() }
func (b *bgRun) stderr() string { b.mu.Lock(); defer b.mu.Unlock(); return b.err.String() }

func (b *bgRun) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	b.mu.Lock()
	b.errAtSignal = b.err.Len()
	b.mu.Unlock()
	if err := b.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal nixvm: %v", err)
	}
}

// wait waits for the command to exit and returns its exit code.
func (b *bgRun) wait(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-b.done:
		return b.code
	case <-time.After(within):
		t.Fatalf("nixvm %s did not exit within %s\nstdout: %s\nstderr: %s", strings.Join(b.cmd.Args[1:], " "), within, b.stdout(), b.stderr())
		return -1
	}
}

// assertInterrupted checks the exit code and that, after the signal, nixvm
// printed exactly one line about the interrupt, last, matching want
// (progress lines of the undo may come before it; an error that spans
// lines would leave its tail last).
func assertInterrupted(t *testing.T, b *bgRun, code, wantCode int, want *regexp.Regexp) {
	t.Helper()
	b.mu.Lock()
	all := b.err.String()
	after := strings.TrimSpace(all[min(b.errAtSignal, len(all)):])
	b.mu.Unlock()
	if code != wantCode {
		t.Errorf("nixvm exited %d after the signal, want %d; stderr: %s", code, wantCode, all)
	}
	lines := strings.Split(after, "\n")
	said := 0
	for _, l := range lines {
		if strings.Contains(l, "interrupted") {
			said++
		}
	}
	if last := lines[len(lines)-1]; said != 1 || !strings.HasPrefix(last, "nixvm: ") || !want.MatchString(last) {
		t.Errorf("after the signal nixvm should print one line saying what was undone (%q), last; it printed %d lines about the interrupt:\n%s", want, said, after)
	}
}

func (e *env) vmDir(name string) string { return filepath.Join(e.data, "nixvm", "vms", name) }

// assertTruthful checks that status agrees with the process table: running
// (with its PID) exactly when a QEMU of the VM lives.
func assertTruthful(t *testing.T, e *env, name string) vmInfo {
	t.Helper()
	st := e.status(name)
	pidFile := filepath.Join(e.vmDir(name), "qemu.pid")
	n := countVMQEMU(t, pidFile)
	// QEMU daemonizes by forking twice: for a moment the foreground QEMU
	// and the daemon (already reparented) both run. Two that stay for
	// 10 s are two QEMUs; two that become one were one starting.
	for deadline := time.Now().Add(10 * time.Second); n > 1 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		n = countVMQEMU(t, pidFile)
		st = e.status(name)
	}
	switch {
	case n > 1:
		t.Fatalf("%d QEMU processes run VM %s", n, name)
	case n == 1 && st.State != "running" && st.State != "installing":
		t.Fatalf("a QEMU of VM %s lives, but status says %s", name, st.State)
	case n == 0 && (st.State == "running" || st.State == "installing"):
		t.Fatalf("no QEMU of VM %s lives, but status says %s (pid %d)", name, st.State, st.PID)
	}
	return st
}

// pauseGuest stops the guest's CPUs over QMP, so that it can never answer
// the ACPI power button: stop then waits for its whole timeout.
func pauseGuest(t *testing.T, e *env, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := qmp.Dial(ctx, filepath.Join(e.vmDir(name), "qmp.sock"))
	if err != nil {
		t.Fatalf("QMP: %v", err)
	}
	defer c.Close()
	if err := c.Execute(ctx, "stop", nil, nil); err != nil {
		t.Fatalf("QMP stop: %v", err)
	}
}

// TestStopInterrupted: a signal while stop waits for the ACPI power-off
// leaves QEMU running and its pidfile in place; status says running; a
// second stop stops it.
func TestStopInterrupted(t *testing.T) {
	for _, s := range signals {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			name := "stopint"
			e.ok("create", name, "--manual", "--iso", testISO, "--firmware", "bios", "--memory", "256M", "--disk", "1G")
			e.ok("start", name)
			before := e.status(name)
			pauseGuest(t, e, name)

			b := e.background("stop", name, "--timeout", "10m")
			b.waitLine(t, regexp.MustCompile(`asked .* to power off`), time.Minute)
			b.signal(t, s.sig)
			code := b.wait(t, time.Minute)
			assertInterrupted(t, b, code, s.code, regexp.MustCompile(`interrupted.*still running.*; nixvm stop --force `+name+` quits it at once$`))

			st := assertTruthful(t, e, name)
			if st.State != "running" || st.PID != before.PID {
				t.Fatalf("after an interrupted stop: %+v, want running with pid %d", st, before.PID)
			}
			if _, err := os.Stat(filepath.Join(e.vmDir(name), "qemu.pid")); err != nil {
				t.Fatalf("the pidfile of a live QEMU is gone: %v", err)
			}
			if r := e.run("start", name); r.code == 0 || !strings.Contains(r.err, "already running") {
				t.Fatalf("start of the still running VM: exit %d: %s", r.code, r.err)
			}
			e.ok("stop", "--force", name)
			if st := assertTruthful(t, e, name); st.State != "stopped" {
				t.Fatalf("after stop --force: %s, want stopped", st.State)
			}
		})
	}
}

// qemuWrapper puts a qemu-system-x86_64 first on PATH that runs the real
// one and then runs hook (a shell snippet; $pidfile is QEMU's pidfile and
// $dir the instance directory) once QEMU has daemonized.
func qemuWrapper(t *testing.T, e *env, hook string) {
	t.Helper()
	real, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	script := `#!/bin/sh
pidfile=
prev=
for a in "$@"; do
  [ "$prev" = -pidfile ] && pidfile=$a
  prev=$a
done
[ -z "$pidfile" ] && exec ` + real + ` "$@"
` + real + ` "$@" || exit $?
dir=$(dirname "$pidfile")
` + hook + `
exit 0
`
	if err := os.WriteFile(filepath.Join(bin, "qemu-system-x86_64"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	e.setPath(bin + ":" + os.Getenv("PATH"))
}

// waitFile waits for path to exist.
func waitFile(t *testing.T, path string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear within %s", path, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestStartInterrupted: a signal while start waits for QMP (QEMU runs but
// its monitor does not answer: the process is SIGSTOPped) kills and reaps
// that QEMU: status says stopped, no QEMU is left, and start works again.
func TestStartInterrupted(t *testing.T) {
	for _, s := range signals {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			name := "startint"
			e.ok("create", name, "--manual", "--iso", testISO, "--firmware", "bios", "--memory", "256M", "--disk", "1G")
			marker := filepath.Join(t.TempDir(), "frozen")
			path := os.Getenv("PATH")
			qemuWrapper(t, e, `kill -STOP "$(cat "$pidfile")" && touch `+marker)

			b := e.background("start", name)
			waitFile(t, marker, time.Minute)
			b.signal(t, s.sig)
			code := b.wait(t, time.Minute)
			assertInterrupted(t, b, code, s.code, regexp.MustCompile(`interrupted.*(QEMU|stopped)`))
			if st := assertTruthful(t, e, name); st.State != "stopped" {
				t.Fatalf("after an interrupted start: %s, want stopped", st.State)
			}
			e.setPath(path)
			e.ok("start", name)
			if st := assertTruthful(t, e, name); st.State != "running" {
				t.Fatalf("start after an interrupted start: %s, want running", st.State)
			}
			e.ok("stop", "--force", name)
		})
	}
}

// TestStartFailsAfterDaemonize: when start fails after QEMU daemonized
// (here: state.json cannot be written), the QEMU it started is killed and
// reaped, not left running unlocked.
func TestStartFailsAfterDaemonize(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := "startfail"
	e.ok("create", name, "--manual", "--iso", testISO, "--firmware", "bios", "--memory", "256M", "--disk", "1G")
	path := os.Getenv("PATH")
	qemuWrapper(t, e, `rm -f "$dir/state.json" && mkdir -p "$dir/state.json/x"`)
	r := e.run("start", name)
	if r.code == 0 {
		t.Fatalf("start succeeded although state.json could not be written: %s", r.out)
	}
	if !strings.Contains(r.err, "state.json") {
		t.Errorf("the error should name state.json: %s", r.err)
	}
	if n := countQEMU(t, filepath.Join(e.vmDir(name), "qemu.pid")); n != 0 {
		t.Fatalf("a failed start left %d QEMU processes running", n)
	}
	assertTruthful(t, e, name)
	e.setPath(path)
	e.ok("rm", name)
}

// TestCreateHoldsLock: while create installs, every other command that
// changes the VM fails at once naming create; a signal then stops the
// installer, keeps the VM as failed (no QEMU), exits 128+signal, and rm
// works.
func TestCreateHoldsLock(t *testing.T) {
	for _, s := range signals {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			// A name per signal: the parallel cases must not count each
			// other's QEMU.
			name := "lockcreate-" + strings.ToLower(s.name)
			// The test ISO boots but never shows the installer's prompt:
			// create waits in booting-installer.
			b := e.background("create", name, "--iso", testISO, "--firmware", "bios", "--memory", "2G", "--disk", "8G", "--json")
			b.waitLine(t, regexp.MustCompile(`"phase":"booting-installer"`), 2*time.Minute)
			waitState(t, e, name, "installing", time.Minute)
			for _, args := range [][]string{{"stop", "--force", name}, {"start", name}, {"rm", "--force", name}} {
				t0 := time.Now()
				r := e.run(args...)
				if r.code == 0 {
					t.Fatalf("nixvm %s succeeded during create's install", strings.Join(args, " "))
				}
				if !strings.Contains(r.err, "create") || !strings.Contains(r.err, "busy") {
					t.Errorf("nixvm %s: error should say the VM is busy with create: %s", strings.Join(args, " "), r.err)
				}
				if d := time.Since(t0); d > 20*time.Second {
					t.Errorf("nixvm %s took %s to refuse, want at once", strings.Join(args, " "), d)
				}
			}
			assertTruthful(t, e, name)
			b.signal(t, s.sig)
			code := b.wait(t, 2*time.Minute)
			assertInterrupted(t, b, code, s.code, regexp.MustCompile(`interrupted in phase booting-installer.* \(nixvm create `+name+` starts over, nixvm rm `+name+` removes it\)$`))
			if st := assertTruthful(t, e, name); st.State != "failed" {
				t.Fatalf("after an interrupted create: %s, want failed", st.State)
			}
			e.ok("rm", name)
			assertNoVMs(t, e)
		})
	}
}

// TestRmInterrupted: a signal at any moment of rm --force of a running VM
// leaves either no VM and no QEMU, or a VM whose status is truthful and that
// rm removes.
func TestRmInterrupted(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := "rmint"
	e.ok("create", name, "--manual", "--iso", testISO, "--firmware", "bios", "--memory", "256M", "--disk", "1G")
	pidFile := filepath.Join(e.vmDir(name), "qemu.pid")
	for i, stage := range []*regexp.Regexp{regexp.MustCompile(`stopping`), regexp.MustCompile(`removing`)} {
		for _, s := range signals {
			t.Run(strconv.Itoa(i)+"-"+s.name, func(t *testing.T) {
				if _, err := os.Stat(e.vmDir(name)); err != nil {
					e.ok("create", name, "--manual", "--iso", testISO, "--firmware", "bios", "--memory", "256M", "--disk", "1G")
				}
				e.ok("start", name)
				b := e.background("rm", "--force", name)
				b.waitLine(t, stage, time.Minute)
				b.signal(t, s.sig)
				code := b.wait(t, time.Minute)
				t.Logf("rm exited %d: %s", code, strings.TrimSpace(b.stderr()))
				// A signal after the point of no return (the directory renamed
				// away) lets rm finish: exit 0 and no VM.
				if code != 0 {
					assertInterrupted(t, b, code, s.code, regexp.MustCompile(`interrupted`))
				}
				if _, err := os.Stat(e.vmDir(name)); err == nil {
					if code == 0 {
						t.Fatalf("rm exited 0 but VM %s is still there", name)
					}
					assertTruthful(t, e, name)
					e.ok("rm", "--force", name)
				}
				if n := countQEMU(t, pidFile); n != 0 {
					t.Fatalf("%d QEMU left after an interrupted rm", n)
				}
				assertNoVMs(t, e)
			})
		}
	}
}

// TestStartInterruptedWhileQEMUSetsUp: a signal while the foreground QEMU
// is still setting up (the wrapper holds it before exec until the test lets
// it go, after the signal): the daemon it becomes is killed, status says
// stopped, and start works again.
func TestStartInterruptedWhileQEMUSetsUp(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := "setupint"
	e.ok("create", name, "--manual", "--iso", testISO, "--firmware", "bios", "--memory", "256M", "--disk", "1G")
	dir := t.TempDir()
	holding, release := filepath.Join(dir, "holding"), filepath.Join(dir, "release")
	real, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	script := "#!/bin/sh\ncase \"$*\" in *-daemonize*) touch " + holding + "; while [ ! -e " + release + " ]; do sleep 0.05; done;; esac\nexec " + real + " \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "qemu-system-x86_64"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	path := os.Getenv("PATH")
	e.setPath(bin + ":" + path)
	b := e.background("start", name)
	waitFile(t, holding, time.Minute)
	b.signal(t, syscall.SIGINT)
	if err := os.WriteFile(release, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	code := b.wait(t, time.Minute)
	assertInterrupted(t, b, code, 130, regexp.MustCompile(`interrupted.*stopped`))
	if st := assertTruthful(t, e, name); st.State != "stopped" {
		t.Fatalf("after an interrupt during QEMU's set-up: %s, want stopped", st.State)
	}
	e.setPath(path)
	e.ok("start", name)
	e.ok("stop", "--force", name)
}

// TestPidfileDeletedUnderQEMU: a QEMU whose pidfile was deleted (by hand,
// or by an older nixvm's interrupted stop) still reads as running, rm
// refuses to delete its directory, and stop stops it.
func TestPidfileDeletedUnderQEMU(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := "nopid"
	e.ok("create", name, "--manual", "--iso", testISO, "--firmware", "bios", "--memory", "256M", "--disk", "1G")
	e.ok("start", name)
	before := e.status(name)
	if err := os.Remove(filepath.Join(e.vmDir(name), "qemu.pid")); err != nil {
		t.Fatal(err)
	}
	if st := assertTruthful(t, e, name); st.State != "running" || st.PID != before.PID {
		t.Fatalf("status without the pidfile: %+v, want running with pid %d", st, before.PID)
	}
	if r := e.run("rm", name); r.code == 0 {
		t.Fatal("rm deleted the directory of a live QEMU")
	}
	e.ok("stop", "--force", name)
	if st := assertTruthful(t, e, name); st.State != "stopped" {
		t.Fatalf("after stop: %s", st.State)
	}
}

// countVMQEMU counts the QEMUs of a VM: processes whose command line names
// pidFile, except a daemon whose parent is one of them (while QEMU
// daemonizes, the foreground process and its child coexist briefly).
func countVMQEMU(t *testing.T, pidFile string) int {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	pids := map[int]int{} // pid -> ppid
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		for _, arg := range strings.Split(string(b), "\x00") {
			if arg == pidFile {
				dir := filepath.Dir(p)
				pid, _ := strconv.Atoi(filepath.Base(dir))
				pids[pid] = ppid(dir)
				break
			}
		}
	}
	n := 0
	for _, parent := range pids {
		if _, ok := pids[parent]; !ok {
			n++
		}
	}
	return n
}

func ppid(procDir string) int {
	b, err := os.ReadFile(filepath.Join(procDir, "status"))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "PPid:"); ok {
			p, _ := strconv.Atoi(strings.TrimSpace(v))
			return p
		}
	}
	return 0
}
