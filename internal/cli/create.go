package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/nixvm/nixvm/internal/images"
	"github.com/nixvm/nixvm/internal/install"
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
(its release, or --iso PATH) for a hand install.`,
		Args: cobra.MaximumNArgs(1),
	}
	flags := spec.BindFlags(cmd.Flags())
	cmd.Flags().StringVarP(&file, "file", "f", "", "read the VM spec from this YAML file")
	cmd.Flags().BoolVar(&manual, "manual", false, "prepare the VM for a hand install instead of installing")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print progress as JSON lines (one event per line)")
	cmd.Flags().StringVar(&channelsURL, "channels-url", "", "NixOS channel server (default $NIXVM_CHANNELS_URL or https://channels.nixos.org)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
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
		var rep install.Reporter = newTextReporter(out)
		if asJSON {
			rep = newJSONReporter(out)
		}
		res, err := install.Run(ctx, lock, s, install.Options{
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
