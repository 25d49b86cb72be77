package qmp

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const greeting = `{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": ""}, "capabilities": ["oob"]}}`

// request is what the fake server decodes from the client.
type request struct {
	Execute   string          `json:"execute"`
	Arguments json.RawMessage `json:"arguments"`
	ID        json.RawMessage `json:"id"`
}

// peer is the server side of one fake QMP connection.
type peer struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func (p *peer) send(s string) {
	p.t.Helper()
	if _, err := p.conn.Write([]byte(s + "\r\n")); err != nil {
		p.t.Errorf("fake server write: %v", err)
	}
}

func (p *peer) recv() (request, bool) {
	line, err := p.r.ReadBytes('\n')
	if err != nil {
		return request{}, false
	}
	var req request
	if err := json.Unmarshal(line, &req); err != nil {
		p.t.Errorf("fake server: client sent invalid JSON %q: %v", line, err)
		return request{}, false
	}
	return req, true
}

func (p *peer) reply(req request, ret string) {
	p.send(fmt.Sprintf(`{"return": %s, "id": %s}`, ret, req.ID))
}

// handshake sends the greeting and answers qmp_capabilities, as QEMU does.
func (p *peer) handshake() bool {
	p.send(greeting)
	req, ok := p.recv()
	if !ok {
		return false
	}
	if req.Execute != "qmp_capabilities" {
		p.t.Errorf("first command = %q, want qmp_capabilities", req.Execute)
	}
	p.reply(req, "{}")
	return true
}

// shortDir returns a directory whose paths fit in a unix socket address;
// t.TempDir() can exceed the 107-byte limit.
func shortDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "qmp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// fakeQMP serves one connection with serve and returns the socket path.
func fakeQMP(t *testing.T, serve func(p *peer)) string {
	t.Helper()
	sock := filepath.Join(shortDir(t), "qmp.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { l.Close(); <-done })
	go func() {
		defer close(done)
		conn, err := l.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		serve(&peer{t: t, conn: conn, r: bufio.NewReader(conn)})
	}()
	return sock
}

func dial(t *testing.T, sock string) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, sock)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestExecute(t *testing.T) {
	gotArgs := make(chan string, 1)
	sock := fakeQMP(t, func(p *peer) {
		if !p.handshake() {
			return
		}
		for {
			req, ok := p.recv()
			if !ok {
				return
			}
			switch req.Execute {
			case "query-status":
				p.reply(req, `{"status": "running", "singlestep": false, "running": true}`)
			case "human-monitor-command":
				gotArgs <- string(req.Arguments)
				p.reply(req, `"ok\r\n"`)
			default:
				p.send(fmt.Sprintf(`{"id": %s, "error": {"class": "CommandNotFound", "desc": "The command %s has not been found"}}`, req.ID, req.Execute))
			}
		}
	})
	c := dial(t, sock)
	ctx := testCtx(t)

	running, status, err := c.QueryStatus(ctx)
	if err != nil || !running || status != "running" {
		t.Errorf("QueryStatus = %v, %q, %v; want true, running, nil", running, status, err)
	}

	var out string
	if err := c.Execute(ctx, "human-monitor-command", map[string]string{"command-line": "info version"}, &out); err != nil {
		t.Fatalf("Execute with arguments: %v", err)
	}
	if out != "ok\r\n" {
		t.Errorf("result = %q, want %q", out, "ok\r\n")
	}
	if got, want := <-gotArgs, `{"command-line":"info version"}`; got != want {
		t.Errorf("server got arguments %s, want %s", got, want)
	}

	err = c.Execute(ctx, "no-such-command", nil, nil)
	var qerr *Error
	if !errors.As(err, &qerr) {
		t.Fatalf("error reply: got %v (%T), want a wrapped *Error", err, err)
	}
	if qerr.Class != "CommandNotFound" || !strings.Contains(qerr.Desc, "no-such-command") {
		t.Errorf("Error = %+v", qerr)
	}
	if !strings.Contains(err.Error(), "no-such-command") {
		t.Errorf("error %q does not name the command", err)
	}

	// The connection stays usable after an error reply.
	if _, _, err := c.QueryStatus(ctx); err != nil {
		t.Errorf("QueryStatus after error reply: %v", err)
	}
}

