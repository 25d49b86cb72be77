package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/nixvm/nixvm/internal/store"
	"github.com/nixvm/nixvm/internal/vm"
)

func newDisplayCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "display NAME",
		Short: "Show how to see a running VM's screen (viewer command for VNC and SPICE)",
		Long: `Print the display a running VM was started with and how to look at it:
a window's keys, or the viewer command for the unix socket of --display vnc
or spice (VNC and SPICE never listen on TCP). Change it with
nixvm stop NAME && nixvm start NAME --display gtk|sdl|spice|vnc|none.`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeVMNames,
		RunE: func(cmd *cobra.Command, args []string) error {
			in, err := store.Lookup(args[0])
			if err != nil {
				return err
			}
			if st := vm.Status(in); st.State != vm.StateRunning {
				return fmt.Errorf("VM %s is %s, so it shows nothing; start it with: nixvm start %s --display gtk|sdl|spice|vnc", in.Name, st.State, in.Name)
			}
			b, err := os.ReadFile(in.CmdlineFile())
			if err != nil {
				return fmt.Errorf("read the VM's QEMU command line: %w", err)
			}
			out := cmd.OutOrStdout()
			mode := vm.RunningDisplay(string(b))
			if mode == "none" {
				fmt.Fprintf(out, "VM %s runs headless (display none): nixvm screenshot %s takes its screen, nixvm console %s its serial console.\n", in.Name, in.Name, in.Name)
				fmt.Fprintf(out, "For a window or a viewer: nixvm stop %s && nixvm start %s --display gtk|sdl|spice|vnc\n", in.Name, in.Name)
				return nil
			}
			fmt.Fprintf(out, "VM %s: %s\n", in.Name, vm.ViewerHelp(in, mode))
			return nil
		},
	}
}
