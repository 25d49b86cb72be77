package console

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestFollow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "serial.log")
	appendTo := func(s string) {
		t.Helper()
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString(s); err != nil {
			t.Fatal(err)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- Follow(ctx, path, out) }()

	// The log does not exist yet: Follow waits for it.
	appendTo("SeaBIOS (version 1.16.2)\n")
	out.waitFor(t, "SeaBIOS (version 1.16.2)\n")

	appendTo("Booting from ROM...\n")
	appendTo("[    0.000000] Linux version 6.1.0\n")
	out.waitFor(t, "SeaBIOS (version 1.16.2)\nBooting from ROM...\n[    0.000000] Linux version 6.1.0\n")

	// QEMU truncates the log when the VM starts again.
	if err := os.WriteFile(path, []byte("SeaBIOS again\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out.waitFor(t, "Linux version 6.1.0\nSeaBIOS again\n")

	// Replaced by a new file (rename over it).
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte("new file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	out.waitFor(t, "SeaBIOS again\nnew file\n")

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Follow = %v, want nil when ctx ends", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Follow did not return after ctx was canceled")
	}
	if got, want := out.String(), "SeaBIOS (version 1.16.2)\nBooting from ROM...\n[    0.000000] Linux version 6.1.0\nSeaBIOS again\nnew file\n"; got != want {
		t.Errorf("Follow wrote %q, want %q", got, want)
	}
}
