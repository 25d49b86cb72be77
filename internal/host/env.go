package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"
)

// env is everything detection touches outside the process. Tests build
// one over a temporary directory; binaries in it are real (shell scripts).
type env struct {
	goos, goarch string
	path         string   // $PATH, searched for the QEMU binaries
	osRelease    []string // os-release files, first readable wins
	cpuinfo      string   // /proc/cpuinfo
	openKVM      func() error
	systemShare  string   // where distributions put firmware: /usr/share
	prefixes     []string // install prefixes always searched for QEMU's bundled firmware
	noVersions   bool     // find binaries without running them (Find)
}

func realEnv() *env {
	e := &env{
		goos:        runtime.GOOS,
		goarch:      runtime.GOARCH,
		path:        os.Getenv("PATH"),
		osRelease:   []string{"/etc/os-release", "/usr/lib/os-release"},
		cpuinfo:     "/proc/cpuinfo",
		openKVM:     openDevKVM,
		systemShare: "/usr/share",
		prefixes:    []string{"/usr", "/usr/local"},
	}
	if runtime.GOOS == "darwin" {
		e.prefixes = []string{"/opt/homebrew", "/usr/local", "/opt/local"}
	}
	return e
}

// openDevKVM is the test KVM itself makes: QEMU needs /dev/kvm read-write.
func openDevKVM() error {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return err
	}
	return f.Close()
}

// probeTimeout bounds each `qemu-* --version` / `-accel help` run, so a
// wedged binary cannot hang detection.
const probeTimeout = 20 * time.Second

// run runs a probe command and returns its stdout. The error names the
// command and carries its stderr, so it can be shown as is.
func run(ctx context.Context, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg != "" {
			return nil, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, msg)
		}
		return nil, fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return stdout.Bytes(), nil
}

// findBinary looks for name in the directories of path, the way a shell
// would, and asks it for its version. It returns the candidates tried when
// nothing usable is found, and a note when a file was found but does not
// run. Only ctx errors are returned as errors.
func findBinary(ctx context.Context, path, name string, probe bool) (b *Binary, searched []string, note string, err error) {
	for _, dir := range filepath.SplitList(path) {
		// Relative PATH entries are skipped, as exec.LookPath does since
		// Go 1.19: they would make the result depend on the working directory.
		if dir == "" || !filepath.IsAbs(dir) {
			continue
		}
		p := filepath.Join(dir, name)
		searched = append(searched, p)
		if !isExecutable(p) {
			continue
		}
		if !probe {
			return &Binary{Path: p}, nil, "", nil
		}
		out, rerr := run(ctx, p, "--version")
		if rerr == nil {
			var v string
			if v, rerr = parseVersion(string(out)); rerr == nil {
				return &Binary{Path: p, Version: v}, nil, "", nil
			}
		}
		if ctx.Err() != nil {
			return nil, nil, "", fmt.Errorf("probe %s: %w", p, ctx.Err())
		}
		if note == "" {
			note = fmt.Sprintf("%s exists but is unusable: %v", p, rerr)
		}
	}
	return nil, searched, note, nil
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// versionRE matches the first line of `qemu-system-* --version` ("QEMU
// emulator version 7.2.22 (Debian 1:7.2+dfsg-7)") and `qemu-img --version`
// ("qemu-img version 7.2.22 (...)").
var versionRE = regexp.MustCompile(`^(?:QEMU emulator|qemu-img) version (\d+\.\d+(?:\.\d+)?)\b`)

// parseVersion returns the dotted version from QEMU's --version output.
func parseVersion(out string) (string, error) {
	first, _, _ := strings.Cut(strings.TrimLeft(out, "\r\n \t"), "\n")
	first = strings.TrimSpace(first)
	m := versionRE.FindStringSubmatch(first)
	if m == nil {
		if len(first) > 80 {
			first = first[:80] + "..."
		}
		return "", fmt.Errorf("unexpected --version output %q (want \"QEMU emulator version X.Y.Z\")", first)
	}
	return m[1], nil
}

var errNoOSRelease = errors.New("no os-release file")

// readOSRelease returns the first readable os-release file.
func readOSRelease(files []string) (string, error) {
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil {
			return string(b), nil
		}
	}
	return "", errNoOSRelease
}
