package cli

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/nixvm/nixvm/internal/images"
	"github.com/nixvm/nixvm/internal/installer"
	"github.com/nixvm/nixvm/internal/spec"
	"github.com/nixvm/nixvm/internal/store"
	"github.com/nixvm/nixvm/internal/vm"
)

func newCreateCommand() *cobra.Command {
	var (
		file        string
		manual      bool
		asJSON      bool
		channelsURL string
		from        string
	)
	cmd := &cobra.Command{
		Use:   "create NAME [flags | -f nixvm.yaml]",
		Short: "Create a VM and install NixOS into it, unattended",
		Long: `Create a VM and install NixOS into it without a keystroke: boot the
official installer, partition and format the disks as the spec says, write
configuration.nix, run nixos-install, boot the installed system and wait
until SSH answers. Then: nixvm ssh NAME.

The VM is described by flags, by a YAML file (-f), or both (flags win); see
docs/spec.md. With --manual the VM is only prepared: it boots the installer
(its release, or --iso PATH) for a hand install.

With --from SRC there is no install: NAME is a linked clone of the stopped
VM SRC (see nixvm clone) with its own identity, started at once and ready
when SSH answers, in the time a boot takes. Only what needs no new install
can differ from SRC: --cpus, --memory, --forward, --ssh-port, --display.`,
		Args: cobra.MaximumNArgs(1),
	}
	flags := spec.BindFlags(cmd.Flags())
	cmd.Flags().StringVarP(&file, "file", "f", "", "read the VM spec from this YAML file")
	cmd.Flags().BoolVar(&manual, "manual", false, "prepare the VM for a hand install instead of installing")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print progress as JSON lines (one event per line)")
	cmd.Flags().StringVar(&channelsURL, "channels-url", "", "NixOS channel server (default $NIXVM_CHANNELS_URL or https://channels.nixos.org)")
	cmd.Flags().StringVar(&from, "from", "", "make the VM as a linked clone of the stopped VM `SRC` (no install), started and ready for SSH")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if cmd.Flags().Changed("from") {
			return createFrom(cmd, args, from, file, manual, asJSON, flags)
		}
		s, err := planSpec(file, args, flags)
		if err != nil {
			return err
		}
		ctx := cmd.Context()
		out, errw := cmd.OutOrStdout(), cmd.ErrOrStderr()
		facts, err := detectHost(ctx)
		if err != nil {
			return err
		}
		var rep installer.Reporter = newTextReporter(out)
		if asJSON {
			rep = newJSONReporter(out)
		}
		opts := installer.CreateOptions{
			Manual: manual,
			Pull: images.PullOptions{
				ChannelsURL: channelsURL,
				Progress:    newImageProgress(errw),
				Logf:        logfTo(errw),
			},
			Reporter: rep,
			Logf:     logfTo(errw),
		}
		if !asJSON {
			opts.Warn = func(w string) { fmt.Fprintf(errw, "warning: %s\n", w) }
		}
		c, err := installer.Create(ctx, facts, s, opts)
		if err != nil {
			return err
		}
		if manual {
			fmt.Fprintf(out, "Created VM %s in %s\n", s.Name, c.Instance.Dir)
			fmt.Fprintf(out, "Start it with the installer attached: nixvm start %s\n", s.Name)
			fmt.Fprintf(out, "Then attach to its console:           nixvm console %s\n", s.Name)
			return nil
		}
		if !asJSON {
			res := c.Install
			fmt.Fprintf(out, "\nVM %s is ready: NixOS installed in %s.\n", s.Name, res.Total.Round(1e9))
			fmt.Fprintf(out, "  nixvm ssh %s                 a shell as %s (key login, host key verified)\n", s.Name, res.User)
			fmt.Fprintf(out, "  ssh -F <(nixvm ssh-config %s) nixvm-%s\n", s.Name, s.Name)
			fmt.Fprintf(out, "  nixvm console %s             the serial console\n", s.Name)
		}
		return nil
	}
	return cmd
}

// fromFlags are the create flags --from takes: they change how the VM runs,
// not what is installed on its disks.
var fromFlags = []string{"cpus", "memory", "forward", "ssh-port", "display"}

// createFrom is create --from SRC: a linked clone of SRC with the runtime
// flags applied, started and waited for.
func createFrom(cmd *cobra.Command, args []string, from, file string, manual, asJSON bool, flags *spec.Flags) error {
	if len(args) != 1 {
		return fmt.Errorf("NAME: missing; give the new VM a name (nixvm create NAME --from %s)", from)
	}
	if !store.NameRE.MatchString(from) {
		return fmt.Errorf("--from: %q is not a valid VM name (see nixvm list)", from)
	}
	if file != "" || manual {
		return fmt.Errorf("--from: cannot be combined with -f or --manual (the VM is a clone of %s, not a new install)", from)
	}
	var bad []string
	cmd.Flags().Visit(func(f *pflag.Flag) {
		switch f.Name {
		case "from", "json", "channels-url":
			return
		}
		if !slices.Contains(fromFlags, f.Name) {
			bad = append(bad, "--"+f.Name)
		}
	})
	if len(bad) > 0 {
		return fmt.Errorf("%s: cannot differ from %s with --from (the disks are %s's, installed); --from takes --%s", strings.Join(bad, ", "), from, from, strings.Join(fromFlags, ", --"))
	}
	name := args[0]
	if !store.NameRE.MatchString(name) {
		return fmt.Errorf("NAME: %q is not a valid VM name (use 1-63 of a-z, 0-9 and -, starting with a letter or digit)", name)
	}
	edit := func(s *spec.Spec) error { return flags.Apply(s) }
	return cloneVM(cmd.Context(), cmd.OutOrStdout(), from, name, vm.CloneOptions{Edit: edit}, true, asJSON)
}
