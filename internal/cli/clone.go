package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/nixvm/nixvm/internal/host"
	"github.com/nixvm/nixvm/internal/spec"
	"github.com/nixvm/nixvm/internal/sshx"
	"github.com/nixvm/nixvm/internal/store"
	"github.com/nixvm/nixvm/internal/vm"
)

func newCloneCommand() *cobra.Command {
	var full, start, asJSON bool
	cmd := &cobra.Command{
		Use:   "clone SRC DST",
		Short: "Make VM DST from the stopped VM SRC: a linked clone (copy-on-write, instant) or a full copy",
		Long: `Make VM DST from the stopped VM SRC.

A linked clone (the default) takes well under a second and almost no disk:
SRC's disks are frozen into read-only base images that SRC goes on from,
and DST gets copy-on-write overlays over them. SRC keeps working and can
change without affecting DST; SRC cannot be removed while clones depend
on it. --full copies the disks instead (independent, takes as long as the
copy).

DST is its own machine from its first boot: host name DST, a new MAC
address, machine-id and SSH host key (made here, so the first connection
is verified).`,
		Args:              cobra.ExactArgs(2),
		ValidArgsFunction: completeVMNames,
	}
	cmd.Flags().BoolVar(&full, "full", false, "copy the disks (an independent VM) instead of a linked clone")
	cmd.Flags().BoolVar(&start, "start", false, "start DST and wait until it answers SSH")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if !store.NameRE.MatchString(args[1]) {
			return fmt.Errorf("DST: %q is not a valid VM name (use 1-63 of a-z, 0-9 and -, starting with a letter or digit)", args[1])
		}
		return cloneVM(cmd.Context(), cmd.OutOrStdout(), args[0], args[1], vm.CloneOptions{Full: full}, start, asJSON)
	}
	return cmd
}

// cloneResult is clone's (and create --from's) --json output.
type cloneResult struct {
	Name    string  `json:"name"`
	From    string  `json:"from"`
	Linked  bool    `json:"linked"`
	Seconds float64 `json:"seconds"`                // making the clone
	Ready   float64 `json:"readySeconds,omitempty"` // with --start: until SSH answered
	SSHPort int     `json:"sshPort,omitempty"`
	// The source's host port forwards the clone does not have.
	DroppedForwards []string `json:"droppedForwards,omitempty"`
}

// droppedForwards lists the host port forwards of src that dst lacks: a
// clone gets none of its source's (vm.Clone), unless create --from
// --forward gives them again.
func droppedForwards(src, dst []spec.PortForward) []string {
	var d []string
	for _, f := range src {
		if !slices.Contains(dst, f) {
			d = append(d, f.String())
		}
	}
	return d
}

func cloneVM(ctx context.Context, out io.Writer, src, dst string, opts vm.CloneOptions, start, asJSON bool) error {
	_, srcLock, err := lockVM(src, "clone")
	if err != nil {
		return err
	}
	defer srcLock.Unlock()
	facts, err := detectHost(ctx)
	if err != nil {
		return err
	}
	srcSpec, err := vm.LoadSpec(srcLock.Instance())
	if err != nil {
		return err
	}
	t0 := time.Now()
	lock, err := vm.Clone(ctx, facts, srcLock, dst, opts)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	// The source is free again as soon as the clone exists.
	srcLock.Unlock()
	res := cloneResult{Name: dst, From: src, Linked: !opts.Full, Seconds: time.Since(t0).Seconds()}
	dstSpec, err := vm.LoadSpec(lock.Instance())
	if err != nil {
		return err
	}
	res.DroppedForwards = droppedForwards(srcSpec.PortForwards, dstSpec.PortForwards)
	how := "a linked clone"
	if opts.Full {
		how = "a full copy"
	}
	if !asJSON {
		fmt.Fprintf(out, "Made VM %s, %s of %s, in %.2fs\n", dst, how, src, res.Seconds)
		if len(res.DroppedForwards) > 0 {
			fmt.Fprintf(out, "VM %s does not forward %s's host ports %s (two VMs cannot listen on one host port; a VM from %s gets its own with nixvm create NAME --from %s --forward HOST:GUEST)\n",
				dst, src, strings.Join(res.DroppedForwards, ", "), src, src)
		}
	}
	if start {
		t1 := time.Now()
		port, err := startAndWaitSSH(ctx, facts, lock)
		if err != nil {
			return err
		}
		res.Ready, res.SSHPort = time.Since(t1).Seconds(), port
		if !asJSON {
			fmt.Fprintf(out, "VM %s answers SSH on 127.0.0.1:%d after %.1fs: nixvm ssh %s\n", dst, port, res.Ready, dst)
		}
	} else if !asJSON {
		fmt.Fprintf(out, "Start it with: nixvm start %s\n", dst)
	}
	if asJSON {
		return writeJSON(out, res)
	}
	return nil
}

// startAndWaitSSH starts the VM of lock and waits until its guest answers
// SSH with the host key nixvm knows, within a deadline for a boot.
func startAndWaitSSH(ctx context.Context, facts *host.Facts, lock *store.Lock) (int, error) {
	in := lock.Instance()
	started, err := vm.Start(ctx, facts, lock, vm.StartOptions{HostDisplay: os.Getenv("DISPLAY") != "" || os.Getenv("WAYLAND_DISPLAY") != ""})
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
	s, err := vm.LoadSpec(in)
	if err != nil {
		return 0, err
	}
	wctx, cancel := context.WithTimeout(ctx, vm.BootDeadline(s.Arch, started.Accel))
	defer cancel()
	if err := sshx.Wait(wctx, started.SSHPort, sshx.User, keyPath, hostPub); err != nil {
		if ctx.Err() != nil {
			return 0, &vm.InterruptedError{Err: ctx.Err(), Msg: fmt.Sprintf("interrupted: VM %s is running, its SSH was not waited for (stop it with: nixvm stop %s)", in.Name, in.Name)}
		}
		return 0, fmt.Errorf("VM %s started but did not answer SSH: %w (see nixvm logs %s)", in.Name, err, in.Name)
	}
	return started.SSHPort, nil
}
