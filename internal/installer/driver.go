package installer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/nixvm/nixvm/internal/arch"
	"github.com/nixvm/nixvm/internal/console"
	"github.com/nixvm/nixvm/internal/host"
	"github.com/nixvm/nixvm/internal/install"
	"github.com/nixvm/nixvm/internal/qemu"
	"github.com/nixvm/nixvm/internal/spec"
	"github.com/nixvm/nixvm/internal/sshx"
	"github.com/nixvm/nixvm/internal/store"
	"github.com/nixvm/nixvm/internal/vm"
)

// The phases of an install, in order, as reported to the user. The script's
// own phases (partitioning .. installing) come from its markers.
const (
	PhaseFetching     = "fetching-image"
	PhaseBooting      = "booting-installer"
	PhaseNetwork      = "network"
	PhasePartitioning = "partitioning"
	PhaseFormatting   = "formatting"
	PhaseConfiguring  = "configuring"
	PhaseInstalling   = "installing"
	PhasePoweroff     = "powering-off"
	PhaseFirstBoot    = "first-boot"
	PhaseReady        = "ready"
)

// Deadlines of the waits on the guest under KVM/HVF. TCG multiplies them by
// the machine's TCG.DeadlineFactor (internal/arch): 5 for x86_64 on x86_64
// (10-50x slower CPU, but most of an install is I/O and downloads, which
// emulation slows less), more for a foreign guest.
var phaseDeadline = map[string]time.Duration{
	PhaseBooting:      3 * time.Minute,
	PhasePartitioning: 3 * time.Minute,
	PhaseFormatting:   5 * time.Minute,
	PhaseConfiguring:  5 * time.Minute,
	PhaseInstalling:   60 * time.Minute,
	PhasePoweroff:     3 * time.Minute,
	PhaseFirstBoot:    5 * time.Minute,
	// From typing the boot command to the script's first marker: mounting
	// the seed and starting bash. A missing seed drive fails here, early.
	scriptStart: 1 * time.Minute,
}

const scriptStart = "script-start"

// Options are what the driver needs beyond the instance.
type Options struct {
	Facts    *host.Facts
	Source   vm.InstallerSource // where the installer ISO comes from
	Reporter Reporter
}

// Result is what a finished install reports.
type Result struct {
	SSHPort int
	User    string
	// Waited is the time spent waiting on the guest; the rest of Total is
	// the driver's own (dead) time.
	Waited, Total time.Duration
}

// Run installs NixOS into a created VM (disks blank): boot the installer
// with a seed drive, type one command at its auto-login prompt, follow the
// install script's phase markers, wait for the power-off, boot from disk and
// wait until SSH answers with the host key nixvm generated. lock is the
// VM's lock (from vm.Create), held by the caller for the whole install.
//
// On failure the VM is left stopped in phase failed with the reason, and
// the error is an *Error (phase, cause, last console lines) that wraps the
// cause; an interrupt (ctx) gives a *vm.InterruptedError instead, so
// errors.Is(err, context.Canceled) holds either way.
func Run(ctx context.Context, lock *store.Lock, s *spec.Spec, opts Options) (res *Result, err error) {
	// Emulation is slower, and a foreign guest's much slower: the factor
	// is in the machine description (internal/arch).
	factor := time.Duration(arch.MustFor(s.Arch).DeadlineFactor(opts.Facts.Accelerator(ctx, s.Arch).Name))
	return runWith(ctx, lock, s, opts, &realMachine{lock: lock, spec: s, opts: opts}, factor)
}

// runWith is Run on a given machine (the real VM, or a fake console in
// tests) with the deadline factor given.
func runWith(ctx context.Context, lock *store.Lock, s *spec.Spec, opts Options, m machine, factor time.Duration) (res *Result, err error) {
	in := lock.Instance()
	d := &driver{lock: lock, in: in, spec: s, opts: opts, m: m, start: time.Now(), phase: PhaseFetching, factor: factor}
	if d.opts.Reporter == nil {
		d.opts.Reporter = nopReporter{}
	}
	defer func() {
		if err != nil {
			err = d.fail(err)
		}
	}()
	if err := lock.UpdateState(func(st *store.State) { st.Phase, st.Reason = store.PhaseInstalling, "" }); err != nil {
		return nil, err
	}
	return d.run(ctx)
}

