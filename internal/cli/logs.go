package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/nixvm/nixvm/internal/console"
	"github.com/nixvm/nixvm/internal/store"
)

func newLogsCommand() *cobra.Command {
	var follow bool
	cmd := &cobra.Command{
		Use:               "logs NAME",
		Short:             "Print a VM's serial console log",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeVMNames,
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new output until interrupted")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		in, err := store.Lookup(args[0])
		if err != nil {
			return err
		}
		if follow {
			err := console.Follow(cmd.Context(), in.SerialLog(), cmd.OutOrStdout())
			if errors.Is(err, cmd.Context().Err()) {
				return nil
			}
			return err
		}
		f, err := os.Open(in.SerialLog())
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("VM %s has no console log yet: it has not been started", in.Name)
		}
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(cmd.OutOrStdout(), f)
		return err
	}
	return cmd
}
