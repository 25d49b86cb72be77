package cli

import (
	"bufio"
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// serveAgent answers guest-sync-delimited and guest-info on a unix socket
// the way qemu-ga does, or reads and never answers when silent.
func serveAgent(t *testing.T, silent bool) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "qga.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	syncID := regexp.MustCompile(`guest-sync-delimited","arguments":\{"id":(\d+)`)
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				r := bufio.NewReader(conn)
				for {
					// Requests end with '}' and are not nested deeper
					// than here; good enough for two fixed commands.
					req, err := r.ReadString('}')
					if err != nil {
						return
					}
					if silent {
						continue
					}
					if m := syncID.FindStringSubmatch(req); m != nil {
						r.ReadString('}') // the closing brace of the request
						fmt.Fprintf(conn, "\xff{\"return\": %s}\n", m[1])
					} else if strings.Contains(req, "guest-info") {
						fmt.Fprint(conn, `{"return": {"version": "9.0.0", "supported_commands": []}}`+"\n")
					}
				}
			}()
		}
	}()
	return path
}

func TestProbeAgent(t *testing.T) {
	t.Run("answers", func(t *testing.T) {
		st := probeAgent(t.Context(), serveAgent(t, false), 5*time.Second)
		if !st.Answers || st.Version != "9.0.0" || st.Error != "" {
			t.Fatalf("probe = %+v", st)
		}
	})
	t.Run("silent agent", func(t *testing.T) {
		start := time.Now()
		st := probeAgent(t.Context(), serveAgent(t, true), 300*time.Millisecond)
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("probe of a silent agent took %s with a 300ms bound", took)
		}
		if st.Answers || !strings.Contains(st.Error, "no answer within 300ms: is services.qemuGuest.enable set and the VM booted?") {
			t.Fatalf("probe = %+v", st)
		}
	})
	t.Run("no socket", func(t *testing.T) {
		st := probeAgent(t.Context(), filepath.Join(t.TempDir(), "qga.sock"), time.Second)
		if st.Answers || !strings.Contains(st.Error, "is the VM running?") {
			t.Fatalf("probe = %+v", st)
		}
	})
}
