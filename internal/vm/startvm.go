package vm

import (
	"context"

	"github.com/nixvm/nixvm/internal/host"
	"github.com/nixvm/nixvm/internal/images"
	"github.com/nixvm/nixvm/internal/store"
)

// StartRequest is what nixvm start was asked to do with a VM.
type StartRequest struct {
	ISO       string // attach this ISO (with Installer: the installer ISO to boot)
	Installer bool   // boot the VM's NixOS installer directly (ResolveBoot)
	// NoISO boots from disk and detaches the installer ISO of a manual VM
	// for good (state.json forgets it).
	NoISO bool
	// Display is this start's display; it is remembered in state.json for
	// later starts ("auto" forgets it).
	Display string
	// HostDisplay says the host has a display (StartOptions.HostDisplay).
	HostDisplay bool
	// Pull says where and how an installer ISO is downloaded (channel
	// server, progress, log lines).
	Pull images.PullOptions
	// DryRun only plans: it takes no lock, writes no state, downloads
	// nothing and picks the SSH port with FreePort; Result.Argv is the plan.
	DryRun bool
}

// StartResult is a start that was done (or planned, for a dry run).
type StartResult struct {
	Started
	Instance store.Instance
	ISO      string // the ISO attached (absolute), "" for none
	// DirectBoot says the installer's kernel is booted directly from ISO.
	DirectBoot bool
}

// StartVM is the whole of nixvm start NAME: it looks the VM up, takes its
// lock for the start (a dry run takes none), applies NoISO, resolves what
// to boot, remembers the display and starts QEMU (Start), or, for a dry
// run, only plans it (Plan). The lock is released when StartVM returns.
func StartVM(ctx context.Context, facts *host.Facts, name string, req StartRequest) (StartResult, error) {
	in, err := store.Lookup(name)
	if err != nil {
		return StartResult{}, err
	}
	res := StartResult{Instance: in}
	s, err := LoadSpec(in)
	if err != nil {
		return res, err
	}
	var lock *store.Lock
	if !req.DryRun {
		if lock, err = in.TryLock("start"); err != nil {
			return res, err
		}
		defer lock.Unlock()
		if req.NoISO {
			if err := lock.UpdateState(func(st *store.State) { st.Manual, st.ISO = false, "" }); err != nil {
				return res, err
			}
		}
	}
	var opts StartOptions
	// With NoISO the VM boots its disk: there is nothing to resolve (a dry
	// run, which leaves state.json as it is, would otherwise look for the
	// manual VM's ISO).
	if !req.NoISO {
		opts, err = ResolveBoot(ctx, in, s, BootRequest{
			ISO:        req.ISO,
			Installer:  req.Installer,
			Pull:       req.Pull,
			NoDownload: req.DryRun,
			DryRun:     req.DryRun,
		})
		if err != nil {
			return res, err
		}
	}
	opts.Display, opts.HostDisplay = req.Display, req.HostDisplay
	res.ISO, res.DirectBoot = opts.ISO, opts.Boot != nil
	if req.DryRun {
		opts.DryRun = true
		if s.SSHPort == 0 {
			if opts.SSHPort, err = FreePort(); err != nil {
				return res, err
			}
		}
		res.Started, err = Plan(ctx, facts, in, s, opts)
		return res, err
	}
	if req.Display != "" {
		remember := req.Display
		if remember == "auto" {
			remember = ""
		}
		if err := lock.UpdateState(func(st *store.State) { st.Display = remember }); err != nil {
			return res, err
		}
	}
	res.Started, err = Start(ctx, facts, lock, opts)
	return res, err
}
