// Package qga is a small, context-aware client for the QEMU guest agent
// (qemu-ga, NixOS's services.qemuGuest) over the unix socket QEMU offers on
// the host end of the guest's virtio-serial port org.qemu.guest_agent.0.
//
// The protocol is QMP-shaped JSON, but the channel is not a connection: the
// socket is QEMU's, not the agent's. QEMU accepts a connection whether or not
// an agent runs in the guest (it may not have booted yet, or not have the
// agent at all), bytes written while nobody reads stay queued for whoever
// opens the port next, and a reply a previous client abandoned may still be
// on its way. So a client must resynchronise before it trusts any reply:
// it sends 0xFF (which resets the agent's JSON parser) and
// guest-sync-delimited with a fresh id; the agent answers with 0xFF (which
// tells the client to drop whatever it had read) followed by {"return": id}.
// Replies up to that one are stale and skipped. No answer means no agent,
// which only a deadline can tell: every call here takes its deadline from
// ctx, and Dial without an answer fails with ErrNoAnswer.
//
// QEMU serves one client of the socket at a time. While the guest's agent
// has not opened its port, QEMU does not read the socket and so does not
// notice that a client left: that client keeps the slot until the agent
// runs, the next few connections wait in the listen backlog (and time out
// here), and further ones are refused at once. Dial reports both as
// ErrNoAnswer too. Once the agent opens its port, QEMU drops the departed
// clients one by one and new ones get through.
//
// The agent answers one request at a time, in order, and does not echo ids,
// so the client is sequential: one request, then its reply. A call abandoned
// through its context leaves the stream out of step; the next call
// resynchronises first.
package qga

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"
)

// ErrNoAnswer is returned (wrapped) when the guest agent did not answer the
// resynchronisation in time: the VM has not booted far enough, or the agent
// is not enabled or not running in the guest.
var ErrNoAnswer = errors.New("guest agent did not answer")

// ErrClosed is returned (wrapped) once the socket has ended: QEMU exited or
// Close was called.
var ErrClosed = errors.New("guest agent connection closed")

// maxReply bounds one reply, so that a confused peer cannot make the client
// buffer without end. The agent's largest replies (guest-file-read of its
// 48 MB maximum, base64-encoded) fit.
const maxReply = 80 << 20

// delimiter is the byte that precedes a guest-sync-delimited request and
// reply: 0xFF never occurs in UTF-8, so it cannot be part of any JSON text.
const delimiter = 0xFF

// Error is an error reply from the agent ({"error": {"class", "desc"}}),
// e.g. class "CommandNotFound" for a command this agent version lacks, or
// "GenericError" for one disabled by its configuration. Do returns it
// wrapped; use errors.As to inspect it.
type Error struct {
	Class string `json:"class"`
	Desc  string `json:"desc"`
}

func (e *Error) Error() string { return fmt.Sprintf("guest agent error %s: %s", e.Class, e.Desc) }

// Client is one connection to a guest agent socket. It is safe for
// concurrent use; calls are serialised.
type Client struct {
	conn net.Conn
	path string

	mu     sync.Mutex
	r      *bufio.Reader
	synced bool // false after a call was abandoned mid-way
}

// Dial connects to the guest agent socket at path and resynchronises with
// the agent. When the agent does not answer before ctx ends, Dial fails with
// a wrapped ErrNoAnswer whose message says what to check. Callers that only
// want to know whether the agent answers (status) should give ctx a short
// timeout: connecting succeeds even when no agent runs.
func Dial(ctx context.Context, path string) (*Client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		if errors.Is(err, syscall.EAGAIN) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
			// QEMU serves one client at a time, and while the guest's
			// agent has not opened its port QEMU does not read the
			// socket, so it does not notice a client that left: that
			// one keeps the slot, the next few wait in the listen
			// backlog, and further connections are refused like this.
			return nil, fmt.Errorf("%w (socket %s takes no connections: QEMU serves one client at a time and holds on to earlier ones until the guest's agent runs): is services.qemuGuest.enable set and the VM booted? (%w)",
				ErrNoAnswer, path, err)
		}
		return nil, fmt.Errorf("connect to guest agent socket %s (is the VM running?): %w", path, err)
	}
	c := &Client{conn: conn, path: path, r: bufio.NewReader(conn)}
	c.mu.Lock()
	err = c.sync(ctx)
	c.mu.Unlock()
	if err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