func TestInterleavedEvents(t *testing.T) {
	sock := fakeQMP(t, func(p *peer) {
		if !p.handshake() {
			return
		}
		req, ok := p.recv()
		if !ok {
			return
		}
		// Events may arrive before, between and after replies.
		p.send(`{"timestamp": {"seconds": 1700000000, "microseconds": 250000}, "event": "STOP"}`)
		p.send(`{"timestamp": {"seconds": 1700000001, "microseconds": 0}, "event": "RESET", "data": {"guest": true, "reason": "guest-reset"}}`)
		p.send(`{"event": "POWERDOWN", "timestamp": {"seconds": 1700000002, "microseconds": 0}}`)
		p.reply(req, "{}")
		p.send(`{"timestamp": {"seconds": 1700000003, "microseconds": 0}, "event": "SHUTDOWN", "data": {"guest": false, "reason": "host-qmp-quit"}}`)
		p.recv() // hold the connection until the client closes it
	})
	c := dial(t, sock)
	ctx := testCtx(t)

	if err := c.SystemPowerdown(ctx); err != nil {
		t.Fatalf("SystemPowerdown: %v", err)
	}
	ev := <-c.Events()
	if ev.Name != "STOP" || !ev.Timestamp.Equal(time.Unix(1700000000, 250000000)) {
		t.Errorf("first event = %+v, want STOP at 1700000000.25", ev)
	}
	ev, err := c.WaitEvent(ctx, "SHUTDOWN") // skips RESET and POWERDOWN
	if err != nil {
		t.Fatalf("WaitEvent(SHUTDOWN): %v", err)
	}
	var data struct {
		Guest  bool
		Reason string
	}
	if err := json.Unmarshal(ev.Data, &data); err != nil || data.Reason != "host-qmp-quit" {
		t.Errorf("SHUTDOWN data = %s (%v), want reason host-qmp-quit", ev.Data, err)
	}
}

func TestEventsNeverBlockReader(t *testing.T) {
	const n = 3 * eventBuffer
	sock := fakeQMP(t, func(p *peer) {
		if !p.handshake() {
			return
		}
		req, ok := p.recv()
		if !ok {
			return
		}
		for i := 0; i < n; i++ {
			p.send(fmt.Sprintf(`{"event": "E%d", "timestamp": {"seconds": 1, "microseconds": 0}}`, i))
		}
		p.reply(req, "{}")
		p.recv()
	})
	c := dial(t, sock)
	// Nobody reads Events: the reply must still get through.
	if err := c.Execute(testCtx(t), "cont", nil, nil); err != nil {
		t.Fatalf("Execute behind %d unread events: %v", n, err)
	}
	var last Event
	for i := 0; i < eventBuffer; i++ {
		last = <-c.Events()
	}
	if want := fmt.Sprintf("E%d", n-1); last.Name != want {
		t.Errorf("newest buffered event = %s, want %s (oldest must be dropped first)", last.Name, want)
	}
}

func TestServerClosesMidCommand(t *testing.T) {
	sock := fakeQMP(t, func(p *peer) {
		if !p.handshake() {
			return
		}
		p.recv() // read the command, then hang up without replying
	})
	c := dial(t, sock)
	ctx := testCtx(t)

	err := c.Execute(ctx, "query-status", nil, nil)
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("Execute when server hangs up = %v, want ErrClosed", err)
	}
	if !strings.Contains(err.Error(), "query-status") || !strings.Contains(err.Error(), "closed by QEMU") {
		t.Errorf("error %q should name the command and say QEMU closed the connection", err)
	}
	if _, ok := <-c.Events(); ok {
		t.Error("Events channel still open after the connection ended")
	}
	if err := c.Execute(ctx, "query-status", nil, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Execute after close = %v, want ErrClosed", err)
	}
	if _, err := c.WaitEvent(ctx, "SHUTDOWN"); !errors.Is(err, ErrClosed) {
		t.Errorf("WaitEvent after close = %v, want ErrClosed", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close after the server hung up: %v", err)
	}
}

