package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/nixvm/nixvm/internal/ppm"
	"github.com/nixvm/nixvm/internal/qmp"
	"github.com/nixvm/nixvm/internal/store"
	"github.com/nixvm/nixvm/internal/vm"
)

func newScreenshotCommand() *cobra.Command {
	var out string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "screenshot NAME",
		Short: "Save a PNG of a running VM's screen",
		Long: `Save what a running VM's display shows as a PNG, through QEMU's screendump.
It works without a window (headless VMs have a VGA too on x86). The
default file is NAME-<date>-<time>.png in the current directory.`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeVMNames,
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "where to write the PNG (default NAME-<timestamp>.png)")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "how long QEMU gets to write the screen")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if timeout <= 0 {
			return fmt.Errorf("--timeout: must be positive, e.g. 10s or 1m")
		}
		in, err := store.Lookup(args[0])
		if err != nil {
			return err
		}
		if st := vm.Status(in); st.State != vm.StateRunning && st.State != vm.StateInstalling {
			return fmt.Errorf("VM %s is %s, so it has no screen to take; start it with: nixvm start %s", in.Name, st.State, in.Name)
		}
		if out == "" {
			out = fmt.Sprintf("%s-%s.png", in.Name, time.Now().Format("20060102-150405"))
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
		defer cancel()
		img, err := screendump(ctx, in)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			return fmt.Errorf("encode the screenshot as PNG: %w", err)
		}
		if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
			return fmt.Errorf("-o: write the screenshot: %w", err)
		}
		b := img.Bounds()
		fmt.Fprintf(cmd.OutOrStdout(), "%s (%dx%d)\n", out, b.Dx(), b.Dy())
		return nil
	}
	return cmd
}

// screendump asks QEMU to write the screen to a file in the instance
// directory (QEMU opens the file itself, so the path must be one it can
// write: it runs as the same user) and decodes it. PNG is asked for
// first; QEMU before 7.1, or one built without libpng, rejects the format
// argument and gets asked again for its PPM.
func screendump(ctx context.Context, in store.Instance) (image.Image, error) {
	f, err := os.CreateTemp(in.Dir, ".screendump-*")
	if err != nil {
		return nil, fmt.Errorf("screenshot of %s: %w", in.Name, err)
	}
	path := f.Name()
	f.Close()
	defer os.Remove(path)
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}

	dctx, dcancel := context.WithTimeout(ctx, 5*time.Second)
	c, err := qmp.Dial(dctx, in.QMPSocket())
	dcancel()
	if err != nil {
		return nil, fmt.Errorf("screenshot of %s: %w", in.Name, err)
	}
	defer c.Close()

	format := "png"
	err = c.Execute(ctx, "screendump", map[string]string{"filename": abs, "format": "png"}, nil)
	var qerr *qmp.Error
	if errors.As(err, &qerr) && qerr.Class == "GenericError" && strings.Contains(qerr.Desc, "format") {
		format = "ppm"
		err = c.Execute(ctx, "screendump", map[string]string{"filename": abs}, nil)
	}
	if errors.As(err, &qerr) && strings.Contains(strings.ToLower(qerr.Desc), "console") {
		// "There is no QemuConsole I can screendump from."
		return nil, fmt.Errorf("VM %s has no display device to take a screenshot of (QEMU: %s)", in.Name, qerr.Desc)
	}
	if err != nil {
		return nil, fmt.Errorf("screenshot of %s: QMP screendump: %w", in.Name, err)
	}
	r, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("screenshot of %s: read QEMU's screendump: %w", in.Name, err)
	}
	defer r.Close()
	var img image.Image
	if format == "png" {
		img, err = png.Decode(r)
	} else {
		img, err = ppm.Decode(r)
	}
	if err != nil {
		return nil, fmt.Errorf("screenshot of %s: QEMU's %s screendump does not decode: %w", in.Name, format, err)
	}
	return img, nil
}
