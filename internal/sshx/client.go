package sshx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"golang.org/x/crypto/ssh"
)

// HostKeyMismatchError is returned when the VM presents a host key other
// than the one nixvm generated for it. It is never retried: something else
// answers on the port, or the guest lost its key.
type HostKeyMismatchError struct {
	Addr     string
	Got      string // "ssh-ed25519 AAAA..." as presented
	Expected string
}

func (e *HostKeyMismatchError) Error() string {
	return fmt.Sprintf("host key mismatch: %s presented %s, expected %s (is another machine on this port, or was the VM's host key changed?)", e.Addr, e.Got, e.Expected)
}

// attemptTimeout bounds one connection attempt, so a guest that accepts the
// TCP connection but stalls the handshake (QEMU's user networking accepts
// before the guest listens) is retried instead of hanging until the deadline.
const attemptTimeout = 30 * time.Second

// Wait waits until the VM answers SSH on 127.0.0.1:port: it logs in as user
// with the key at signerPath, accepts only the host key hostPub
// ("ssh-ed25519 AAAA..."), and runs `true`. The guest may still be booting,
// so failed attempts are retried until ctx ends; a host key mismatch is
// returned at once. On timeout the error carries the last attempt's cause.
func Wait(ctx context.Context, port int, user string, signerPath string, hostPub []byte) error {
	cfg, err := clientConfig(port, user, signerPath, hostPub)
	if err != nil {
		return err
	}
	addr := address(port)
	start := time.Now()
	backoff := 100 * time.Millisecond
	var last error
	for {
		code, err := run(ctx, addr, cfg, "true", io.Discard, io.Discard)
		if err == nil && code == 0 {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("`true` exited with %d", code)
		}
		var mismatch *HostKeyMismatchError
		if errors.As(err, &mismatch) {
			return fmt.Errorf("ssh to VM on %s: %w", addr, err)
		}
		// An attempt cut short by ctx says less than the one before it.
		if last == nil || ctx.Err() == nil {
			last = err
		}
		// The pause between attempts ends early with ctx.
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("ssh to VM on %s: gave up after %s: %w", addr, time.Since(start).Round(time.Millisecond), last)
		case <-t.C:
		}
		backoff = min(backoff*2, time.Second)
	}
}

// Run runs cmd on the VM over SSH (one attempt, no retries) and returns the
// remote exit status. err is non-nil only when the command could not be run
// to completion (connection, authentication, host key, killed by a signal).
func Run(ctx context.Context, port int, user, signerPath string, hostPub []byte, cmd string, stdout, stderr io.Writer) (exitCode int, err error) {
	cfg, err := clientConfig(port, user, signerPath, hostPub)
	if err != nil {
		return -1, err
	}
	addr := address(port)
	code, err := run(ctx, addr, cfg, cmd, stdout, stderr)
	if err != nil {
		return code, fmt.Errorf("ssh to VM on %s: %w", addr, err)
	}
	return code, nil
}

func address(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// clientConfig builds a key-only client config that accepts exactly hostPub.
func clientConfig(port int, user, signerPath string, hostPub []byte) (*ssh.ClientConfig, error) {
	if port < 1 || port > 65535 {
		return nil, fmt.Errorf("ssh port: %d is not a TCP port (1-65535)", port)
	}
	signer, err := loadSigner(signerPath)
	if err != nil {
		return nil, err
	}
	want, err := parsePub(hostPub)
	if err != nil {
		return nil, fmt.Errorf("expected host key: %w", err)
	}
	return &ssh.ClientConfig{
		User: user,
		Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: func(_ string, remote net.Addr, got ssh.PublicKey) error {
			if bytes.Equal(got.Marshal(), want.Marshal()) {
				return nil
			}
			return &HostKeyMismatchError{Addr: address(port), Got: authorizedLine(got, ""), Expected: authorizedLine(want, "")}
		},
		// Ask for the expected key's type, so a guest holding several host
		// keys (rsa, ecdsa, ed25519) presents the one nixvm knows.
		HostKeyAlgorithms: []string{want.Type()},
	}, nil
}

// run makes one connection and runs cmd; ctx ending closes the connection.
func run(ctx context.Context, addr string, cfg *ssh.ClientConfig, cmd string, stdout, stderr io.Writer) (int, error) {
	dctx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		return -1, err
	}
	// The handshake does not take a context: a deadline on the socket bounds
	// it, and ctx ending closes the socket.
	if dl, ok := dctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	if err != nil {
		conn.Close()
		return -1, ctxErr(ctx, err)
	}
	// The command may run longer than one attempt: only ctx limits it.
	conn.SetDeadline(time.Time{})
	client := ssh.NewClient(c, chans, reqs)
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		return -1, ctxErr(ctx, fmt.Errorf("open session: %w", err))
	}
	defer sess.Close()
	sess.Stdout, sess.Stderr = stdout, stderr
	err = sess.Run(cmd)
	var exit *ssh.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &exit) && exit.Signal() == "":
		return exit.ExitStatus(), nil
	default:
		return -1, ctxErr(ctx, fmt.Errorf("run %q: %w", cmd, err))
	}
}

// ctxErr prefers ctx's reason when ctx ended: the closed socket's error
// would only confuse.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%v)", context.Cause(ctx), err)
	}
	return err
}
