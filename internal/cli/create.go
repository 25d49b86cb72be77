package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/nixvm/nixvm/internal/spec"
	"github.com/nixvm/nixvm/internal/vm"
)

func newCreateCommand() *cobra.Command {
	var (
		file   string
		manual bool
	)
	cmd := &cobra.Command{
		Use:   "create NAME [flags | -f nixvm.yaml]",
		Short: "Create a VM",
		Long: `Create a VM: its instance directory, disks and firmware variables.

The VM is described by flags, by a YAML file (-f), or both (flags win).
With --manual --iso PATH the VM boots that ISO for a hand install.`,
		Args: cobra.MaximumNArgs(1),
	}
	flags := spec.BindFlags(cmd.Flags())
	cmd.Flags().StringVarP(&file, "file", "f", "", "read the VM spec from this YAML file")
	cmd.Flags().BoolVar(&manual, "manual", false, "prepare the VM for a hand install from --iso instead of installing")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		s := &spec.Spec{}
		if file != "" {
			var err error
			if s, err = spec.Load(file); err != nil {
				return err
			}
		}
		if len(args) == 1 {
			if s.Name != "" && s.Name != args[0] {
				return fmt.Errorf("NAME: %q differs from name %q in %s; give one of them", args[0], s.Name, file)
			}
			s.Name = args[0]
		}
		if s.Name == "" {
			return fmt.Errorf("NAME: missing; give the VM a name (nixvm create NAME) or set name in the spec file")
		}
		if err := flags.Apply(s); err != nil {
			return err
		}
		s.ApplyDefaults()
		if err := s.Validate(); err != nil {
			return err
		}
		if !manual {
			return fmt.Errorf("the unattended install is not available yet: use --manual --iso PATH for a hand install")
		}
		if s.ISO == "" {
			return fmt.Errorf("--iso: a manual install needs the installer ISO (--manual --iso PATH)")
		}
		facts, err := detectHost(cmd.Context())
		if err != nil {
			return err
		}
		in, err := vm.Create(cmd.Context(), facts, s, vm.CreateOptions{Manual: true, ISO: s.ISO})
		if err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		fmt.Fprintf(out, "Created VM %s in %s\n", s.Name, in.Dir)
		fmt.Fprintf(out, "Start it with the installer attached: nixvm start %s\n", s.Name)
		fmt.Fprintf(out, "Watch its console:                     nixvm console %s\n", s.Name)
		return nil
	}
	return cmd
}
