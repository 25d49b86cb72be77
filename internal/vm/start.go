package vm

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nixvm/nixvm/internal/host"
	"github.com/nixvm/nixvm/internal/qemu"
	"github.com/nixvm/nixvm/internal/qmp"
	"github.com/nixvm/nixvm/internal/spec"
	"github.com/nixvm/nixvm/internal/sshx"
	"github.com/nixvm/nixvm/internal/store"
)

// DirectBoot boots a kernel and initrd directly (no boot menu).
type DirectBoot struct {
	Kernel, Initrd, Append string
}

// StartOptions are the per-start choices that override the spec.
type StartOptions struct {
	ISO  string // attach this ISO as a CD-ROM and boot it first
	Seed string // attach this seed image as a second, read-only CD-ROM (install)
	// Installing lets the install driver, which owns the VM while it is
	// being installed, start the installer of a VM in phase installing.
	Installing bool
	Display    string // this start's --display (it is remembered in state.json by the caller)
	// HostDisplay says the host has a display ($DISPLAY or
	// $WAYLAND_DISPLAY), which display auto opens a window on.
	HostDisplay bool
	Boot        *DirectBoot // direct kernel boot (installer)
	// Sidecars are started before QEMU and live and die with it.
	Sidecars []qemu.Sidecar
	// SSHPort is the host port chosen for SSH when the spec leaves it to
	// nixvm (Start picks a free one; dry runs pick one with FreePort).
	SSHPort int
	// DryRun plans a command to print, not to run: a missing QEMU binary
	// or UEFI firmware is shown by its name instead of failing.
	DryRun bool
	// Paused starts QEMU with its CPUs stopped (-S), for a caller that
	// loads a snapshot's RAM state before the guest runs (snapshot restore).
	Paused bool
}

// Started describes a VM that start launched (or would launch, for a dry run).
type Started struct {
	PID     int
	SSHPort int
	Argv    []string
	Accel   host.Accel
	Display DisplayChoice
}

// Plan works out the QEMU command for in from the spec, the host facts
// (the accelerator is decided once per Facts) and the chosen SSH port. It
// starts nothing and binds nothing.
func Plan(ctx context.Context, facts *host.Facts, in store.Instance, s *spec.Spec, opts StartOptions) (Started, error) {
	binPath := host.ItemQEMU(s.Arch)
	if bin, err := facts.QEMUFor(s.Arch); err == nil {
		binPath = bin.Path
	} else if !opts.DryRun {
		return Started{}, err
	}
	accel := facts.Accelerator(ctx, s.Arch)
	p := qemu.Params{
		Spec:      *s,
		Instance:  in,
		Binary:    binPath,
		Accel:     accel.Name,
		SSHPort:   s.SSHPort,
		ISO:       opts.ISO,
		Seed:      opts.Seed,
		Daemonize: true,
	}
	id, err := planIdentity(in)
	if err != nil {
		return Started{}, err
	}
	p.Identity = id
	remembered := ""
	if st, err := in.ReadState(); err == nil {
		remembered = st.Display
	}
	choice := ChooseDisplay(opts.Display, remembered, s.Display, s.Desktop, opts.HostDisplay)
	p.Display = choice.Mode
	if s.Firmware == "uefi" {
		fw, err := facts.UEFIFor(s.Arch)
		switch {
		case err == nil:
			p.UEFICode = fw.Code
		case opts.DryRun:
			p.UEFICode = "UEFI-CODE-FIRMWARE-NOT-FOUND"
		default:
			return Started{}, err
		}
	}
	if opts.Boot != nil {
		p.Kernel, p.Initrd, p.Append = opts.Boot.Kernel, opts.Boot.Initrd, opts.Boot.Append
	}
	if p.SSHPort == 0 {
		p.SSHPort = opts.SSHPort
	}
	if p.SSHPort == 0 {
		return Started{}, fmt.Errorf("plan VM %s: no SSH port chosen (StartOptions.SSHPort)", in.Name)
	}
	argv, err := qemu.Command(p)
	if err != nil {
		return Started{}, err
	}
	if opts.Paused {
		argv = append(argv, "-S")
	}
	return Started{SSHPort: p.SSHPort, Argv: argv, Accel: accel, Display: choice}, nil
}

// planIdentity reads what the guest is told about itself (qemu.Identity):
// the VM's name as host name, its identity.json and, when nixvm made one,
// its SSH host key. nil for a VM made before identities.
func planIdentity(in store.Instance) (*qemu.Identity, error) {
	id, ok, err := in.ReadIdentity()
	if err != nil || !ok {
		return nil, err
	}
	q := &qemu.Identity{Hostname: in.Name, MachineID: id.MachineID, MAC: id.MAC}
	key, pub := sshx.HostKeyPath(in), sshx.HostPubPath(in)
	if _, err := os.Stat(key); err == nil {
		if _, err := os.Stat(pub); err == nil {
			q.HostKey, q.HostPub = key, pub
		}
	}
	return q, nil
}

