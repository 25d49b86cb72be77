package qga

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeAgent plays qemu-ga behind a unix socket, the way QEMU's chardev
// presents it: it reads requests (0xFF resets its parser, as in qemu-ga)
// and answers through the hooks.
type fakeAgent struct {
	// sync returns what to write for guest-sync-delimited with id;
	// nil means the real agent's answer.
	sync func(id int64) string
	// replies maps a command to its raw reply; a missing command gets
	// {"return": {}}. A reply of "" sends nothing.
	replies map[string]string
	// silent: read everything, answer nothing (no agent in the guest).
	silent bool
	// hangup closes the connection after replying to this command.
	hangup string
	// hold delays the reply to a command until its channel is closed.
	hold map[string]chan struct{}
	// got, if set, receives each request the agent reads (never blocking).
	got chan string
}

type request struct {
	Execute   string          `json:"execute"`
	Arguments json.RawMessage `json:"arguments"`
}

// start listens on a socket in a temporary directory and serves connections
// one at a time, as QEMU's chardev does. It returns the socket path.
func (f *fakeAgent) start(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "qga.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { l.Close(); <-done })
	go func() {
		defer close(done)
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			f.serve(conn)
		}
	}()
	return path
}

func (f *fakeAgent) serve(conn net.Conn) {
	defer conn.Close()
	r := bufio.NewReader(conn)
	for {
		raw, err := readReply(r, false)
		if err != nil {
			return
		}
		var req request
		jerr := json.Unmarshal(raw, &req)
		if f.got != nil {
			select {
			case f.got <- req.Execute:
			default:
			}
		}
		if f.silent {
			continue
		}
		if jerr != nil {
			fmt.Fprintf(conn, `{"error":{"class":"GenericError","desc":"bad request"}}`+"\n")
			continue
		}
		var out string
		switch {
		case req.Execute == "guest-sync-delimited":
			var a struct{ ID int64 }
			json.Unmarshal(req.Arguments, &a)
			out = fmt.Sprintf("\xff{\"return\": %d}\n", a.ID)
			if f.sync != nil {
				out = f.sync(a.ID)
			}
		default:
			var ok bool
			if out, ok = f.replies[req.Execute]; !ok {
				out = `{"return": {}}` + "\n"
			}
		}
		if ch := f.hold[req.Execute]; ch != nil {
			<-ch
		}
		if _, err := io.WriteString(conn, out); err != nil || req.Execute == f.hangup {
			return
		}
	}
}

const infoReply = `{"return": {"version": "8.2.2", "supported_commands": [` +
	`{"enabled": true, "name": "guest-ping", "success-response": true},` +
	`{"enabled": false, "name": "guest-exec", "success-response": true},` +
	`{"enabled": true, "name": "guest-shutdown", "success-response": false}]}}` + "\n"