func TestContextTimeout(t *testing.T) {
	sock := fakeQMP(t, func(p *peer) {
		if !p.handshake() {
			return
		}
		slow, ok := p.recv() // never answered in time
		if !ok {
			return
		}
		next, ok := p.recv()
		if !ok {
			return
		}
		// The late reply to the abandoned command must not be taken
		// for the reply to the next one.
		p.reply(slow, `{"status": "paused", "running": false}`)
		p.reply(next, `{"status": "running", "running": true}`)
		p.recv()
	})
	c := dial(t, sock)

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err := c.QueryStatus(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("QueryStatus with expired ctx = %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Execute took %v to notice the deadline", d)
	}

	running, status, err := c.QueryStatus(testCtx(t))
	if err != nil || !running || status != "running" {
		t.Errorf("QueryStatus after a timed-out command = %v, %q, %v; want true, running, nil", running, status, err)
	}
}

func TestWaitEventTimeout(t *testing.T) {
	sock := fakeQMP(t, func(p *peer) {
		if p.handshake() {
			p.send(`{"event": "STOP", "timestamp": {"seconds": 1, "microseconds": 0}}`)
			p.recv()
		}
	})
	c := dial(t, sock)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := c.WaitEvent(ctx, "SHUTDOWN"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitEvent = %v, want DeadlineExceeded", err)
	}
}

func TestQuitWhenQEMUClosesFirst(t *testing.T) {
	sock := fakeQMP(t, func(p *peer) {
		if p.handshake() {
			p.recv() // quit: QEMU may exit before the reply is flushed
		}
	})
	c := dial(t, sock)
	if err := c.Quit(testCtx(t)); err != nil {
		t.Errorf("Quit = %v, want nil when the connection closes", err)
	}
}

func TestReplyWithoutID(t *testing.T) {
	sock := fakeQMP(t, func(p *peer) {
		if !p.handshake() {
			return
		}
		p.recv()
		p.send(`{"error": {"class": "GenericError", "desc": "JSON parse error"}}`)
		p.recv()
	})
	c := dial(t, sock)
	var qerr *Error
	if err := c.Execute(testCtx(t), "x", nil, nil); !errors.As(err, &qerr) || qerr.Class != "GenericError" {
		t.Errorf("Execute = %v, want the id-less GenericError", err)
	}
}

func TestDialErrors(t *testing.T) {
	tests := []struct {
		name  string
		serve func(p *peer)
		want  string
	}{
		{"no greeting", func(p *peer) { p.recv() }, "greeting"},
		{"closed before greeting", func(p *peer) {}, "greeting"},
		{"capabilities refused", func(p *peer) {
			p.send(greeting)
			req, _ := p.recv()
			p.send(fmt.Sprintf(`{"id": %s, "error": {"class": "GenericError", "desc": "nope"}}`, req.ID))
			p.recv()
		}, "capabilities"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sock := fakeQMP(t, tt.serve)
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			c, err := Dial(ctx, sock)
			if err == nil {
				c.Close()
				t.Fatal("Dial succeeded, want error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Dial error %q does not mention %q", err, tt.want)
			}
		})
	}

	_, err := Dial(context.Background(), filepath.Join(shortDir(t), "missing.sock"))
	if err == nil || !strings.Contains(err.Error(), "missing.sock") {
		t.Errorf("Dial(missing socket) = %v, want an error naming the socket", err)
	}
}
