package store

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestXDGDirs(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", "/x/data")
	t.Setenv("XDG_CACHE_HOME", "/x/cache")
	t.Setenv("XDG_CONFIG_HOME", "/x/config")
	for _, c := range []struct {
		f    func() (string, error)
		want string
	}{{DataDir, "/x/data/nixvm"}, {CacheDir, "/x/cache/nixvm"}, {ConfigDir, "/x/config/nixvm"}} {
		got, err := c.f()
		if err != nil || got != c.want {
			t.Errorf("got %q, %v; want %q", got, err, c.want)
		}
	}
	t.Setenv("XDG_DATA_HOME", "relative/dir")
	if _, err := DataDir(); err == nil || !strings.Contains(err.Error(), "XDG_DATA_HOME") {
		t.Errorf("a relative XDG_DATA_HOME should be refused naming the variable, got %v", err)
	}
	t.Setenv("XDG_DATA_HOME", "")
	t.Setenv("HOME", "/home/u")
	if got, _ := DataDir(); got != "/home/u/.local/share/nixvm" {
		t.Errorf("default data dir = %q", got)
	}
}

func TestSocketDir(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", "/run/user/1000")
	short := Instance{Name: "a", Dir: "/home/u/.local/share/nixvm/vms/a"}
	if short.SocketDir() != short.Dir {
		t.Errorf("short instance dir: sockets in %s, want the instance dir", short.SocketDir())
	}
	long := Instance{Name: "a", Dir: "/home/u/" + strings.Repeat("x", 100) + "/vms/a"}
	sd := long.SocketDir()
	if !strings.HasPrefix(sd, "/run/user/1000/nixvm/") {
		t.Errorf("long instance dir: sockets in %s, want under $XDG_RUNTIME_DIR/nixvm", sd)
	}
	for _, p := range []string{long.QMPSocket(), long.SerialSocket()} {
		if len(p) > maxSocketPath {
			t.Errorf("%s is %d bytes, over the unix socket limit", p, len(p))
		}
	}
	other := Instance{Name: "a", Dir: filepath.Join(long.Dir, "..", "b")}
	if other.SocketDir() == sd {
		t.Error("two instances share a socket dir")
	}
	t.Setenv("XDG_RUNTIME_DIR", "")
	if sd := long.SocketDir(); !strings.Contains(sd, "nixvm-") {
		t.Errorf("without XDG_RUNTIME_DIR sockets go to %s, want a per-user temp dir", sd)
	}
}

// TestInstanceFileNames: every file of an instance directory is named by
// store (one place), and a frozen base is told from a disk by its name.
func TestInstanceFileNames(t *testing.T) {
	in := Instance{Name: "lab", Dir: "/v/lab"}
	for got, want := range map[string]string{
		in.HostKey():                     "/v/lab/ssh_host_ed25519_key",
		in.KnownHosts():                  "/v/lab/known_hosts",
		in.SSHConfig():                   "/v/lab/ssh_config",
		in.QGASocket():                   "/v/lab/qga.sock",
		in.VNCSocket():                   "/v/lab/vnc.sock",
		in.SpiceSocket():                 "/v/lab/spice.sock",
		in.BaseDisk(1, time.Unix(0, 42)): "/v/lab/disk1.base-42.qcow2",
	} {
		if got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	}
	for path, want := range map[string]bool{
		in.BaseDisk(0, time.Now()):       true,
		in.Disk(0):                       false,
		"/v/other/disk0.base-42.qcow2":   false,
		"/v/lab/disk0.qcow2.overlay-tmp": false,
	} {
		if got := in.IsBaseDisk(path); got != want {
			t.Errorf("IsBaseDisk(%s) = %v, want %v", path, got, want)
		}
	}
}
