package store

import (
	"path/filepath"
	"strings"
	"testing"
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
