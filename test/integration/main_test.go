// Package integration runs the real nixvm binary against real QEMU (TCG),
// OVMF and SeaBIOS, with a tiny NixOS-shaped ISO built from Debian packages
// by scripts/build-test-iso.
package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var (
	nixvmBin string // the binary under test
	testISO  string // serial-console test ISO (boots through isolinux/GRUB)
	setupErr error  // why the integration environment is missing
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "nixvm-it-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	setupErr = setup(dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func repoRoot() string {
	wd, _ := os.Getwd()
	return filepath.Join(wd, "..", "..")
}

func setup(dir string) error {
	for _, tool := range []string{"qemu-system-x86_64", "qemu-img", "xorriso"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not installed (run scripts/apt-deps-test-iso --install)", tool)
		}
	}
	nixvmBin = filepath.Join(dir, "nixvm")
	build := exec.Command("go", "build", "-o", nixvmBin, "./cmd/nixvm")
	build.Dir = repoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build nixvm: %v\n%s", err, out)
	}
	testISO = os.Getenv("NIXVM_TEST_ISO")
	if testISO == "" {
		testISO = filepath.Join(dir, "test.iso")
		// The default entries of the real ISO have no serial console; the
		// extra parameter makes a -cdrom boot visible in serial.log.
		cmd := exec.Command(filepath.Join(repoRoot(), "scripts", "build-test-iso"), testISO, "--cmdline-extra", "console=ttyS0,115200n8")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("build test ISO: %v\n%s", err, out)
		}
	}
	return nil
}

// needIntegration skips (or fails, under NIXVM_REQUIRE_INTEGRATION=1) when
// the tools are missing.
func needIntegration(t *testing.T) {
	t.Helper()
	if setupErr == nil {
		return
	}
	if os.Getenv("NIXVM_REQUIRE_INTEGRATION") == "1" {
		t.Fatalf("integration environment: %v", setupErr)
	}
	t.Skipf("integration environment: %v", setupErr)
}

// env is one isolated nixvm user: its own XDG directories.
type env struct {
	t    *testing.T
	vars []string
	data string
}

func newEnv(t *testing.T) *env {
	needIntegration(t)
	// Short paths: the socket path limit is part of what we test elsewhere.
	root, err := os.MkdirTemp("", "nv")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, data: filepath.Join(root, "d")}
	e.vars = append(os.Environ(),
		"XDG_DATA_HOME="+e.data,
		"XDG_CACHE_HOME="+filepath.Join(root, "c"),
		"XDG_CONFIG_HOME="+filepath.Join(root, "cfg"),
		"XDG_RUNTIME_DIR="+filepath.Join(root, "r"),
	)
	t.Cleanup(func() {
		// Never leave a QEMU behind, whatever the test did.
		ents, _ := os.ReadDir(filepath.Join(e.data, "nixvm", "vms"))
		for _, ent := range ents {
			if !strings.HasPrefix(ent.Name(), ".") {
				e.run("rm", "--force", ent.Name())
			}
		}
		os.RemoveAll(root)
	})
	return e
}

// setPath replaces PATH for the nixvm processes of this env.
func (e *env) setPath(path string) { e.setVar("PATH", path) }

// setData moves XDG_DATA_HOME.
func (e *env) setData(dir string) {
	e.data = dir
	e.setVar("XDG_DATA_HOME", dir)
}

func (e *env) setVar(k, v string) {
	for i, kv := range e.vars {
		if strings.HasPrefix(kv, k+"=") {
			e.vars[i] = k + "=" + v
			return
		}
	}
	e.vars = append(e.vars, k+"="+v)
}

type result struct {
	out, err string
	code     int
}

func (e *env) run(args ...string) result {
	// A bound for a hung command, not a budget: an unattended install under
	// TCG on a loaded 2-core machine takes several minutes.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, nixvmBin, args...)
	cmd.Env = e.vars
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		code = -1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
	}
	return result{out.String(), errb.String(), code}
}

// ok runs nixvm and fails the test unless it exits 0.
func (e *env) ok(args ...string) string {
	e.t.Helper()
	r := e.run(args...)
	if r.code != 0 {
		e.t.Fatalf("nixvm %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.out, r.err)
	}
	return r.out
}

// waitLog polls `nixvm logs NAME` until re matches or the deadline passes.
func (e *env) waitLog(name string, re *regexp.Regexp, within time.Duration) {
	e.t.Helper()
	deadline := time.Now().Add(within)
	var last result
	for time.Now().Before(deadline) {
		last = e.run("logs", name)
		if re.MatchString(last.out) {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	e.t.Fatalf("console of %s did not show %q within %s; last lines:\n%s", name, re, within, tail(last.out, 15))
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
