package installer

import (
	"context"
	"fmt"

	"github.com/nixvm/nixvm/internal/host"
	"github.com/nixvm/nixvm/internal/images"
	"github.com/nixvm/nixvm/internal/install"
	"github.com/nixvm/nixvm/internal/spec"
	"github.com/nixvm/nixvm/internal/store"
	"github.com/nixvm/nixvm/internal/vm"
)

// CreateOptions are the choices of a create beyond the spec.
type CreateOptions struct {
	// Manual only prepares the VM for a hand install (vm.CreateOptions):
	// no preflight, no installer check, no install.
	Manual bool
	// Pull says where and how the installer ISO is downloaded (channel
	// server, progress, log lines).
	Pull     images.PullOptions
	Reporter Reporter
	// Logf receives what create does besides the install's events (that
	// a failed VM of the name is removed). Nil: not told.
	Logf func(format string, args ...any)
	// Warn receives the host's warning about the VM's accelerator (e.g.
	// no KVM: the install is emulated and slow), once the VM is made and
	// before the install starts. Nil: not told.
	Warn func(msg string)
}

// Created is what a create made.
type Created struct {
	Instance store.Instance
	// Install is the finished install; nil for a manual VM.
	Install *Result
}

// Create makes the VM of s (resolved and validated) and, unless
// opts.Manual, installs NixOS into it: the whole of nixvm create. In order:
//
//   - the pure checks of the install (install.Preflight against the spec's
//     release), before anything is downloaded or made;
//   - a VM of the name whose create or install failed is removed (the
//     retry); any other existing VM makes vm.Create refuse;
//   - the installer ISO is got (a download, or a local ISO verified) and
//     inspected, and the spec is checked against the installer's own
//     release, still before the VM is made, so a failed download or a wrong
//     ISO leaves no VM behind;
//   - vm.Create, whose lock is held from the VM's first file to the end of
//     the install (Run), then released.
//
// Errors of the installer ISO are *ISOError; a failed install is an
// *Error, an interrupt a *vm.InterruptedError (errors.Is(err,
// context.Canceled) holds). Messages name no flags and suggest no
// commands: the CLI adds those.
func Create(ctx context.Context, facts *host.Facts, s *spec.Spec, opts CreateOptions) (*Created, error) {
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if !opts.Manual {
		if err := install.Preflight(s, s.Release); err != nil {
			return nil, err
		}
	}
	if err := removeFailed(ctx, s.Name, logf); err != nil {
		return nil, err
	}
	var installerISO string
	if !opts.Manual {
		var err error
		if installerISO, err = checkInstaller(ctx, s, opts.Pull); err != nil {
			return nil, err
		}
	}
	lock, err := vm.Create(ctx, facts, s, vm.CreateOptions{Manual: opts.Manual})
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	c := &Created{Instance: lock.Instance()}
	if opts.Manual {
		return c, nil
	}
	if w := facts.Accelerator(ctx, s.Arch).Warning; w != "" && opts.Warn != nil {
		opts.Warn(w)
	}
	res, err := Run(ctx, lock, s, Options{
		Facts:    facts,
		Reporter: opts.Reporter,
		Source:   vm.InstallerSource{Override: installerISO, Pull: opts.Pull},
	})
	if err != nil {
		return nil, err
	}
	c.Install = res
	return c, nil
}

// checkInstaller gets the installer ISO s asks for, inspects it and checks
// s against its release; it returns the ISO's path.
func checkInstaller(ctx context.Context, s *spec.Spec, pull images.PullOptions) (string, error) {
	isoPath, err := vm.SpecInstallerISO(ctx, s, pull)
	if err != nil {
		return "", &ISOError{Op: ISOGet, ISO: s.ISO, Err: err}
	}
	inst, err := vm.PrepareInstaller(ctx, isoPath, s.Arch)
	if err != nil {
		return "", &ISOError{Op: ISOInspect, ISO: s.ISO, Err: err}
	}
	release, err := install.InstallerRelease(inst.Info)
	if err != nil {
		return "", err
	}
	if err := install.Preflight(s, release); err != nil {
		return "", &ISOError{Op: ISORelease, ISO: s.ISO, Release: release, Err: err}
	}
	return isoPath, nil
}

// What failed about the installer ISO (ISOError.Op).
const (
	ISOGet     = "get"     // download, import or verify
	ISOInspect = "inspect" // not a bootable installer of the VM's architecture
	ISORelease = "release" // its release cannot install the spec
)

// ISOError is a create refused because of its installer ISO, before any VM
// was made. ISO is the spec's iso (path or URL) when it named one.
type ISOError struct {
	Op      string
	ISO     string
	Release string // the installer's release (Op ISORelease)
	Err     error
}

func (e *ISOError) Error() string {
	switch {
	case e.Op == ISOGet:
		return "get the installer: " + e.Err.Error()
	case e.Op == ISORelease && e.ISO != "":
		return fmt.Sprintf("%s is NixOS %s: %v", e.ISO, e.Release, e.Err)
	}
	return e.Err.Error()
}

func (e *ISOError) Unwrap() error { return e.Err }

// removeFailed clears the way for a retry: a VM named name whose create or
// install failed is removed (and logf told), so create can start over. Any
// other existing VM is left for vm.Create to refuse.
func removeFailed(ctx context.Context, name string, logf func(string, ...any)) error {
	in, err := store.Open(name)
	if err != nil || !in.Exists() {
		return err
	}
	if info := vm.Status(in); info.State != vm.StateFailed && info.State != vm.StateIncomplete {
		return nil
	}
	lock, err := in.TryLock("create")
	if err != nil {
		return err
	}
	defer lock.Unlock()
	logf("VM %s failed before; removing it to start over", name)
	return vm.Remove(ctx, lock, vm.RemoveOptions{})
}
