package installer

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nixvm/nixvm/internal/install"
	"github.com/nixvm/nixvm/internal/iso"
	"github.com/nixvm/nixvm/internal/spec"
	"github.com/nixvm/nixvm/internal/store"
	"github.com/nixvm/nixvm/internal/vm"
)

// The driver over a fake machine: a serial console played by a goroutine
// (prompt, then what the install script would print), no QEMU. These tests
// check what the driver makes of the console: phases, typed errors, the
// cleanup on failure and interrupt, and the state it leaves.

// fakeGuest plays the installer on the console: it prints the prompt,
// reads the one line nixvm types, then prints lines.
type fakeGuest struct {
	prompt bool     // print the auto-login prompt
	lines  []string // printed after the typed line
}

type fakeMachine struct {
	t     *testing.T
	guest fakeGuest

	mu      sync.Mutex
	typed   []string // lines typed on the console
	starts  []vm.StartOptions
	stops   int
	stopErr error
	// hangExit makes WaitExit wait for its context (an installer that does
	// not power off).
	hangExit bool
	sshErr   error
}

func (f *fakeMachine) Installer(ctx context.Context) (*vm.Installer, error) {
	return &vm.Installer{ISO: "/images/nixos.iso", Info: &iso.Info{Label: "nixos-minimal-25.11-x86_64", Release: "25.11", Arch: "x86_64"},
		Boot: vm.DirectBoot{Kernel: "/boot/bzImage", Initrd: "/boot/initrd", Append: "console=ttyS0"}}, nil
}

func (f *fakeMachine) Start(ctx context.Context, opts vm.StartOptions) (vm.Started, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.starts = append(f.starts, opts)
	return vm.Started{PID: 4242, SSHPort: 2222}, nil
}

func (f *fakeMachine) Console(ctx context.Context) (net.Conn, error) {
	ours, theirs := net.Pipe()
	go func() {
		defer theirs.Close()
		if f.guest.prompt {
			if _, err := theirs.Write([]byte("\r\n<<< Welcome >>>\r\n[nixos@nixos:~]$ ")); err != nil {
				return
			}
			line, err := bufio.NewReader(theirs).ReadString('\n')
			if err != nil {
				return
			}
			f.mu.Lock()
			f.typed = append(f.typed, strings.TrimRight(line, "\r\n"))
			f.mu.Unlock()
			// The tty echoes what was typed.
			if _, err := theirs.Write([]byte(strings.TrimRight(line, "\r\n") + "\r\n")); err != nil {
				return
			}
		}
		for _, l := range f.guest.lines {
			if _, err := theirs.Write([]byte(l + "\r\n")); err != nil {
				return
			}
		}
		// Stay connected, like a console, until the driver hangs up.
		buf := make([]byte, 256)
		for {
			if _, err := theirs.Read(buf); err != nil {
				return
			}
		}
	}()
	return ours, nil
}

func (f *fakeMachine) WaitExit(ctx context.Context) error {
	if f.hangExit {
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

func (f *fakeMachine) Stop(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stops++
	return f.stopErr
}

func (f *fakeMachine) WaitSSH(ctx context.Context, port int, user, keyPath string, hostPub []byte) error {
	return f.sshErr
}

// events records the driver's events and can act on one.
type events struct {
	mu      sync.Mutex
	list    []Event
	onEnter func(phase string)
}

func (e *events) Report(ev Event) {
	e.mu.Lock()
	e.list = append(e.list, ev)
	hook := e.onEnter
	e.mu.Unlock()
	if hook != nil && ev.Kind == KindPhase {
		hook(ev.Phase)
	}
}

func (e *events) phases() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, ev := range e.list {
		if ev.Kind == KindPhase {
			out = append(out, ev.Phase)
		}
	}
	return out
}

func newTestVM(t *testing.T) (*store.Lock, *spec.Spec) {
	t.Helper()
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	in := store.Instance{Name: "drv", Dir: t.TempDir()}
	lock, err := in.TryLock("create")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lock.Unlock() })
	s := &spec.Spec{Name: "drv"}
	s.ApplyDefaults()
	if err := lock.WriteState(store.State{Phase: store.PhaseInstalling}); err != nil {
		t.Fatal(err)
	}
	return lock, s
}

var scriptOK = []string{
	install.MarkerPhase + " partitioning", "Creating new GPT entries.", install.MarkerPhase + " formatting",
	install.MarkerPhase + " configuring", install.MarkerPhase + " installing", "installation finished!", install.MarkerPhase + " done",
}

func TestDriverInstalls(t *testing.T) {
	lock, s := newTestVM(t)
	m := &fakeMachine{t: t, guest: fakeGuest{prompt: true, lines: scriptOK}}
	ev := &events{}
	res, err := runWith(t.Context(), lock, s, Options{Reporter: ev}, m, 1)
	if err != nil {
		t.Fatal(err)
	}
	if res.SSHPort != 2222 || res.User != "nixos" {
		t.Errorf("result = %+v", res)
	}
	if len(m.typed) != 1 || m.typed[0] != install.BootCommand() {
		t.Errorf("typed %q, want once %q", m.typed, install.BootCommand())
	}
	want := []string{PhaseFetching, PhaseBooting, PhasePartitioning, PhaseFormatting, PhaseConfiguring, PhaseInstalling, PhasePoweroff, PhaseFirstBoot, PhaseReady}
	if got := ev.phases(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("phases %q, want %q", got, want)
	}
	if len(m.starts) != 2 || m.starts[0].Seed == "" || !m.starts[0].Installing || m.starts[1].Seed != "" || m.starts[1].Boot != nil {
		t.Errorf("starts = %+v, want the installer with its seed, then the disk", m.starts)
	}
	st, err := lock.Instance().ReadState()
	if err != nil || st.Phase != store.PhaseReady {
		t.Errorf("state after the install = %+v, %v; want ready", st, err)
	}
	if m.stops != 0 {
		t.Errorf("a successful install stopped the VM %d times", m.stops)
	}
}

