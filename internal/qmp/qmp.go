// Package qmp is a small, context-aware client for the QEMU Machine Protocol
// over a unix socket.
//
// One reader goroutine per connection decodes every message QEMU sends and
// routes it: command replies go to the Execute call that is waiting for them
// (matched by the "id" member QEMU echoes back), asynchronous events go to a
// buffered channel. Because replies are matched by id, an Execute abandoned
// through its context leaves no stale reply behind for the next command.
package qmp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// ErrClosed is returned (wrapped) by Execute and WaitEvent once the
// connection has ended: QEMU exited, closed the socket, or Close was called.
var ErrClosed = errors.New("QMP connection closed")

// eventBuffer is how many events are kept for a slow consumer. When it is
// full the oldest event is dropped: the reader must never block, or command
// replies would stall behind unread events.
const eventBuffer = 256

// Error is an error reply from QEMU ({"error": {"class": ..., "desc": ...}}).
// Execute returns it wrapped; use errors.As to inspect it.
type Error struct {
	Class string `json:"class"`
	Desc  string `json:"desc"`
}

func (e *Error) Error() string { return fmt.Sprintf("qmp error %s: %s", e.Class, e.Desc) }

// Event is an asynchronous QMP event such as SHUTDOWN, POWERDOWN, STOP or
// RESET.
type Event struct {
	Name      string
	Data      json.RawMessage
	Timestamp time.Time
}

// message is any object QEMU sends: the greeting, a reply or an event.
type message struct {
	QMP       json.RawMessage `json:"QMP"`
	Return    json.RawMessage `json:"return"`
	Error     *Error          `json:"error"`
	ID        *uint64         `json:"id"`
	Event     string          `json:"event"`
	Data      json.RawMessage `json:"data"`
	Timestamp *struct {
		Seconds      int64 `json:"seconds"`
		Microseconds int64 `json:"microseconds"`
	} `json:"timestamp"`
}

type reply struct {
	ret json.RawMessage
	err *Error
}

// Client is one QMP connection. It is safe for concurrent use.
type Client struct {
	conn     net.Conn
	events   chan Event
	greeting chan struct{} // closed when the greeting has been read
	done     chan struct{} // closed when the reader has stopped

	writeMu sync.Mutex

	mu      sync.Mutex
	nextID  uint64
	pending map[uint64]chan reply
	readErr error // why the reader stopped; set before done is closed
}

// Dial connects to the QMP socket, reads QEMU's greeting and leaves
// capabilities-negotiation mode so that commands can be executed.
func Dial(ctx context.Context, socketPath string) (*Client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", socketPath)
	if err != nil {
		return nil, fmt.Errorf("connect to QMP socket %s (is the VM running?): %w", socketPath, err)
	}
	c := &Client{
		conn:     conn,
		events:   make(chan Event, eventBuffer),
		greeting: make(chan struct{}),
		done:     make(chan struct{}),
		pending:  make(map[uint64]chan reply),
	}
	go c.read()

	select {
	case <-c.greeting:
	case <-c.done:
		return nil, fmt.Errorf("read QMP greeting from %s: %w", socketPath, c.closedErr())
	case <-ctx.Done():
		c.Close()
		return nil, fmt.Errorf("read QMP greeting from %s: %w", socketPath, ctx.Err())
	}
	if err := c.Execute(ctx, "qmp_capabilities", nil, nil); err != nil {
		c.Close()
		return nil, fmt.Errorf("negotiate QMP capabilities on %s: %w", socketPath, err)
	}
	return c, nil
}