func TestClient(t *testing.T) {
	tests := []struct {
		name    string
		agent   fakeAgent
		timeout time.Duration
		call    func(context.Context, *Client) error // after a successful Dial
		wantErr string                               // substring; "" = success
		is      error                                // errors.Is target, if any
	}{
		{
			name:  "normal ping and info",
			agent: fakeAgent{replies: map[string]string{"guest-info": infoReply}},
			call: func(ctx context.Context, c *Client) error {
				if err := c.Ping(ctx); err != nil {
					return err
				}
				i, err := c.Info(ctx)
				if err != nil {
					return err
				}
				if i.Version != "8.2.2" || !i.Supports("guest-ping") || i.Supports("guest-exec") || i.Supports("guest-fsfreeze-freeze") {
					return fmt.Errorf("unexpected info %+v", i)
				}
				if i.SupportedCommands[2].SuccessResponse {
					return fmt.Errorf("guest-shutdown success-response should be false")
				}
				return nil
			},
		},
		{
			name: "junk and stale replies before the delimiter",
			agent: fakeAgent{sync: func(id int64) string {
				return `{"return": {}}` + "\n" + `garbage}]"{` + "\x00" + `{"return": {"partial` +
					fmt.Sprintf("\xff{\"return\": %d}\n", id)
			}},
			call: func(ctx context.Context, c *Client) error { return c.Ping(ctx) },
		},
		{
			name: "junk after a delimiter",
			agent: fakeAgent{sync: func(id int64) string {
				return "\xffnot json" + fmt.Sprintf("\xff{\"return\": %d}\n", id)
			}},
			call: func(ctx context.Context, c *Client) error { return c.Ping(ctx) },
		},
		{
			name: "a wrong sync id is skipped",
			agent: fakeAgent{sync: func(id int64) string {
				return fmt.Sprintf("\xff{\"return\": %d}\n\xff{\"return\": %d}\n", id+1, id)
			}},
			call: func(ctx context.Context, c *Client) error { return c.Ping(ctx) },
		},
		{
			name: "only wrong sync ids: no answer",
			agent: fakeAgent{sync: func(id int64) string {
				return fmt.Sprintf("\xff{\"return\": %d}\n", id+1)
			}},
			timeout: 200 * time.Millisecond,
			wantErr: "guest agent did not answer within 200ms: is services.qemuGuest.enable set and the VM booted?",
			is:      ErrNoAnswer,
		},
		{
			name:  "error reply",
			agent: fakeAgent{replies: map[string]string{"guest-ping": `{"error": {"class": "CommandNotFound", "desc": "The command guest-ping has not been found"}}`}},
			call: func(ctx context.Context, c *Client) error {
				err := c.Ping(ctx)
				var e *Error
				if !errors.As(err, &e) || e.Class != "CommandNotFound" {
					return fmt.Errorf("want a *Error of class CommandNotFound, got %v", err)
				}
				// The stream is still in step.
				return c.Do(ctx, "guest-get-host-name", nil, nil)
			},
		},
		{
			name:  "reply with neither return nor error",
			agent: fakeAgent{replies: map[string]string{"guest-ping": `{"id": 1}`}},
			call: func(ctx context.Context, c *Client) error {
				return c.Ping(ctx)
			},
			wantErr: "neither return nor error",
		},
		{
			name:    "no agent: ctx timeout",
			agent:   fakeAgent{silent: true},
			timeout: 300 * time.Millisecond,
			wantErr: "guest agent did not answer within 300ms: is services.qemuGuest.enable set and the VM booted?",
			is:      context.DeadlineExceeded,
		},
		{
			name:  "agent goes away",
			agent: fakeAgent{replies: map[string]string{"guest-ping": `{"return": {}`}, hangup: "guest-ping"}, // EOF mid-object
			call: func(ctx context.Context, c *Client) error {
				return c.Ping(ctx)
			},
			wantErr: "did the VM stop?",
			is:      ErrClosed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.agent.start(t)
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 5 * time.Second
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			var err error
			c, err := Dial(ctx, path)
			if err == nil {
				defer c.Close()
				if tt.call != nil {
					err = tt.call(ctx, c)
				}
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("no error, want one containing %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("error %q does not contain %q", err, tt.wantErr)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
		})
	}
}

// TestAbandonedCallResyncs: a reply that arrives after its caller gave up
// must not be taken as the answer to the next command.
func TestAbandonedCallResyncs(t *testing.T) {
	release := make(chan struct{})
	f := fakeAgent{
		replies: map[string]string{"guest-info": infoReply, "guest-ping": `{"return": {"late": true}}`},
		hold:    map[string]chan struct{}{"guest-ping": release},
	}
	path := f.start(t)
	ctx := context.Background()
	c, err := Dial(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := c.Ping(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Ping with a held reply: %v, want a deadline error", err)
	}
	close(release) // the late ping reply is now on its way
	i, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if i.Version != "8.2.2" {
		t.Fatalf("Info after an abandoned Ping = %+v: the stale reply was not skipped", i)
	}
}

// TestCancel: cancelling ctx (no deadline) ends a wait at once, and the
// error is ctx's, not ErrNoAnswer.
func TestCancel(t *testing.T) {
	f := fakeAgent{silent: true, got: make(chan string, 1)}
	path := f.start(t)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		// Cancel once Dial is waiting for the sync reply: the fake agent
		// reading the request is the event that says so.
		<-f.got
		cancel()
	}()
	_, err := Dial(ctx, path)
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrNoAnswer) {
		t.Fatalf("Dial with a cancelled ctx: %v, want context.Canceled", err)
	}
}

