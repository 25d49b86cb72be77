package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/nixvm/nixvm/internal/qemu"
	"github.com/nixvm/nixvm/internal/qga"
	"github.com/nixvm/nixvm/internal/store"
	"github.com/nixvm/nixvm/internal/vm"
)

// agentActions are the verbs of nixvm agent; each only reads.
var agentActions = []string{"ping", "info"}

func newAgentCommand() *cobra.Command {
	var asJSON bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "agent NAME ping|info",
		Short: "Ask a running VM's QEMU guest agent (ping, or version and commands)",
		Long: `Talk to the QEMU guest agent in a running VM (services.qemuGuest.enable,
which nixvm sets), over the VM's qga.sock. "ping" checks that it answers;
"info" prints its version and the commands it supports. QEMU serves one
client of the agent at a time, so a second nixvm agent (or status) waits.`,
		Args: cobra.ExactArgs(2),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			if len(args) == 1 {
				return agentActions, cobra.ShellCompDirectiveNoFileComp
			}
			return completeVMNames(cmd, args, toComplete)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Second, "how long to wait for the agent to answer")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		action := args[1]
		if !slices.Contains(agentActions, action) {
			return fmt.Errorf("agent: unknown action %q (use %s)", action, strings.Join(agentActions, " or "))
		}
		if timeout <= 0 {
			return fmt.Errorf("--timeout: must be positive, e.g. 5s or 1m")
		}
		in, err := store.Lookup(args[0])
		if err != nil {
			return err
		}
		if st := vm.Status(in); st.State != vm.StateRunning && st.State != vm.StateInstalling {
			return fmt.Errorf("VM %s is %s, so its guest agent cannot answer; start it with: nixvm start %s", in.Name, st.State, in.Name)
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
		defer cancel()
		start := time.Now()
		c, err := qga.Dial(ctx, qemu.QGASocket(in))
		if err != nil {
			return err
		}
		defer c.Close()
		out := cmd.OutOrStdout()
		switch action {
		case "ping":
			if err := c.Ping(ctx); err != nil {
				return err
			}
			took := time.Since(start)
			if asJSON {
				return writeJSON(out, map[string]any{"name": in.Name, "answers": true, "millis": took.Milliseconds()})
			}
			fmt.Fprintf(out, "guest agent of %s answers (%s)\n", in.Name, took.Round(time.Millisecond))
		case "info":
			i, err := c.Info(ctx)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(out, i)
			}
			fmt.Fprintf(out, "qemu-ga %s in %s\n", i.Version, in.Name)
			w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "COMMAND\tENABLED")
			for _, c := range i.SupportedCommands {
				fmt.Fprintf(w, "%s\t%v\n", c.Name, c.Enabled)
			}
			return w.Flush()
		}
		return nil
	}
	return cmd
}
