package console

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is an io.Writer that tests can poll while another goroutine
// writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor polls until b contains s or the deadline passes.
func (b *syncBuffer) waitFor(t *testing.T, s string) bool {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(b.String(), s) {
		if time.Now().After(deadline) {
			t.Errorf("output never contained %q; got %q", s, b.String())
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// gatedReader returns its chunks one per Read; before each chunk it runs
// the matching gate (if any), which may block.
type gatedReader struct {
	chunks []string
	gates  []func()
}

func (r *gatedReader) Read(p []byte) (int, error) {
	if len(r.chunks) == 0 {
		select {} // like a terminal nobody types on
	}
	if len(r.gates) > 0 {
		if g := r.gates[0]; g != nil {
			g()
		}
		r.gates = r.gates[1:]
	}
	n := copy(p, r.chunks[0])
	r.chunks = r.chunks[1:]
	return n, nil
}

// fakeSerial serves one console connection: it echoes what it receives,
// prefixed with "vm got: ", and reports everything it received once the
// client hangs up. With hangUp it closes the connection at once instead.
func fakeSerial(t *testing.T, hangUp bool) (sock string, received <-chan string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "con")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock = filepath.Join(dir, "serial.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	got := make(chan string, 1)
	go func() {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		if hangUp {
			conn.Write([]byte("reboot: Power down\r\n"))
			return
		}
		var all []byte
		buf := make([]byte, 1024)
		for {
			n, err := conn.Read(buf)
			all = append(all, buf[:n]...)
			if n > 0 {
				conn.Write(append([]byte("vm got: "), buf[:n]...))
			}
			if err != nil {
				got <- string(all)
				return
			}
		}
	}()
	return sock, got
}

func TestAttachDetach(t *testing.T) {
	sock, received := fakeSerial(t, false)
	out := &syncBuffer{}
	in := &gatedReader{
		// The detach key comes after a reply has come back, so both
		// directions are exercised; bytes after the key must not be sent.
		chunks: []string{"ls -l\r", "uname\r\x1dafter detach"},
		gates:  []func(){nil, func() { out.waitFor(t, "vm got: ls -l\r") }},
	}
	err := Attach(ctxFor(t, 10*time.Second), sock, in, out, "lab")
	if err != nil {
		t.Fatalf("Attach = %v, want nil after Ctrl-]", err)
	}
	if got, want := <-received, "ls -l\runame\r"; got != want {
		t.Errorf("VM received %q, want %q", got, want)
	}
	o := out.String()
	if !strings.HasPrefix(o, "Connected to lab's serial console. Press Ctrl-] to detach.\r\n") {
		t.Errorf("output does not start with the banner: %q", o)
	}
	if !strings.HasSuffix(o, "Detached from lab's serial console.\r\n") {
		t.Errorf("output does not end with the detach note: %q", o)
	}
}

func TestAttachConsoleCloses(t *testing.T) {
	sock, _ := fakeSerial(t, true)
	out := &syncBuffer{}
	err := Attach(ctxFor(t, 10*time.Second), sock, &gatedReader{}, out, "lab")
	if err != nil {
		t.Fatalf("Attach = %v, want nil when the VM closes the console", err)
	}
	if o := out.String(); !strings.Contains(o, "reboot: Power down") || !strings.Contains(o, "console closed") {
		t.Errorf("output = %q, want the VM's last words and a closed note", o)
	}
}

func TestAttachContextCanceled(t *testing.T) {
	sock, _ := fakeSerial(t, false)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	err := Attach(ctx, sock, &gatedReader{}, io.Discard, "lab")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Attach = %v, want context.Canceled", err)
	}
}

func TestAttachNoSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "serial.sock")
	err := Attach(context.Background(), sock, &gatedReader{}, io.Discard, "lab")
	if err == nil || !strings.Contains(err.Error(), sock) || !strings.Contains(err.Error(), "lab") {
		t.Errorf("Attach = %v, want an error naming the VM and the socket", err)
	}
}
