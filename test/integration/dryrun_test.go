package integration

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestDryRunWithoutQEMU: nixvm plan and start --dry-run work on a host
// without QEMU (PATH holds nothing) and make no network request (a channel
// server that counts requests gets none), also when the installer would
// have to be downloaded: then the dry run says so instead.
func TestDryRunWithoutQEMU(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.NotFound(w, r)
	}))
	defer srv.Close()
	e.setVar("NIXVM_CHANNELS_URL", srv.URL)
	e.ok("create", "dry", "--manual", "--iso", testISO, "--firmware", "uefi", "--memory", "1G", "--disk", "2G")
	e.ok("create", "rel", "--manual", "--firmware", "bios", "--memory", "1G", "--disk", "2G")
	path := os.Getenv("PATH")
	e.setPath(t.TempDir())
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"start", "--dry-run", "dry"}, "qemu-system-x86_64 -nodefaults"},
		{[]string{"start", "--dry-run", "--installer", "dry"}, "-kernel "},
		{[]string{"plan", "p", "--firmware", "uefi"}, "# 2. the installed system, from disk"},
		{[]string{"plan", "p", "--iso", testISO, "--firmware", "bios"}, "qemu-system-x86_64 \\\n  -nodefaults"},
	} {
		out := e.ok(c.args...)
		if !strings.Contains(out, c.want) {
			t.Errorf("nixvm %s without QEMU: output lacks %q:\n%s", strings.Join(c.args, " "), c.want, out)
		}
	}
	// The dry runs named the installer's kernel; none extracted it.
	if boot, err := os.ReadDir(filepath.Join(filepath.Dir(e.data), "c", "nixvm", "boot")); err == nil && len(boot) > 0 {
		t.Errorf("dry runs extracted installer kernels into the cache: %v", boot)
	}
	// The release installer is not cached: the dry run says so and fetches
	// nothing.
	r := e.run("start", "--dry-run", "--installer", "rel")
	if r.code == 0 || !strings.Contains(r.err, "dry run downloads nothing") {
		t.Errorf("start --dry-run --installer of an uncached release: exit %d: %s%s", r.code, r.out, r.err)
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("dry runs made %d requests to the channel server, want none", n)
	}
	e.setPath(path)
}
