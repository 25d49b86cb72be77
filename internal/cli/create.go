package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/nixvm/nixvm/internal/images"
	"github.com/nixvm/nixvm/internal/install"
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
		// What an unattended install needs (memory, disk, a new enough
		// release) is checked before anything is downloaded or made.
		if !manual {
			if err := preflightInstall(s, s.Release); err != nil {
				return err
			}
		}
		ctx := cmd.Context()
		out, errw := cmd.OutOrStdout(), cmd.ErrOrStderr()
		facts, err := detectHost(ctx)
		if err != nil {
			return err
		}
		if err := removeFailed(ctx, s.Name, errw); err != nil {
			return err
		}
		pull := images.PullOptions{
			ChannelsURL: channelsURL,
			Progress:    newImageProgress(errw),
			Logf:        func(f string, a ...any) { fmt.Fprintf(errw, "nixvm: "+f+"\n", a...) },
		}
		// Get and check the installer before making anything, so a failed
		// download or a wrong ISO leaves no VM behind.
		var installerISO string
		if !manual {
			if installerISO, err = vm.SpecInstallerISO(ctx, s, pull); err != nil {
				return fmt.Errorf("get the installer: %w (offline? give a local ISO with --iso PATH)", err)
			}
			inst, err := vm.PrepareInstaller(ctx, installerISO, s.Arch)
			if err != nil {
				if s.ISO != "" {
					return fmt.Errorf("--iso: %w", err)
				}
				return err
			}
			release, err := install.InstallerRelease(inst.Info)
			if err != nil {
				return err
			}
			if err := preflightInstall(s, release); err != nil {
				if s.ISO != "" {
					return fmt.Errorf("--iso %s is NixOS %s: %w", s.ISO, release, err)
				}
				return err
			}
		}
		lock, err := vm.Create(ctx, facts, s, vm.CreateOptions{Manual: manual})
		if err != nil {
			return err
		}
		// Held from the first file of the VM to the end of the install.
		defer lock.Unlock()
		in := lock.Instance()
		if manual {
			fmt.Fprintf(out, "Created VM %s in %s\n", s.Name, in.Dir)
			fmt.Fprintf(out, "Start it with the installer attached: nixvm start %s\n", s.Name)
			fmt.Fprintf(out, "Then attach to its console:           nixvm console %s\n", s.Name)
			return nil
		}
		if w := facts.Accelerator(ctx, s.Arch).Warning; w != "" && !asJSON {
			fmt.Fprintf(errw, "warning: %s\n", w)
		}
		var rep installer.Reporter = newTextReporter(out)
		if asJSON {
			rep = newJSONReporter(out)
		}
		res, err := installer.Run(ctx, lock, s, installer.Options{
			Facts:    facts,
			Reporter: rep,
			Source:   vm.InstallerSource{Override: installerISO, Pull: pull},
		})
		if err != nil {
			return err
		}
		if !asJSON {
			fmt.Fprintf(out, "\nVM %s is ready: NixOS installed in %s.\n", s.Name, res.Total.Round(1e9))
			fmt.Fprintf(out, "  nixvm ssh %s                 a shell as %s (key login, host key verified)\n", s.Name, res.User)
			fmt.Fprintf(out, "  ssh -F <(nixvm ssh-config %s) nixvm-%s\n", s.Name, s.Name)
			fmt.Fprintf(out, "  nixvm console %s             the serial console\n", s.Name)
		}
		return nil
	}
	return cmd
}

// removeFailed clears the way for a retry: a VM whose create or install
// failed is removed, so create can start over. Any other existing VM is left
// for vm.Create to refuse.
func removeFailed(ctx context.Context, name string, errw io.Writer) error {
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
	fmt.Fprintf(errw, "nixvm: VM %s failed before; removing it to start over\n", name)
	return vm.Remove(ctx, lock, vm.RemoveOptions{})
}

// preflightInstall checks an unattended install of s by an installer of
// release (YY.MM; "stable" and "unstable" are always new enough): memory,
// disk sizes and option ages. It is pure and quick.
func preflightInstall(s *spec.Spec, release string) error {
	if err := install.CheckSpec(s); err != nil {
		return err
	}
	if !releaseVersionRE.MatchString(release) {
		return nil
	}
	return install.CheckRelease(install.Inputs{Spec: *s, Release: release})
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
