package console

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY returns the controller and terminal ends of a new pseudo-terminal,
// or skips when the host has none.
func openPTY(t *testing.T) (ptmx, tty *os.File) {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { ptmx.Close() })
	fd := int(ptmx.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Skipf("pty number: %v", err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("open pty terminal: %v", err)
	}
	t.Cleanup(func() { tty.Close() })
	return ptmx, tty
}

// TestAttachTerminalRawAndRestored attaches with a real terminal as input:
// Ctrl-] only reaches Attach if the terminal was put in raw mode (a cooked
// terminal would hold it until a newline), and the terminal settings must be
// back as they were afterwards.
func TestAttachTerminalRawAndRestored(t *testing.T) {
	ptmx, tty := openPTY(t)
	before, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	sock, received := fakeSerial(t, false)

	// Type only once Attach is connected (the banner is out), so the keys
	// are not read by the cooked terminal before raw mode is set.
	out := &syncBuffer{}
	go func() {
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(out.String(), "Press Ctrl-]") && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		ptmx.Write([]byte("\x03ls\x1d"))
	}()
	if err := Attach(ctxFor(t, 10*time.Second), sock, tty, out, "lab"); err != nil {
		t.Fatalf("Attach: %v", err)
	}
	if got := <-received; got != "\x03ls" {
		t.Errorf("VM received %q, want Ctrl-C and ls passed through raw", got)
	}
	after, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if *after != *before {
		t.Errorf("terminal not restored:\nbefore %+v\nafter  %+v", *before, *after)
	}
}