// TestDialBacklogFull: a socket whose server never accepts (QEMU holding
// on to an earlier client while the guest has no agent) is ErrNoAnswer,
// within the deadline, whether the connect waits or is refused.
func TestDialBacklogFull(t *testing.T) {
	path := filepath.Join(t.TempDir(), "qga.sock")
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	// Fill the backlog; nobody ever accepts.
	for i := 0; i < 4; i++ {
		c, err := net.DialTimeout("unix", path, 100*time.Millisecond)
		if err != nil {
			break
		}
		defer c.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = Dial(ctx, path)
	if !errors.Is(err, ErrNoAnswer) || !strings.Contains(err.Error(), "services.qemuGuest.enable") {
		t.Fatalf("Dial with a full backlog: %v, want ErrNoAnswer", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("Dial took %s with a 300ms deadline", took)
	}
}

func TestDialNoSocket(t *testing.T) {
	_, err := Dial(context.Background(), filepath.Join(t.TempDir(), "qga.sock"))
	if err == nil || !strings.Contains(err.Error(), "is the VM running?") {
		t.Fatalf("Dial of a missing socket: %v", err)
	}
}

var replySeeds = []string{
	`{"return": {}}`,
	"\xff{\"return\": 42}\n",
	`  {"return": {"version": "8.2.2", "supported_commands": [{"name": "a}\"]", "enabled": true}]}}`,
	`{"error": {"class": "GenericError", "desc": "x"}}{"return": 1}`,
	"junk\xff{\"return\": {\"partial\xff{\"return\": 7}",
	`{"return": "\\"}`,
	`{]`,
	`}`,
	"",
}

// FuzzReadReply: whatever the peer sends, the reader does not panic or
// loop, returns only whole objects without a delimiter in them, and reads
// valid JSON objects back exactly.
func FuzzReadReply(f *testing.F) {
	for _, s := range replySeeds {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, in []byte, delimited bool) {
		r := bufio.NewReader(strings.NewReader(string(in)))
		for n := 0; ; n++ {
			if n > len(in) {
				t.Fatalf("more replies than input bytes from %q", in)
			}
			raw, err := readReply(r, delimited)
			if err != nil {
				var bad *malformedError
				if errors.As(err, &bad) {
					continue
				}
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("readReply(%q): unexpected error %v", in, err)
				}
				break
			}
			if len(raw) < 2 || raw[0] != '{' || strings.IndexByte(string(raw), delimiter) >= 0 {
				t.Fatalf("readReply(%q) returned %q", in, raw)
			}
			if c := raw[len(raw)-1]; c != '}' && c != ']' {
				t.Fatalf("readReply(%q) returned %q, which does not end an object", in, raw)
			}
		}

		// A valid object, written by an encoder, comes back byte for byte.
		if json.Valid(in) && len(in) > 0 {
			var v any
			if json.Unmarshal(in, &v) == nil {
				if _, ok := v.(map[string]any); ok {
					want, _ := json.Marshal(v)
					got, err := readReply(bufio.NewReader(strings.NewReader(" \n"+string(want)+"{")), false)
					if err != nil || string(got) != string(want) {
						t.Fatalf("readReply(%q) = %q, %v", want, got, err)
					}
				}
			}
		}
	})
}
