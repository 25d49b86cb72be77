package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

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

func cloneVM(ctx context.Context, out io.Writer, src, dst string, opts vm.CloneOptions, start, asJSON bool) error {
	facts, err := detectHost(ctx)
	if err != nil {
		return err
	}
	how := "a linked clone"
	if opts.Full {
		how = "a full copy"
	}
	made, err := vm.CloneVM(ctx, facts, src, dst, vm.CloneRequest{
		CloneOptions: opts,
		Start:        start,
		HostDisplay:  hostDisplay(),
		Made: func(made vm.CloneResult) {
			if asJSON {
				return
			}
			fmt.Fprintf(out, "Made VM %s, %s of %s, in %.2fs\n", dst, how, src, made.Took.Seconds())
			if len(made.DroppedForwards) > 0 {
				fmt.Fprintf(out, "VM %s does not forward %s's host ports %s (two VMs cannot listen on one host port; a VM from %s gets its own with nixvm create NAME --from %s --forward HOST:GUEST)\n",
					dst, src, strings.Join(made.DroppedForwards, ", "), src, src)
			}
		},
	})
	if err != nil {
		return err
	}
	res := cloneResult{Name: dst, From: src, Linked: !opts.Full, Seconds: made.Took.Seconds(), DroppedForwards: made.DroppedForwards}
	if start {
		res.Ready, res.SSHPort = made.Ready.Seconds(), made.SSHPort
		if !asJSON {
			fmt.Fprintf(out, "VM %s answers SSH on 127.0.0.1:%d after %.1fs: nixvm ssh %s\n", dst, res.SSHPort, res.Ready, dst)
		}
	} else if !asJSON {
		fmt.Fprintf(out, "Start it with: nixvm start %s\n", dst)
	}
	if asJSON {
		return writeJSON(out, res)
	}
	return nil
}
