package host

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// touch creates empty files under root.
func touch(t *testing.T, root string, paths ...string) {
	t.Helper()
	for _, p := range paths {
		p = filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// fakeQEMU writes an executable shell script at path that answers
// --version and -accel help like QEMU does, and exits with code.
func fakeQEMU(t *testing.T, path, version, accels string, code int) {
	t.Helper()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("fake QEMU binaries are shell scripts; sh not found")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf(`#!/bin/sh
case "$1" in
--version) printf 'QEMU emulator version %s (fake)\nCopyright (c) 2003-2024 Fabrice Bellard and the QEMU Project developers\n' ;;
-accel) printf 'Accelerators supported in QEMU binary:\n%s\n' ;;
esac
[ %d = 0 ] || echo "fake failure" >&2
exit %d
`, version, accels, code, code)
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
}

// testEnv is an env over an empty machine under root.
func testEnv(root string) *env {
	return &env{
		goos:        "linux",
		goarch:      "amd64",
		path:        filepath.Join(root, "bin"),
		osRelease:   []string{filepath.Join(root, "etc/os-release")},
		cpuinfo:     filepath.Join(root, "proc/cpuinfo"),
		openKVM:     func() error { return &os.PathError{Op: "open", Path: "/dev/kvm", Err: os.ErrNotExist} },
		systemShare: filepath.Join(root, "usr/share"),
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