// machine is what the driver does to the VM and the host beyond files in
// the instance directory: the seam that lets it run against a fake console
// in unit tests. realMachine is the VM.
type machine interface {
	// Installer finds (downloading if needed) and prepares the installer.
	Installer(ctx context.Context) (*vm.Installer, error)
	Start(ctx context.Context, opts vm.StartOptions) (vm.Started, error)
	// Console connects to the serial console of the running QEMU.
	Console(ctx context.Context) (net.Conn, error)
	// WaitExit waits until the running QEMU has exited.
	WaitExit(ctx context.Context) error
	// Stop stops the VM at once (quit, then kill).
	Stop(ctx context.Context) error
	WaitSSH(ctx context.Context, port int, user, keyPath string, hostPub []byte) error
}

type realMachine struct {
	lock *store.Lock
	spec *spec.Spec
	opts Options
}

func (r *realMachine) Installer(ctx context.Context) (*vm.Installer, error) {
	isoPath, err := vm.InstallerISO(ctx, r.lock.Instance(), r.spec, r.opts.Source)
	if err != nil {
		return nil, err
	}
	return vm.PrepareInstaller(ctx, isoPath, r.spec.Arch)
}

func (r *realMachine) Start(ctx context.Context, opts vm.StartOptions) (vm.Started, error) {
	return vm.Start(ctx, r.opts.Facts, r.lock, opts)
}

func (r *realMachine) Console(ctx context.Context) (net.Conn, error) {
	var dialer net.Dialer
	return dialer.DialContext(ctx, "unix", r.lock.Instance().SerialSocket())
}

func (r *realMachine) WaitExit(ctx context.Context) error {
	pid, err := qemu.ReadPID(r.lock.Instance().PIDFile())
	if err != nil {
		return nil // already gone: QEMU removes its pidfile on a clean exit
	}
	return qemu.WaitExit(ctx, pid)
}

func (r *realMachine) Stop(ctx context.Context) error {
	_, err := vm.Stop(ctx, r.lock, vm.StopOptions{Force: true})
	return err
}

func (r *realMachine) WaitSSH(ctx context.Context, port int, user, keyPath string, hostPub []byte) error {
	return sshx.Wait(ctx, port, user, keyPath, hostPub)
}

type driver struct {
	m      machine
	lock   *store.Lock
	in     store.Instance
	spec   *spec.Spec
	opts   Options
	start  time.Time
	factor time.Duration
	phase  string
	waited time.Duration
	exp    *console.Expecter
	conn   net.Conn
}

func (d *driver) run(ctx context.Context) (*Result, error) {
	d.enter(PhaseFetching, "")
	inst, err := d.m.Installer(ctx)
	if err != nil {
		return nil, err
	}
	// system.stateVersion is the installer's release: the one create
	// checked the options against.
	release, err := install.InstallerRelease(inst.Info)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", inst.ISO, err)
	}
	keyPath, pub, err := sshx.UserKey()
	if err != nil {
		return nil, err
	}
	hostPriv, hostPub, err := sshx.NewHostKey()
	if err != nil {
		return nil, err
	}
	if err := sshx.WriteHostKey(d.in, hostPriv, hostPub); err != nil {
		return nil, err
	}
	uuids, err := install.NewArrayUUIDs()
	if err != nil {
		return nil, err
	}
	plan, err := install.Make(install.Inputs{Spec: *d.spec, Release: release, User: sshx.User, AuthorizedKey: pub, ArrayUUIDs: uuids})
	if err != nil {
		return nil, err
	}
	seed := d.in.SeedImage()
	if err := install.WriteSeed(seed, plan.SeedFiles(hostPriv, hostPub)); err != nil {
		return nil, fmt.Errorf("write seed image: %w", err)
	}

	d.enter(PhaseBooting, inst.Info.Label)
	if _, err := d.m.Start(ctx, vm.StartOptions{ISO: inst.ISO, Boot: &inst.Boot, Seed: seed, Installing: true}); err != nil {
		return nil, err
	}
	if err := d.attach(ctx); err != nil {
		return nil, err
	}
	if _, err := d.expect(ctx, PhaseBooting, promptRE); err != nil {
		return nil, fmt.Errorf("the installer's auto-login shell prompt did not appear: %w", err)
	}
	if err := d.exp.SendLine(d.conn, install.BootCommand()); err != nil {
		return nil, fmt.Errorf("type on the serial console: %w", err)
	}
	if err := d.followMarkers(ctx); err != nil {
		return nil, err
	}

	d.enter(PhasePoweroff, "")
	if err := d.waitExit(ctx); err != nil {
		return nil, err
	}
	d.conn.Close()
	d.conn, d.exp = nil, nil
	os.Remove(seed)

	d.enter(PhaseFirstBoot, "")
	if err := d.lock.UpdateState(func(st *store.State) { st.Phase = store.PhaseReady; st.Manual, st.ISO = false, "" }); err != nil {
		return nil, err
	}
	started, err := d.m.Start(ctx, vm.StartOptions{})
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, d.deadline(PhaseFirstBoot))
	defer cancel()
	t := time.Now()
	err = d.m.WaitSSH(wctx, started.SSHPort, sshx.User, keyPath, hostPub)
	d.waited += time.Since(t)
	if err != nil {
		return nil, fmt.Errorf("the installed system did not answer SSH: %w", err)
	}
	res := &Result{SSHPort: started.SSHPort, User: sshx.User, Waited: d.waited, Total: time.Since(d.start)}
	d.report(Event{Kind: KindPhase, Phase: PhaseReady, Message: fmt.Sprintf("ssh on 127.0.0.1:%d", started.SSHPort),
		Waited: res.Waited.Seconds(), DeadTime: (res.Total - res.Waited).Seconds()})
	return res, nil
}

