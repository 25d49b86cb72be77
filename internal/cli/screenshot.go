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
It works without a window: headless VMs have a screen too on x86, and
desktop VMs on every architecture. The default file is
NAME-<date>-<time>.png in the current directory.`,
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
// first; a QEMU that cannot write PNG (pngUnsupported) is asked again for
// its PPM.
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
	if pngUnsupported(err) {
		format = "ppm"
		err = c.Execute(ctx, "screendump", map[string]string{"filename": abs}, nil)
	}
	if err != nil {
		return nil, screendumpError(in.Name, err)
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

// pngUnsupported says whether QEMU refused a PNG screendump because it
// cannot write PNG, so a PPM one is worth asking for: QEMU before 7.1 has
// no format argument ("Parameter 'format' is unexpected", later "Invalid
// parameter 'format'"), and 7.1+ built without libpng answers "Enable PNG
// support with libpng for screendump" (ui/console.c).
func pngUnsupported(err error) bool {
	var qerr *qmp.Error
	if !errors.As(err, &qerr) {
		return false
	}
	d := strings.ToLower(qerr.Desc)
	return strings.Contains(d, "'format'") || strings.Contains(d, "libpng")
}

// screendumpError is the one-line message for QEMU's answer to a
// screendump of VM name. A VM without a graphics device has no console to
// dump: QEMU 7.2 says "There is no console to take a screendump from",
// older ones "There is no QemuConsole I can screendump from.".
func screendumpError(name string, err error) error {
	var qerr *qmp.Error
	if errors.As(err, &qerr) && (strings.Contains(qerr.Desc, "no console") || strings.Contains(qerr.Desc, "no QemuConsole")) {
		return fmt.Errorf("VM %s has no display device to take a screenshot of (started headless); restart it with one: nixvm stop %s && nixvm start %s --display vnc", name, name, name)
	}
	return fmt.Errorf("screenshot of %s: QMP screendump: %w", name, err)
}