// Close closes the connection. Pending Execute calls fail with ErrClosed and
// the Events channel is closed once the reader has stopped.
func (c *Client) Close() error {
	err := c.conn.Close()
	<-c.done
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// Events returns the channel of asynchronous events. It is closed when the
// connection ends. WaitEvent reads from the same channel, so a program should
// use one or the other for a given stretch of time.
func (c *Client) Events() <-chan Event { return c.events }

// Execute runs one command and, when result is non-nil, decodes the "return"
// value into it. args is marshalled as the "arguments" object (nil for none).
// A QMP error reply is returned as a wrapped *Error. If ctx ends first,
// Execute returns ctx's error; QEMU may still carry out the command.
func (c *Client) Execute(ctx context.Context, cmd string, args any, result any) error {
	req := struct {
		Execute   string `json:"execute"`
		Arguments any    `json:"arguments,omitempty"`
		ID        uint64 `json:"id"`
	}{Execute: cmd, Arguments: args}

	ch := make(chan reply, 1)
	c.mu.Lock()
	if c.readErr != nil {
		c.mu.Unlock()
		return fmt.Errorf("qmp %s: %w", cmd, c.readErr)
	}
	c.nextID++
	req.ID = c.nextID
	c.pending[req.ID] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, req.ID)
		c.mu.Unlock()
	}()

	b, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("qmp %s: encode arguments: %w", cmd, err)
	}
	if err := c.write(ctx, b); err != nil {
		return fmt.Errorf("qmp %s: send: %w", cmd, err)
	}

	select {
	case r := <-ch:
		if r.err != nil {
			return fmt.Errorf("qmp %s: %w", cmd, r.err)
		}
		if result != nil {
			if err := json.Unmarshal(r.ret, result); err != nil {
				return fmt.Errorf("qmp %s: decode reply %s: %w", cmd, r.ret, err)
			}
		}
		return nil
	case <-c.done:
		return fmt.Errorf("qmp %s: %w", cmd, c.closedErr())
	case <-ctx.Done():
		return fmt.Errorf("qmp %s: %w", cmd, ctx.Err())
	}
}

// write sends one request line; ctx bounds how long a stuck peer can block it.
func (c *Client) write(ctx context.Context, b []byte) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if dl, ok := ctx.Deadline(); ok {
		c.conn.SetWriteDeadline(dl)
	} else {
		c.conn.SetWriteDeadline(time.Time{})
	}
	stop := context.AfterFunc(ctx, func() { c.conn.SetWriteDeadline(time.Unix(1, 0)) })
	defer stop()
	_, err := c.conn.Write(append(b, '\n'))
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		select {
		case <-c.done:
			return c.closedErr()
		default:
		}
	}
	return err
}

// WaitEvent reads events until one named name arrives and returns it. Other
// events read meanwhile are discarded. Events that arrived before the call
// are still in the buffer, so calling WaitEvent("SHUTDOWN") after Quit
// returns does not miss the event.
func (c *Client) WaitEvent(ctx context.Context, name string) (Event, error) {
	for {
		select {
		case ev, ok := <-c.events:
			if !ok {
				return Event{}, fmt.Errorf("wait for QMP event %s: %w", name, c.closedErr())
			}
			if ev.Name == name {
				return ev, nil
			}
		case <-ctx.Done():
			return Event{}, fmt.Errorf("wait for QMP event %s: %w", name, ctx.Err())
		}
	}
}

func (c *Client) closedErr() error {
	<-c.done
	return c.readErr
}

// read is the single reader: it routes replies and events until the
// connection ends, then fails every pending command and closes Events.
func (c *Client) read() {
	dec := json.NewDecoder(c.conn)
	greeted := false
	var err error
	for {
		var m message
		if err = dec.Decode(&m); err != nil {
			break
		}
		switch {
		case m.QMP != nil && !greeted:
			greeted = true
			close(c.greeting)
		case m.Event != "":
			c.deliverEvent(m)
		case m.Return != nil || m.Error != nil:
			c.deliverReply(m)
		}
	}

	switch {
	case errors.Is(err, net.ErrClosed):
		err = ErrClosed // Close was called
	case errors.Is(err, io.EOF):
		err = fmt.Errorf("%w by QEMU (did it exit?)", ErrClosed)
	default:
		err = fmt.Errorf("%w after a read error: %v", ErrClosed, err)
	}
	c.mu.Lock()
	c.readErr = err
	c.mu.Unlock()
	close(c.events)
	close(c.done)
	c.conn.Close()
}

func (c *Client) deliverReply(m message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ch chan reply
	if m.ID != nil {
		ch = c.pending[*m.ID]
	} else if len(c.pending) == 1 {
		// QEMU omits the id only when it could not parse the request;
		// with a single command in flight the reply can only be for it.
		for _, p := range c.pending {
			ch = p
		}
	}
	if ch == nil {
		return // reply to an abandoned command
	}
	select {
	case ch <- reply{ret: m.Return, err: m.Error}:
	default: // a duplicate reply; the first one wins
	}
}

func (c *Client) deliverEvent(m message) {
	ev := Event{Name: m.Event, Data: m.Data}
	if m.Timestamp != nil {
		ev.Timestamp = time.Unix(m.Timestamp.Seconds, m.Timestamp.Microseconds*1000)
	}
	for {
		select {
		case c.events <- ev:
			return
		default:
		}
		// Full: drop the oldest so the newest (usually the one that
		// matters, e.g. SHUTDOWN) is kept.
		select {
		case <-c.events:
		default:
		}
	}
}
