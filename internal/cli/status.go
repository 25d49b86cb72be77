package cli

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/nixvm/nixvm/internal/images"
	"github.com/nixvm/nixvm/internal/qemu"
	"github.com/nixvm/nixvm/internal/qga"
	"github.com/nixvm/nixvm/internal/store"
	"github.com/nixvm/nixvm/internal/vm"
)

// statusAgentTimeout bounds the guest agent probe of status. A booted guest
// with its agent answers in milliseconds even under TCG; a guest without
// one never answers, and status must not hang on it.
const statusAgentTimeout = 2 * time.Second

// statusInfo is what status prints: the VM's state plus, while QEMU runs,
// whether the guest agent answers. vm.Info is embedded so that the JSON
// keeps its fields at the top level.
type statusInfo struct {
	vm.Info
	GuestAgent *agentStatus `json:"guestAgent,omitempty"`
}

// agentStatus is the result of one guest agent probe.
type agentStatus struct {
	Socket  string `json:"socket"`
	Answers bool   `json:"answers"`
	Version string `json:"version,omitempty"` // qemu-ga's, from guest-info
	Error   string `json:"error,omitempty"`   // why it did not answer
}

func newStatusCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status NAME",
		Short: "Show a VM's state",
		Long: `Show a VM's state. While the VM runs, status also asks the QEMU guest
agent (services.qemuGuest in the guest) whether it answers, waiting at most
` + statusAgentTimeout.String() + `.`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeVMNames,
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		in, err := store.Lookup(args[0])
		if err != nil {
			return err
		}
		info := statusInfo{Info: vm.Status(in)}
		if info.State == vm.StateRunning || info.State == vm.StateInstalling {
			info.GuestAgent = probeAgent(cmd.Context(), qemu.QGASocket(in), statusAgentTimeout)
		}
		if asJSON {
			return writeJSON(cmd.OutOrStdout(), info)
		}
		w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
		fmt.Fprintf(w, "Name:\t%s\n", info.Name)
		fmt.Fprintf(w, "State:\t%s\n", info.State)
		if info.Reason != "" {
			fmt.Fprintf(w, "Reason:\t%s\n", info.Reason)
		}
		if info.PID != 0 {
			fmt.Fprintf(w, "PID:\t%d\n", info.PID)
		}
		if info.CPUs != 0 {
			fmt.Fprintf(w, "Machine:\t%s, %s, %d CPUs, %s memory\n", info.Arch, info.Firmware, info.CPUs, info.Memory)
		}
		fmt.Fprintf(w, "Disk use:\t%s\n", images.HumanBytes(info.DiskBytes))
		if info.SSHPort != 0 {
			fmt.Fprintf(w, "SSH port:\t127.0.0.1:%d\n", info.SSHPort)
		}
		if a := info.GuestAgent; a != nil {
			if a.Answers {
				fmt.Fprintf(w, "Guest agent:\tanswers (qemu-ga %s)\n", a.Version)
			} else {
				fmt.Fprintf(w, "Guest agent:\t%s\n", a.Error)
			}
		}
		fmt.Fprintf(w, "Directory:\t%s\n", info.Dir)
		return w.Flush()
	}
	return cmd
}

// probeAgent asks the guest agent on socket for guest-info, waiting at most
// timeout. It never fails: what went wrong is the answer.
func probeAgent(ctx context.Context, socket string, timeout time.Duration) *agentStatus {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	st := &agentStatus{Socket: socket}
	c, err := qga.Dial(ctx, socket)
	if err == nil {
		defer c.Close()
		var i qga.Info
		if i, err = c.Info(ctx); err == nil {
			st.Answers, st.Version = true, i.Version
			return st
		}
	}
	if errors.Is(err, qga.ErrNoAnswer) {
		// The short form: the socket path is in the JSON and the
		// status directory.
		st.Error = fmt.Sprintf("no answer within %s: is services.qemuGuest.enable set and the VM booted? (another client, e.g. nixvm agent, may hold the socket)", timeout)
	} else {
		st.Error = err.Error()
	}
	return st
}
