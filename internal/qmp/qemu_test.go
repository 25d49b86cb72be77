package qmp

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// needTool skips when a host tool is missing, unless the environment says
// integration tests are required (CI), in which case it fails.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("NIXVM_REQUIRE_INTEGRATION") == "1" {
			t.Fatalf("%s not found and NIXVM_REQUIRE_INTEGRATION=1: %v", name, err)
		}
		t.Skipf("%s not found (install qemu-system-x86 to run this test): %v", name, err)
	}
	return p
}

// TestRealQEMU drives a real QEMU (TCG, no disks, no OS) over QMP.
func TestRealQEMU(t *testing.T) {
	qemu := needTool(t, "qemu-system-x86_64")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	sock := filepath.Join(shortDir(t), "qmp.sock")
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, qemu,
		"-machine", "pc", "-accel", "tcg", "-display", "none", "-nodefaults",
		"-m", "64", "-qmp", "unix:"+sock+",server=on,wait=off")
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", qemu, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})

	// QEMU creates the socket during start-up; poll for it with a deadline.
	var c *Client
	for {
		var err error
		dctx, dcancel := context.WithTimeout(ctx, 2*time.Second)
		c, err = Dial(dctx, sock)
		dcancel()
		if err == nil {
			break
		}
		select {
		case werr := <-exited:
			exited <- werr
			t.Fatalf("QEMU exited before QMP was up: %v\n%s", werr, stderr.String())
		case <-ctx.Done():
			t.Fatalf("QMP socket never became usable: %v\n%s", err, stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	defer c.Close()

	running, status, err := c.QueryStatus(ctx)
	if err != nil || !running || status != "running" {
		t.Fatalf("QueryStatus = %v, %q, %v; want true, running, nil", running, status, err)
	}

	// No OS listens to ACPI, so the machine keeps running; QEMU still
	// accepts the command and reports the button press.
	if err := c.SystemPowerdown(ctx); err != nil {
		t.Fatalf("SystemPowerdown: %v", err)
	}
	if _, err := c.WaitEvent(ctx, "POWERDOWN"); err != nil {
		t.Fatalf("WaitEvent(POWERDOWN): %v", err)
	}

	var qerr *Error
	if err := c.Execute(ctx, "no-such-command", nil, nil); !errors.As(err, &qerr) || qerr.Class != "CommandNotFound" {
		t.Errorf("unknown command = %v, want *Error CommandNotFound", err)
	}

	if err := c.Quit(ctx); err != nil {
		t.Fatalf("Quit: %v", err)
	}
	ev, err := c.WaitEvent(ctx, "SHUTDOWN")
	if err != nil {
		t.Fatalf("WaitEvent(SHUTDOWN): %v", err)
	}
	if !bytes.Contains(ev.Data, []byte("host-qmp-quit")) {
		t.Errorf("SHUTDOWN data = %s, want reason host-qmp-quit", ev.Data)
	}
	if ev.Timestamp.IsZero() {
		t.Error("SHUTDOWN event has no timestamp")
	}
	select {
	case err := <-exited:
		exited <- err
		if err != nil {
			t.Errorf("QEMU exit after quit: %v\n%s", err, stderr.String())
		}
	case <-ctx.Done():
		t.Fatal("QEMU did not exit after quit")
	}
	if _, err := c.WaitEvent(ctx, "SHUTDOWN"); !errors.Is(err, ErrClosed) {
		t.Errorf("WaitEvent after QEMU exit = %v, want ErrClosed", err)
	}
}