// Close closes the connection.
func (c *Client) Close() error {
	err := c.conn.Close()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// Sync resynchronises with the agent (see the package comment). Do calls it
// by itself when needed; it is exported for callers that want to check that
// the agent is still there without running a command.
func (c *Client) Sync(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sync(ctx)
}

// Do runs one agent command and, when out is non-nil, decodes its "return"
// value into it. args is marshalled as the "arguments" object (nil for none).
// An error reply is returned as a wrapped *Error. If ctx ends first, Do
// returns ctx's error; the agent may still carry the command out.
//
// Do is for commands that reply. A few do not on success
// (guest-shutdown, guest-suspend-*: "success-response": false in Info) and
// would wait until ctx ends.
func (c *Client) Do(ctx context.Context, cmd string, args, out any) error {
	req := struct {
		Execute   string `json:"execute"`
		Arguments any    `json:"arguments,omitempty"`
	}{cmd, args}
	b, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("guest agent %s: encode arguments: %w", cmd, err)
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.synced {
		if err := c.sync(ctx); err != nil {
			return fmt.Errorf("guest agent %s: %w", cmd, err)
		}
	}
	stop := c.bound(ctx)
	defer stop()
	// Until the reply has been read the stream is out of step.
	c.synced = false
	if _, err := c.conn.Write(b); err != nil {
		return fmt.Errorf("guest agent %s: send: %w", cmd, c.ioErr(ctx, err))
	}
	raw, err := readReply(c.r, false)
	if err != nil {
		return fmt.Errorf("guest agent %s: read reply: %w", cmd, c.ioErr(ctx, err))
	}
	var m reply
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("guest agent %s: decode reply %.200s: %w", cmd, raw, err)
	}
	c.synced = true
	if m.Error != nil {
		return fmt.Errorf("guest agent %s: %w", cmd, m.Error)
	}
	if m.Return == nil {
		return fmt.Errorf("guest agent %s: reply %.200s has neither return nor error", cmd, raw)
	}
	if out != nil {
		if err := json.Unmarshal(m.Return, out); err != nil {
			return fmt.Errorf("guest agent %s: decode reply %.200s: %w", cmd, m.Return, err)
		}
	}
	return nil
}

// reply is any object the agent sends.
type reply struct {
	Return json.RawMessage `json:"return"`
	Error  *Error          `json:"error"`
}

// sync sends 0xFF and guest-sync-delimited with a fresh id, then skips every
// reply until the delimited one carrying that id. c.mu must be held.
func (c *Client) sync(ctx context.Context) error {
	start := time.Now()
	stop := c.bound(ctx)
	defer stop()
	c.synced = false
	// A random id: a sync reply another client (or an earlier call of
	// ours) abandoned must not be taken for this one. Kept below 2^31 as
	// the agent's integer is signed.
	id := rand.Int64N(1<<31-1) + 1
	req := fmt.Sprintf("\xff{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":%d}}", id)
	if _, err := c.conn.Write([]byte(req)); err != nil {
		return c.syncErr(ctx, start, err)
	}
	for {
		raw, err := readReply(c.r, true)
		var bad *malformedError
		if errors.As(err, &bad) {
			continue // junk after a delimiter: wait for the next one
		}
		if err != nil {
			return c.syncErr(ctx, start, err)
		}
		var m struct {
			Return *int64 `json:"return"`
		}
		if json.Unmarshal(raw, &m) == nil && m.Return != nil && *m.Return == id {
			c.synced = true
			return nil
		}
		// A stale reply, or the answer to an earlier sync: skip it.
	}
}

