package vm

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/nixvm/nixvm/internal/host"
	"github.com/nixvm/nixvm/internal/spec"
	"github.com/nixvm/nixvm/internal/sshx"
	"github.com/nixvm/nixvm/internal/store"
)

// CloneRequest is what nixvm clone (and create --from) was asked to do.
type CloneRequest struct {
	CloneOptions
	// Start starts the clone and waits until its guest answers SSH.
	Start bool
	// HostDisplay says the host has a display (StartOptions.HostDisplay).
	HostDisplay bool
	// Made is told, once the clone exists and before it starts, what was
	// made (Took, DroppedForwards). Nil: not told.
	Made func(CloneResult)
}

// CloneResult is a clone made (and, if asked, started).
type CloneResult struct {
	Instance store.Instance
	Took     time.Duration // making the clone
	Ready    time.Duration // with Start: from the start until SSH answered
	SSHPort  int           // with Start
	// DroppedForwards are the source's host port forwards the clone does
	// not have (Clone gives it none unless CloneOptions.Edit does).
	DroppedForwards []string
}

// CloneVM is the whole of nixvm clone SRC DST: it takes SRC's lock, makes
// DST (Clone), lets SRC go as soon as DST exists and, if asked, starts DST
// under DST's lock and waits until its guest answers SSH.
func CloneVM(ctx context.Context, facts *host.Facts, src, dst string, req CloneRequest) (CloneResult, error) {
	in, err := store.Lookup(src)
	if err != nil {
		return CloneResult{}, err
	}
	srcLock, err := in.TryLock("clone")
	if err != nil {
		return CloneResult{}, err
	}
	defer srcLock.Unlock()
	srcSpec, err := LoadSpec(in)
	if err != nil {
		return CloneResult{}, err
	}
	t0 := time.Now()
	lock, err := Clone(ctx, facts, srcLock, dst, req.CloneOptions)
	if err != nil {
		return CloneResult{}, err
	}
	defer lock.Unlock()
	// The source is free again as soon as the clone exists.
	srcLock.Unlock()
	res := CloneResult{Instance: lock.Instance(), Took: time.Since(t0)}
	dstSpec, err := LoadSpec(lock.Instance())
	if err != nil {
		return res, err
	}
	res.DroppedForwards = droppedForwards(srcSpec.PortForwards, dstSpec.PortForwards)
	if req.Made != nil {
		req.Made(res)
	}
	if !req.Start {
		return res, nil
	}
	t1 := time.Now()
	if res.SSHPort, err = startAndWaitSSH(ctx, facts, lock, req.HostDisplay); err != nil {
		return res, err
	}
	res.Ready = time.Since(t1)
	return res, nil
}

// droppedForwards lists the host port forwards of src that dst lacks: a
// clone gets none of its source's (Clone), unless create --from --forward
// gives them again.
func droppedForwards(src, dst []spec.PortForward) []string {
	var d []string
	for _, f := range src {
		if !slices.Contains(dst, f) {
			d = append(d, f.String())
		}
	}
	return d
}

// startAndWaitSSH starts the VM of lock and waits until its guest answers
// SSH with the host key nixvm knows, within a deadline for a boot.
func startAndWaitSSH(ctx context.Context, facts *host.Facts, lock *store.Lock, hostDisplay bool) (int, error) {
	in := lock.Instance()
	started, err := Start(ctx, facts, lock, StartOptions{HostDisplay: hostDisplay})
	if err != nil {
		return 0, err
	}
	keyPath, _, err := sshx.UserKey()
	if err != nil {
		return 0, err
	}
	hostPub, err := sshx.ReadHostPub(in)
	if err != nil {
		return 0, err
	}
	s, err := LoadSpec(in)
	if err != nil {
		return 0, err
	}
	wctx, cancel := context.WithTimeout(ctx, BootDeadline(s.Arch, started.Accel))
	defer cancel()
	if err := sshx.Wait(wctx, started.SSHPort, sshx.User, keyPath, hostPub); err != nil {
		if ctx.Err() != nil {
			return 0, interruptedStep(ctx, fmt.Sprintf("VM %s is running, its SSH was not waited for", in.Name), NextStop, in.Name, "")
		}
		return 0, withStep(fmt.Errorf("VM %s started but did not answer SSH: %w", in.Name, err), NextLogs, in.Name, "")
	}
	return started.SSHPort, nil
}