func TestDriverFailures(t *testing.T) {
	errStop := errors.New("QEMU would not die")
	tests := []struct {
		name      string
		guest     fakeGuest
		hangExit  bool
		stopErr   error
		sshErr    error
		deadlines map[string]time.Duration
		phase     string   // the phase the failure is reported in
		wantMsg   []string // in the error
		wantIs    error
	}{
		{
			name:    "script fails",
			guest:   fakeGuest{prompt: true, lines: []string{install.MarkerPhase + " partitioning", install.MarkerPhase + " formatting", "mkfs.ext4: no such device", install.MarkerFailed + " phase=formatting rc=1 cmd=mkfs.ext4 -L nixos /dev/vda2"}},
			phase:   PhaseFormatting,
			wantMsg: []string{"install failed in phase formatting", "cmd=mkfs.ext4", "last console lines", "mkfs.ext4: no such device"},
		},
		{
			name:      "no prompt",
			guest:     fakeGuest{lines: []string{"Booting the kernel.", "[    3.1] panic"}},
			deadlines: map[string]time.Duration{PhaseBooting: 50 * time.Millisecond},
			phase:     PhaseBooting,
			wantMsg:   []string{"auto-login shell prompt did not appear", "no progress within", "panic"},
		},
		{
			name:      "the script never starts",
			guest:     fakeGuest{prompt: true},
			deadlines: map[string]time.Duration{scriptStart: 50 * time.Millisecond},
			phase:     PhaseBooting,
			wantMsg:   []string{"the install script did not start", install.SeedLabel},
		},
		{
			name:      "no power-off",
			guest:     fakeGuest{prompt: true, lines: scriptOK},
			hangExit:  true,
			deadlines: map[string]time.Duration{PhasePoweroff: 50 * time.Millisecond},
			phase:     PhasePoweroff,
			wantMsg:   []string{"the installer did not power off"},
			wantIs:    context.DeadlineExceeded,
		},
		{
			name:    "no SSH and the stop fails too",
			guest:   fakeGuest{prompt: true, lines: scriptOK},
			sshErr:  errors.New("connection refused"),
			stopErr: errStop,
			phase:   PhaseFirstBoot,
			wantMsg: []string{"did not answer SSH", "connection refused", "cleaning up failed", "QEMU would not die"},
			wantIs:  errStop,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for p, d := range tt.deadlines {
				old := phaseDeadline[p]
				phaseDeadline[p] = d
				t.Cleanup(func() { phaseDeadline[p] = old })
			}
			lock, s := newTestVM(t)
			m := &fakeMachine{t: t, guest: tt.guest, hangExit: tt.hangExit, stopErr: tt.stopErr, sshErr: tt.sshErr}
			_, err := runWith(t.Context(), lock, s, Options{Reporter: &events{}}, m, 1)
			var ie *Error
			if !errors.As(err, &ie) {
				t.Fatalf("err = %v (%T), want an *installer.Error", err, err)
			}
			if ie.Phase != tt.phase {
				t.Errorf("failed in phase %s, want %s", ie.Phase, tt.phase)
			}
			for _, w := range tt.wantMsg {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%s", w, err)
				}
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("errors.Is(err, %v) = false: the cause is lost", tt.wantIs)
			}
			if m.stops != 1 {
				t.Errorf("the failed install stopped the VM %d times, want 1", m.stops)
			}
			st, err := lock.Instance().ReadState()
			if err != nil || st.Phase != store.PhaseFailed || !strings.HasPrefix(st.Reason, tt.phase+":") {
				t.Errorf("state = %+v, %v; want failed with a reason in phase %s", st, err, tt.phase)
			}
		})
	}
}

// TestDriverInterrupted: a cancel in the middle of a phase gives a
// *vm.InterruptedError (errors.Is context.Canceled), one line naming the
// phase, the VM stopped and state failed "PHASE: interrupted".
func TestDriverInterrupted(t *testing.T) {
	lock, s := newTestVM(t)
	// The script reaches installing and then prints nothing more.
	m := &fakeMachine{t: t, guest: fakeGuest{prompt: true, lines: scriptOK[:5]}}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ev := &events{onEnter: func(p string) {
		if p == PhaseInstalling {
			cancel()
		}
	}}
	_, err := runWith(ctx, lock, s, Options{Reporter: ev}, m, 1)
	var ie *vm.InterruptedError
	if !errors.As(err, &ie) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v (%T), want a *vm.InterruptedError that is context.Canceled", err, err)
	}
	if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, "interrupted in phase installing") || strings.Contains(msg, "nixvm ") {
		t.Errorf("error should be one line naming the phase, no command (the CLI adds it): %q", msg)
	}
	if want := (vm.Step{Next: vm.NextRetryInstall, Name: lock.Instance().Name}); ie.Step != want {
		t.Errorf("step = %+v, want %+v (create again, or rm)", ie.Step, want)
	}
	if m.stops != 1 {
		t.Errorf("stopped %d times, want 1", m.stops)
	}
	if st, _ := lock.Instance().ReadState(); st.Phase != store.PhaseFailed || st.Reason != "installing: interrupted" {
		t.Errorf("state = %+v, want failed, installing: interrupted", st)
	}
}
