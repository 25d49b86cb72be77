package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/nixvm/nixvm/internal/images"
	"github.com/nixvm/nixvm/internal/qemu"
	"github.com/nixvm/nixvm/internal/spec"
	"github.com/nixvm/nixvm/internal/store"
	"github.com/nixvm/nixvm/internal/vm"
)

func newStartCommand() *cobra.Command {
	var (
		iso         string
		installer   bool
		noISO       bool
		channelsURL string
		display     string
		dryRun      bool
	)
	cmd := &cobra.Command{
		Use:               "start NAME",
		Short:             "Start a VM",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeVMNames,
	}
	cmd.Flags().StringVar(&iso, "iso", "", "attach this ISO as a CD-ROM and boot it first (with --installer: the installer ISO to boot)")
	cmd.Flags().BoolVar(&installer, "installer", false, "boot the VM's NixOS installer (its release, or --iso) directly, with the disks attached: for a hand install or a rescue")
	cmd.Flags().BoolVar(&noISO, "no-iso", false, "boot from disk: detach the installer ISO of a --manual VM for good")
	cmd.Flags().StringVar(&display, "display", "", "display, remembered for later starts: gtk or sdl (a window), spice or vnc (a unix socket; see nixvm display NAME), none (headless), auto (a window for a desktop VM when the host has $DISPLAY or $WAYLAND_DISPLAY)")
	cmd.Flags().StringVar(&channelsURL, "channels-url", "", "NixOS channel server for --installer downloads (default $NIXVM_CHANNELS_URL or https://channels.nixos.org)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the QEMU command and start nothing")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if display != "" && !contains(spec.Displays, display) {
			return fmt.Errorf("--display: %q is not valid (use auto, none, gtk, sdl, spice or vnc)", display)
		}
		if noISO && (iso != "" || installer) {
			return fmt.Errorf("--no-iso: cannot be combined with --iso or --installer")
		}
		ctx := cmd.Context()
		facts, err := detectHost(ctx)
		if err != nil {
			return err
		}
		errw := cmd.ErrOrStderr()
		started, err := vm.StartVM(ctx, facts, args[0], vm.StartRequest{
			ISO:         iso,
			Installer:   installer,
			NoISO:       noISO,
			Display:     display,
			HostDisplay: hostDisplay(),
			Pull: images.PullOptions{
				ChannelsURL: channelsURL,
				Progress:    newImageProgress(errw),
				Logf:        func(f string, a ...any) { fmt.Fprintf(errw, "nixvm: "+f+"\n", a...) },
			},
			DryRun: dryRun,
		})
		if err != nil {
			return err
		}
		if dryRun {
			fmt.Fprintln(cmd.OutOrStdout(), qemu.Shell(started.Argv))
			return nil
		}
		in := started.Instance
		out := cmd.OutOrStdout()
		if w := started.Accel.Warning; w != "" {
			fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s\n", w)
		}
		fmt.Fprintf(out, "Started VM %s (pid %d, %s)\n", in.Name, started.PID, started.Accel.Name)
		if started.DirectBoot {
			fmt.Fprintf(out, "Booting the installer from %s (direct kernel boot)\n", started.ISO)
		} else if started.ISO != "" {
			fmt.Fprintf(out, "Booting %s first (CD-ROM)\n", started.ISO)
		}
		fmt.Fprintf(out, "Serial console: nixvm console %s   Log: nixvm logs -f %s\n", in.Name, in.Name)
		fmt.Fprintf(out, "SSH forwarded from 127.0.0.1:%d\n", started.SSHPort)
		printDisplay(out, in, started.Display)
		return nil
	}
	return cmd
}

// hostDisplay says whether the host has a display a window can open on.
func hostDisplay() bool {
	return os.Getenv("DISPLAY") != "" || os.Getenv("WAYLAND_DISPLAY") != ""
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// printDisplay says which display the VM got and why, and what to do with
// it: the keys of a window, the viewer command of a socket.
func printDisplay(out io.Writer, in store.Instance, d vm.DisplayChoice) {
	why := displayWhy(d)
	switch d.Mode {
	case "none":
		fmt.Fprintf(out, "Display: none (%s); nixvm screenshot %s shows the screen, --display gtk opens a window\n", why, in.Name)
	case "gtk", "sdl":
		fmt.Fprintf(out, "Display: a %s window (%s)\n%s\n", d.Mode, why, vm.DisplayKeys(d.Mode))
	default:
		fmt.Fprintf(out, "Display: %s (%s)\n%s\n", d.Mode, why, vm.ViewerHelp(in, d.Mode))
	}
}

// displayWhy words where a display choice came from.
func displayWhy(d vm.DisplayChoice) string {
	switch d.From {
	case vm.DisplayFromFlag:
		return "--display"
	case vm.DisplayRemembered:
		return "remembered from an earlier nixvm start --display"
	case vm.DisplayFromSpec:
		return "the spec's display"
	}
	return d.Why
}