// Start launches the VM's QEMU, daemonized, and returns once QEMU answers on
// its QMP socket. lock is the VM's lock, which the caller holds. A start
// that fails or is interrupted after QEMU daemonized kills that QEMU and
// waits until it is gone, so a failed start never leaves a QEMU behind.
func Start(ctx context.Context, facts *host.Facts, lock *store.Lock, opts StartOptions) (started Started, err error) {
	in := lock.Instance()
	info := Status(in)
	switch info.State {
	case StateRunning:
		return Started{}, &StateError{Name: in.Name, State: info.State, PID: info.PID, Op: "started"}
	case StateInstalling:
		return Started{}, &StateError{Name: in.Name, State: info.State, PID: info.PID, Op: "started"}
	case StateIncomplete, StateFailed:
		if opts.Installing {
			break
		}
		return Started{}, &StateError{Name: in.Name, State: info.State, Op: "started", Why: info.Reason}
	}
	if st, err := in.ReadState(); err == nil && st.Protected && !opts.Installing {
		return Started{}, &ProtectedError{Name: in.Name, Op: "started"}
	}
	s, err := LoadSpec(in)
	if err != nil {
		return Started{}, err
	}
	if s.SSHPort == 0 && opts.SSHPort == 0 {
		if opts.SSHPort, err = FreePort(); err != nil {
			return Started{}, err
		}
	}
	plan, err := Plan(ctx, facts, in, s, opts)
	if err != nil {
		return plan, err
	}
	// A crashed QEMU leaves its pidfile and sockets behind; they would
	// make the new QEMU fail or look crashed.
	for _, f := range []string{in.PIDFile(), in.QMPSocket(), in.SerialSocket()} {
		if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
			return plan, fmt.Errorf("remove stale %s: %w", f, err)
		}
	}
	if err := os.MkdirAll(in.SocketDir(), 0o700); err != nil {
		return plan, fmt.Errorf("make socket directory: %w", err)
	}
	if err := store.WriteFileAtomic(in.CmdlineFile(), []byte(qemu.Shell(plan.Argv)+"\n"), 0o600); err != nil {
		return plan, err
	}
	// Sidecars a crashed QEMU left are stopped; this start's come up
	// before QEMU, and go again if the start fails.
	if err := stopSidecars(in); err != nil {
		return plan, err
	}
	defer func() {
		if err != nil {
			if serr := stopSidecars(in); serr != nil {
				err = fmt.Errorf("%w; and its sidecars could not be stopped: %v", err, serr)
			}
		}
	}()
	for _, sc := range opts.Sidecars {
		if _, err := qemu.StartSidecar(ctx, sc, in.SidecarPID(sc.Name), in.SidecarLog(sc.Name), Scaled(qmpUpDeadline, plan.Accel)); err != nil {
			if ctx.Err() != nil {
				return plan, interrupted(ctx, fmt.Sprintf("VM %s was not started (its sidecars were stopped again)", in.Name))
			}
			return plan, fmt.Errorf("start VM %s: %w", in.Name, err)
		}
	}
	pid, err := qemu.Start(ctx, plan.Argv, in.PIDFile(), in.QEMULog())
	if err != nil {
		if ctx.Err() != nil {
			// qemu.Start killed a QEMU that got as far as daemonizing.
			return plan, interrupted(ctx, fmt.Sprintf("VM %s was not started (a QEMU that was setting up was killed); it is stopped", in.Name))
		}
		return plan, fmt.Errorf("start VM %s: %w", in.Name, err)
	}
	defer func() {
		if err == nil {
			return
		}
		// Undo: this start launched pid; it must not outlive the failure.
		kerr := qemu.KillWait(pid, in.PIDFile())
		switch {
		case kerr != nil:
			err = withStep(fmt.Errorf("%w; and the QEMU it started could not be stopped: %v", err, kerr), NextStatus, in.Name, "")
		case ctx.Err() != nil:
			err = interrupted(ctx, fmt.Sprintf("the QEMU started for VM %s (pid %d) was killed again; the VM is stopped", in.Name, pid))
		default:
			err = fmt.Errorf("%w; the QEMU it started (pid %d) was killed, the VM is stopped", err, pid)
		}
		plan.PID = 0
	}()
	plan.PID = pid
	if err := lock.UpdateState(func(st *store.State) { st.SSHPort = plan.SSHPort }); err != nil {
		return plan, err
	}
	// QEMU is up once its monitor answers; if it died instead, show why.
	wctx, cancel := context.WithTimeout(ctx, Scaled(qmpUpDeadline, plan.Accel))
	defer cancel()
	if err := waitQMP(wctx, in, pid); err != nil {
		if ctx.Err() != nil {
			return plan, ctx.Err()
		}
		return plan, fmt.Errorf("VM %s did not come up: %w%s", in.Name, err, logTail(in.QEMULog(), 5))
	}
	return plan, nil
}

// waitQMP waits until QMP answers query-status, or the process is gone.
func waitQMP(ctx context.Context, in store.Instance, pid int) error {
	for {
		c, err := qmp.Dial(ctx, in.QMPSocket())
		if err == nil {
			_, _, err = c.QueryStatus(ctx)
			c.Close()
			return err
		}
		if !qemu.Alive(pid, in.PIDFile()) {
			return fmt.Errorf("QEMU exited right after starting")
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("QMP socket %s: %w", in.QMPSocket(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// logTail returns the last n lines of a log file, formatted for an error.
func logTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "\n" + filepath.Base(path) + ":\n  " + strings.Join(lines, "\n  ")
}

// FreePort returns a TCP port on 127.0.0.1 that is free now, for SSH.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port for SSH: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