// syncErr explains a failed sync. A deadline is the usual case, and the
// message says what to check.
func (c *Client) syncErr(ctx context.Context, start time.Time, err error) error {
	err = c.ioErr(ctx, err)
	if errors.Is(err, context.DeadlineExceeded) {
		waited := time.Since(start).Round(100 * time.Millisecond)
		if dl, ok := ctx.Deadline(); ok {
			waited = dl.Sub(start).Round(100 * time.Millisecond)
		}
		return fmt.Errorf("%w within %s: is services.qemuGuest.enable set and the VM booted? (socket %s: %w)",
			ErrNoAnswer, waited, c.path, err)
	}
	return fmt.Errorf("synchronise with guest agent on %s: %w", c.path, err)
}

// bound makes the connection's reads and writes end with ctx: at its
// deadline, or at once when it is cancelled. The returned func undoes that.
func (c *Client) bound(ctx context.Context) func() {
	dl, _ := ctx.Deadline() // zero: no deadline
	c.conn.SetDeadline(dl)
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		c.conn.SetDeadline(time.Unix(1, 0))
		close(fired)
	})
	return func() {
		// If the cancellation already started, let it finish: run
		// after the reset below, it would poison the next call.
		if !stop() {
			<-fired
		}
		c.conn.SetDeadline(time.Time{})
	}
}

// ioErr turns a socket error into what the caller needs to know: ctx's
// error when ctx ended, ErrClosed when the peer or Close ended the socket.
func (c *Client) ioErr(ctx context.Context, err error) error {
	if ctx.Err() != nil && (errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, net.ErrClosed)) {
		return ctx.Err()
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		// The deadline was ctx's, and ctx has not noticed yet.
		return context.DeadlineExceeded
	}
	switch {
	case errors.Is(err, net.ErrClosed):
		return ErrClosed
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w by QEMU (did the VM stop?)", ErrClosed)
	}
	return err
}

// malformedError is readReply's error for bytes that cannot be a reply;
// the stream itself is still usable.
type malformedError struct{ msg string }

func (e *malformedError) Error() string { return e.msg }

// readReply reads one JSON object from r and returns its bytes.
//
// With delimited set (after guest-sync-delimited), everything up to the
// first 0xFF is stale and skipped. In both modes a 0xFF seen later means
// the agent reset its output, so what was read of the current object is
// dropped and reading starts over, as the protocol asks. Whitespace between
// objects is skipped; anything else outside an object is an error, as is an
// object larger than maxReply.
func readReply(r io.ByteReader, delimited bool) ([]byte, error) {
	if delimited {
		for {
			b, err := r.ReadByte()
			if err != nil {
				return nil, err
			}
			if b == delimiter {
				break
			}
		}
	}
	var buf []byte
	depth := 0
	inString, escaped := false, false
	for {
		b, err := r.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) && len(buf) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if b == delimiter {
			buf, depth, inString, escaped = buf[:0], 0, false, false
			continue
		}
		if len(buf) == 0 {
			switch b {
			case ' ', '\t', '\r', '\n':
				continue
			case '{':
			default:
				return nil, &malformedError{fmt.Sprintf("unexpected byte %q where a reply should start", b)}
			}
		}
		if len(buf) >= maxReply {
			return nil, &malformedError{fmt.Sprintf("reply longer than %d bytes", maxReply)}
		}
		buf = append(buf, b)
		switch {
		case escaped:
			escaped = false
		case inString && b == '\\':
			escaped = true
		case b == '"':
			inString = !inString
		case inString:
		case b == '{' || b == '[':
			depth++
		case b == '}' || b == ']':
			depth--
			if depth == 0 {
				return slices.Clip(buf), nil
			}
		}
	}
}