// promptRE is the installer's shell prompt once escapes are stripped:
// "[nixos@nixos:~]$ " (or root's "#").
var promptRE = regexp.MustCompile(`\[nixos@[^\]\s]*:[^\]]*\][$#] ?$`)

// markerRE matches the install script's progress markers, whole lines only.
var markerRE = regexp.MustCompile(`(?m)^` + install.MarkerPhase + ` (\S+)\n|^` + install.MarkerFailed + ` ([^\n]*)\n`)

func (d *driver) followMarkers(ctx context.Context) error {
	deadline := scriptStart
	for {
		m, err := d.expect(ctx, deadline, markerRE)
		deadline = d.phase
		if err != nil {
			return err
		}
		if m[2] != "" {
			return scriptFailure(strings.TrimSpace(m[2]))
		}
		if m[1] == "done" {
			return nil
		}
		d.enter(m[1], "")
	}
}

// expect waits for re on the console within the phase's deadline, reporting
// the latest console line meanwhile, and counts the time as waiting on the
// guest.
func (d *driver) expect(ctx context.Context, phase string, re *regexp.Regexp) ([]string, error) {
	wctx, cancel := context.WithTimeout(ctx, d.deadline(phase))
	defer cancel()
	stop := make(chan struct{})
	go d.reportLiveLine(stop)
	t := time.Now()
	m, err := d.exp.Expect(wctx, re)
	d.waited += time.Since(t)
	close(stop)
	if err != nil && errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		if phase == scriptStart {
			return nil, fmt.Errorf("the install script did not start within %s (was the seed drive %s mounted?)", d.deadline(phase), install.SeedLabel)
		}
		return nil, fmt.Errorf("no progress within %s (deadline of phase %s)", d.deadline(phase), phase)
	}
	return m, err
}

// reportLiveLine reports the console's last line each second, so a long
// nixos-install shows what it is doing.
func (d *driver) reportLiveLine(stop <-chan struct{}) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last := ""
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			lines := d.exp.Tail(1)
			if len(lines) == 1 && lines[0] != last && strings.TrimSpace(lines[0]) != "" {
				last = lines[0]
				d.report(Event{Kind: KindLog, Message: last})
			}
		}
	}
}

func (d *driver) attach(ctx context.Context) error {
	conn, err := d.m.Console(ctx)
	if err != nil {
		return fmt.Errorf("connect to the serial console: %w", err)
	}
	d.conn = conn
	d.exp = console.NewExpecter(conn)
	return nil
}

