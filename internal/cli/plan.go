package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nixvm/nixvm/internal/arch"
	"github.com/nixvm/nixvm/internal/images"
	"github.com/nixvm/nixvm/internal/install"
	"github.com/nixvm/nixvm/internal/iso"
	"github.com/nixvm/nixvm/internal/qemu"
	"github.com/nixvm/nixvm/internal/spec"
	"github.com/nixvm/nixvm/internal/sshx"
	"github.com/nixvm/nixvm/internal/store"
	"github.com/nixvm/nixvm/internal/vm"
)

func newPlanCommand() *cobra.Command {
	var file, outDir string
	cmd := &cobra.Command{
		Use:   "plan NAME [flags | -f nixvm.yaml] [--out DIR]",
		Short: "Show what an install would do, without running anything",
		Long: `Show the install plan of a VM: the configuration.nix nixvm would write,
nixvm-extra.nix (the spec's extraConfig as a module of its own) and install.sh,
the script run inside the installer (its header lists the partition layout).

The VM is described as for create: by flags, by a YAML file (-f), or both.
Nothing is run and no VM is touched. Without --out the files are printed;
with --out DIR they are written there.`,
		Args: cobra.MaximumNArgs(1),
	}
	flags := spec.BindFlags(cmd.Flags())
	cmd.Flags().StringVarP(&file, "file", "f", "", "read the VM spec from this YAML file")
	cmd.Flags().StringVar(&outDir, "out", "", "write the files to this `directory` (made if missing) instead of printing them")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		s, err := planSpec(file, args, flags)
		if err != nil {
			return err
		}
		// Fixed array UUIDs, so the same spec prints the same plan; create
		// picks random ones.
		in := install.Inputs{Spec: *s, User: sshx.User, ArrayUUIDs: install.ArrayUUIDsFor(s.Name)}
		in.Release, in.StateVersionComment = planRelease(s.Release)
		if in.AuthorizedKey, err = planAuthorizedKey(); err != nil {
			return err
		}
		p, err := install.Make(in)
		if err != nil {
			return err
		}
		files := []planFile{
			{install.SeedConfiguration, p.ConfigurationNix, 0o644},
			{install.SeedExtra, p.ExtraNix, 0o644},
			{install.SeedIdentity, p.IdentityNix, 0o644},
			{install.SeedHostname, p.HostnameNix, 0o644},
			{install.SeedInstallScript, p.InstallScript, 0o755},
		}
		qemuLines, err := planQEMU(cmd.Context(), s)
		if err != nil {
			return err
		}
		files = append(files, planFile{"qemu-commands.sh", qemuLines, 0o644})
		if outDir == "" {
			out := cmd.OutOrStdout()
			for i, f := range files {
				if i > 0 {
					fmt.Fprintln(out)
				}
				fmt.Fprintf(out, "==> %s <==\n%s", f.name, f.data)
			}
			return nil
		}
		return writePlan(outDir, files)
	}
	return cmd
}

type planFile struct {
	name, data string
	mode       os.FileMode
}

// planSpec resolves the spec as create does (docs/spec.md): file, then the
// NAME argument, then flags, defaults, validation.
func planSpec(file string, args []string, flags *spec.Flags) (*spec.Spec, error) {
	s := &spec.Spec{}
	if file != "" {
		var err error
		if s, err = spec.Load(file); err != nil {
			return nil, err
		}
	}
	if len(args) == 1 {
		if s.Name != "" && s.Name != args[0] {
			return nil, fmt.Errorf("NAME: %q differs from name %q in %s; give one of them", args[0], s.Name, file)
		}
		s.Name = args[0]
	}
	if s.Name == "" {
		return nil, fmt.Errorf("NAME: missing; give the VM a name (nixvm create NAME) or set name in the spec file")
	}
	if err := flags.Apply(s); err != nil {
		return nil, err
	}
	s.ApplyDefaults()
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}

var releaseVersionRE = regexp.MustCompile(`^[0-9]{2}\.[0-9]{2}$`)

// planRelease is system.stateVersion for the plan: the spec's release when
// it is a version. "stable" and "unstable" are only resolved when create
// fetches the ISO, so the plan assumes the pinned stable release and says so.
func planRelease(release string) (version, comment string) {
	if releaseVersionRE.MatchString(release) {
		return release, ""
	}
	return images.PinnedStable, fmt.Sprintf("nixvm plan: release %q is resolved when create fetches the installer; %s assumed here.", release, images.PinnedStable)
}

// planAuthorizedKey is the user's nixvm public key if it exists. plan only
// reads it: create makes the key, plan never does.
func planAuthorizedKey() (string, error) {
	priv, err := sshx.UserKeyPath()
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(priv + ".pub")
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Sprintf("ssh-ed25519 PLACEHOLDER (nixvm create makes the key %s.pub)", priv), nil
	}
	if err != nil {
		return "", fmt.Errorf("read your nixvm SSH key: %w", err)
	}
	key, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return strings.TrimSpace(key), nil
}

// writePlan writes the files to dir, made 0700 if missing.
func writePlan(dir string, files []planFile) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	for _, f := range files {
		path := filepath.Join(dir, f.name)
		if err := os.WriteFile(path, []byte(f.data), f.mode); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
		// WriteFile keeps an existing file's mode and applies the umask.
		if err := os.Chmod(path, f.mode); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
	}
	return nil
}

// planQEMU renders the two QEMU commands of an install: the installer boot
// (with the seed drive) and the first boot from disk. Paths that only exist
// once create runs (the extracted kernel, the seed image) are shown where
// create will put them; the SSH port is picked free at each start.
func planQEMU(ctx context.Context, s *spec.Spec) (string, error) {
	facts, err := detectHost(ctx)
	if err != nil {
		return "", err
	}
	in, err := store.Open(s.Name)
	if err != nil {
		return "", err
	}
	cache, err := store.CacheDir()
	if err != nil {
		return "", err
	}
	m, err := arch.For(s.Arch)
	if err != nil {
		return "", err
	}
	// The same decision as create's, over a stand-in for the ISO's facts.
	boot, err := vm.InstallerBoot(&iso.Info{Arch: s.Arch, Kernel: "/boot/" + m.KernelFile, Cmdline: "PARAMETERS-OF-THE-ISO-DEFAULT-ENTRY"}, filepath.Join(cache, "boot", "ISO"))
	if err != nil {
		return "", err
	}
	installer := vm.StartOptions{
		ISO:  filepath.Join(cache, "images", "DIGEST", "nixos-minimal.iso"),
		Seed: in.SeedImage(),
		Boot: &boot,
	}
	var b strings.Builder
	b.WriteString("# QEMU commands of nixvm create " + s.Name + " (paths in capitals are resolved when create runs;\n# the SSH port is picked free at each start unless the spec fixes it).\n\n")
	for _, c := range []struct {
		title string
		opts  vm.StartOptions
	}{{"1. the installer, booted directly, with the seed drive", installer}, {"2. the installed system, from disk", vm.StartOptions{}}} {
		c.opts.DryRun = true
		if s.SSHPort == 0 {
			if c.opts.SSHPort, err = vm.FreePort(); err != nil {
				return "", err
			}
		}
		plan, err := vm.Plan(ctx, facts, in, s, c.opts)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "# %s\n%s\n\n", c.title, qemu.ShellLines(plan.Argv))
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}
