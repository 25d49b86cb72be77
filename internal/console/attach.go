package console

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"

	"golang.org/x/term"
)

// DetachKey is Ctrl-], the key that ends Attach (as in telnet and virsh).
const DetachKey = 0x1d

// Attach connects the user to the serial console socket: input goes to the
// VM, console output comes back. When in is a terminal it is put in raw mode
// (so Ctrl-C, arrows and tab reach the guest) and restored on every return.
// Attach returns nil when the user types Ctrl-], when in ends, or when the VM
// closes the console; it returns ctx's error when ctx ends first.
//
// A read from in that is in progress at return cannot be interrupted; it
// consumes at most one more chunk of input after Attach has returned.
func Attach(ctx context.Context, socketPath string, in io.Reader, out io.Writer, name string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", socketPath)
	if err != nil {
		return fmt.Errorf("connect to %s's serial console %s (is the VM running?): %w", name, socketPath, err)
	}
	defer conn.Close()

	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		old, err := term.MakeRaw(int(f.Fd()))
		if err != nil {
			return fmt.Errorf("put terminal in raw mode for the console: %w", err)
		}
		defer term.Restore(int(f.Fd()), old)
	}

	// Raw mode turns off output post-processing: write "\r\n" ourselves.
	if _, err := fmt.Fprintf(out, "Connected to %s's serial console. Press Ctrl-] to detach.\r\n", name); err != nil {
		return err
	}

	outDone := make(chan error, 1)
	go func() {
		_, err := io.Copy(out, conn)
		outDone <- err
	}()
	detached := make(chan error, 1)
	go func() { detached <- copyUntilDetach(conn, in) }()

	var result error
	var note string
	select {
	case err := <-detached:
		switch {
		case errors.Is(err, errConsoleGone):
			note = fmt.Sprintf("%s's serial console closed (VM stopped?).", name)
		case err != nil:
			result = fmt.Errorf("read input for %s's serial console: %w", name, err)
		default:
			note = fmt.Sprintf("Detached from %s's serial console.", name)
		}
	case err := <-outDone:
		outDone <- err
		if err != nil {
			result = fmt.Errorf("copy %s's serial console output: %w", name, err)
		}
		note = fmt.Sprintf("%s's serial console closed (VM stopped?).", name)
	case <-ctx.Done():
		result = ctx.Err()
	}
	// Stop the output copy before writing the note, so nothing from the VM
	// is written to out after Attach returns.
	conn.Close()
	<-outDone
	if note != "" {
		fmt.Fprintf(out, "\r\n%s\r\n", note)
	}
	return result
}

// errConsoleGone marks a failed write to the console: the VM closed it.
var errConsoleGone = errors.New("console closed")

// copyUntilDetach copies in to w until in ends or yields DetachKey; the
// bytes before the key are still sent.
func copyUntilDetach(w io.Writer, in io.Reader) error {
	buf := make([]byte, 4096)
	for {
		n, err := in.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			i := bytes.IndexByte(chunk, DetachKey)
			if i >= 0 {
				chunk = chunk[:i]
			}
			if len(chunk) > 0 {
				if _, werr := w.Write(chunk); werr != nil {
					return fmt.Errorf("%w: %v", errConsoleGone, werr)
				}
			}
			if i >= 0 {
				return nil
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