// waitExit waits for the installer to power itself off.
func (d *driver) waitExit(ctx context.Context) error {
	wctx, cancel := context.WithTimeout(ctx, d.deadline(PhasePoweroff))
	defer cancel()
	t := time.Now()
	err := d.m.WaitExit(wctx)
	d.waited += time.Since(t)
	if err != nil {
		return fmt.Errorf("the installer did not power off: %w", err)
	}
	return nil
}

// scriptFailure turns the script's failure marker into an error: its msg=
// when it has one (e.g. the network is down), else the failing command.
func scriptFailure(marker string) error {
	if _, msg, ok := strings.Cut(marker, " msg="); ok {
		return errors.New(msg)
	}
	return fmt.Errorf("install script failed: %s", marker)
}

func (d *driver) deadline(phase string) time.Duration {
	if phase == PhaseNetwork {
		// install.sh bounds this wait itself, in guest seconds, and
		// reports it; this deadline only catches a script that hangs.
		return d.spec.NetworkTimeout + phaseDeadline[PhaseBooting]*d.factor
	}
	dl, ok := phaseDeadline[phase]
	if !ok {
		dl = phaseDeadline[PhaseConfiguring]
	}
	return dl * d.factor
}

func (d *driver) enter(phase, msg string) {
	d.phase = phase
	d.report(Event{Kind: KindPhase, Phase: phase, Message: msg})
}

func (d *driver) report(ev Event) {
	ev.Time = time.Now().UTC()
	ev.Elapsed = time.Since(d.start).Seconds()
	if ev.Phase == "" {
		ev.Phase = d.phase
	}
	d.opts.Reporter.Report(ev)
	appendEvent(d.in.EventsFile(), ev)
}

// Error is the error of a failed install: the phase, the cause (wrapped:
// errors.Is/As see it), the last console lines, and the errors of cleaning
// up (stopping the installer, recording the failure), if any. Its message
// ends with the cleanup's error, if any, and suggests no command: the CLI
// adds what to do next.
type Error struct {
	Name    string // the VM
	Phase   string
	Cause   error
	Tail    []string // last console lines
	Cleanup error    // stopping QEMU or writing state.json failed
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("install failed in phase %s: %v", e.Phase, e.Cause)
	if len(e.Tail) > 0 {
		msg += "\nlast console lines:\n  " + strings.Join(e.Tail, "\n  ")
	}
	if e.Cleanup != nil {
		msg += fmt.Sprintf("\nand cleaning up failed: %v", e.Cleanup)
	}
	return msg
}

func (e *Error) Unwrap() []error {
	if e.Cleanup != nil {
		return []error{e.Cause, e.Cleanup}
	}
	return []error{e.Cause}
}

// fail stops the VM, records phase failed with the reason, and returns an
// *Error (or, when ctx ended, a *vm.InterruptedError) saying what happened.
func (d *driver) fail(cause error) error {
	var tail []string
	if d.exp != nil {
		tail = d.exp.Tail(15)
	}
	if d.conn != nil {
		d.conn.Close()
	}
	interrupted := errors.Is(cause, context.Canceled)
	// Stop with a fresh context: the caller's may be cancelled (Ctrl-C).
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stopErr := d.m.Stop(sctx)
	if stopErr != nil {
		stopErr = fmt.Errorf("stop the installer: %w", stopErr)
	}
	reason := fmt.Sprintf("%s: %v", d.phase, cause)
	if interrupted {
		reason = d.phase + ": interrupted"
	}
	stateErr := d.lock.UpdateState(func(st *store.State) { st.Phase, st.Reason = store.PhaseFailed, reason })
	d.report(Event{Kind: KindFailed, Message: reason})
	cleanup := errors.Join(stopErr, stateErr)
	if interrupted {
		msg := fmt.Sprintf("interrupted: install interrupted in phase %s: the installer was stopped and VM %s is kept as failed", d.phase, d.in.Name)
		step := vm.Step{Next: vm.NextRetryInstall, Name: d.in.Name}
		if cleanup != nil {
			msg = fmt.Sprintf("interrupted: install interrupted in phase %s, and cleaning up failed: %v", d.phase, cleanup)
			step.Next = vm.NextStatus
		}
		return &vm.InterruptedError{Err: cause, Msg: msg, Step: step}
	}
	return &Error{Name: d.in.Name, Phase: d.phase, Cause: cause, Tail: tail, Cleanup: cleanup}
}
