package console

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// feed writes each chunk as one Write to an io.Pipe, so the Expecter sees
// exactly these read boundaries.
func feed(t *testing.T, chunks ...string) (*Expecter, *io.PipeWriter) {
	t.Helper()
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	e := NewExpecter(pr)
	go func() {
		for _, c := range chunks {
			if _, err := pw.Write([]byte(c)); err != nil {
				return
			}
		}
	}()
	return e, pw
}

func TestExpectAcrossChunks(t *testing.T) {
	// Patterns and escape sequences are both split between reads.
	e, _ := feed(t,
		"<<< NixOS 25.11 >>>\r\n\r\nnixos login: nixos (automatic login)\r\n\r\n\x1b]0;nixos@nix",
		"os: ~\a\x1b[1;3",
		"2m[nixos@nixos:~]$\x1b[0m ",
		"echo hi\r\nNIXVM-DO",
		"NE 0 7\r",
		"\n",
	)
	ctx := ctxFor(t, 5*time.Second)
	steps := []struct {
		re   string
		want []string
	}{
		{`login: (\w+) \(automatic login\)`, []string{"login: nixos (automatic login)", "nixos"}},
		{`\[(\w+)@nixos:~\]\$ `, []string{"[nixos@nixos:~]$ ", "nixos"}},
		{`NIXVM-DONE (\d+) 7\n`, []string{"NIXVM-DONE 0 7\n", "0"}},
	}
	for _, s := range steps {
		got, err := e.Expect(ctx, regexp.MustCompile(s.re))
		if err != nil {
			t.Fatalf("Expect(%s): %v", s.re, err)
		}
		if fmt.Sprint(got) != fmt.Sprint(s.want) {
			t.Errorf("Expect(%s) = %q, want %q", s.re, got, s.want)
		}
	}
}

func TestExpectConsumes(t *testing.T) {
	e, _ := feed(t, "ok\nok\n")
	re := regexp.MustCompile(`ok\n`)
	for i := 0; i < 2; i++ {
		if _, err := e.Expect(ctxFor(t, 5*time.Second), re); err != nil {
			t.Fatalf("Expect #%d: %v", i+1, err)
		}
	}
	if _, err := e.Expect(ctxFor(t, 100*time.Millisecond), re); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("third Expect of two occurrences = %v, want DeadlineExceeded", err)
	}
}

func TestExpectDeadlineIncludesTail(t *testing.T) {
	var chunks []string
	for i := 1; i <= 30; i++ {
		chunks = append(chunks, fmt.Sprintf("\x1b[32mline %d\x1b[0m\r\n", i))
	}
	chunks = append(chunks, "\x1b]0;title\a[root@nixos:~]# ")
	e, _ := feed(t, strings.Join(chunks, ""))
	// Let everything arrive before the deadline.
	if _, err := e.Expect(ctxFor(t, 5*time.Second), regexp.MustCompile(`line 30\n`)); err != nil {
		t.Fatal(err)
	}
	_, err := e.Expect(ctxFor(t, 100*time.Millisecond), regexp.MustCompile(`never`))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Expect = %v, want DeadlineExceeded", err)
	}
	msg := err.Error()
	for _, want := range []string{`"never"`, "line 12\n", "line 30\n", "[root@nixos:~]# "} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not contain %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "line 11\n") || strings.Contains(msg, "\x1b") {
		t.Errorf("error should hold exactly the last 20 stripped lines:\n%s", msg)
	}
}

func TestExpectStreamEnds(t *testing.T) {
	e, pw := feed(t, "Kernel panic - not syncing\r\n")
	if _, err := e.Expect(ctxFor(t, 5*time.Second), regexp.MustCompile(`panic`)); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	_, err := e.Expect(ctxFor(t, 5*time.Second), regexp.MustCompile(`login:`))
	if !errors.Is(err, io.ErrUnexpectedEOF) || !strings.Contains(err.Error(), "Kernel panic") {
		t.Errorf("Expect after EOF = %v, want ErrUnexpectedEOF with the tail", err)
	}
}

func TestTail(t *testing.T) {
	e, _ := feed(t, "a\r\nb\r\nc\r\n$ ")
	if _, err := e.Expect(ctxFor(t, 5*time.Second), regexp.MustCompile(`\$ `)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		n    int
		want []string
	}{
		{2, []string{"c", "$ "}},
		{10, []string{"a", "b", "c", "$ "}},
		{0, []string{}},
	}
	for _, tt := range tests {
		if got := e.Tail(tt.n); fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("Tail(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
	if got := NewExpecter(strings.NewReader("")).Tail(5); len(got) != 0 {
		t.Errorf("Tail of empty stream = %q", got)
	}
}

func TestBufferBounded(t *testing.T) {
	line := strings.Repeat("x", 1023) + "\n"
	pr, pw := io.Pipe()
	defer pw.Close()
	e := NewExpecter(pr)
	go func() {
		for i := 0; i < 3*maxBuffer/len(line); i++ {
			pw.Write([]byte(line))
		}
		pw.Write([]byte("the end\n"))
	}()
	if _, err := e.Expect(ctxFor(t, 10*time.Second), regexp.MustCompile(`the end\n`)); err != nil {
		t.Fatal(err)
	}
	e.mu.Lock()
	n := len(e.buf)
	e.mu.Unlock()
	if n > maxBuffer+maxBuffer/4 {
		t.Errorf("buffer holds %d bytes, want at most %d", n, maxBuffer+maxBuffer/4)
	}
	if tail := e.Tail(2); fmt.Sprint(tail) != fmt.Sprint([]string{line[:1023], "the end"}) {
		t.Errorf("Tail after trimming = %.40q", tail)
	}
}

// fakeShell is the far side of a console: it reads each line typed, echoes it
// the way a terminal does, and answers with reply(line).
func fakeShell(t *testing.T, reply func(line string) string) (*Expecter, net.Conn) {
	t.Helper()
	ours, theirs := net.Pipe()
	t.Cleanup(func() { ours.Close(); theirs.Close() })
	go func() {
		r := bufio.NewReader(theirs)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if _, err := io.WriteString(theirs, reply(strings.TrimSuffix(line, "\n"))); err != nil {
				return
			}
		}
	}()
	return NewExpecter(ours), ours
}

func TestEchoNotMatched(t *testing.T) {
	long := "echo " + strings.Repeat("ab", 60) + " READY"
	tests := []struct {
		name  string
		line  string
		reply func(line string) string
		re    string
		want  string // submatch 1
	}{
		{"echo then output", "echo READY",
			func(l string) string { return l + "\r\nREADY-out\r\n\x1b]0;t\a$ " },
			`READY(.*)\n`, "-out"},
		{"echo with escapes inside", "echo READY",
			func(l string) string { return "ec\x1b[?2004lho REA\x1b[KDY\r\nREADY-x\r\n" },
			`READY(.*)\n`, "-x"},
		{"readline wraps a long echo with space-CR", long,
			func(l string) string { return l[:80] + " \r" + l[80:] + "\r\nREADY-long\r\n" },
			`READY(.*)\n`, "-long"},
		{"stale output before the send is skipped", "true",
			func(l string) string { return l + "\r\nfresh\r\n" },
			`(\w+)\n`, "fresh"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, conn := fakeShell(t, tt.reply)
			if tt.name == "stale output before the send is skipped" {
				// Output that arrived before SendLine must not match.
				e.mu.Lock()
				e.buf = append(e.buf, "stale\n"...)
				e.mu.Unlock()
			}
			if err := e.SendLine(conn, tt.line); err != nil {
				t.Fatal(err)
			}
			got, err := e.Expect(ctxFor(t, 5*time.Second), regexp.MustCompile(tt.re))
			if err != nil {
				t.Fatal(err)
			}
			if got[1] != tt.want {
				t.Errorf("matched %q: the echo was matched, want submatch %q", got, tt.want)
			}
		})
	}
}

func TestEchoMissing(t *testing.T) {
	e, conn := fakeShell(t, func(string) string { return "READY\r\n" }) // stty -echo
	if err := e.SendLine(conn, "echo READY"); err != nil {
		t.Fatal(err)
	}
	_, err := e.Expect(ctxFor(t, 100*time.Millisecond), regexp.MustCompile(`READY`))
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "echo of sent line") {
		t.Errorf("Expect without echo = %v, want a deadline error about the missing echo", err)
	}
}

func TestSendLineRejectsNewline(t *testing.T) {
	e := NewExpecter(strings.NewReader(""))
	if err := e.SendLine(io.Discard, "ls\nrm -rf /"); err == nil || !strings.Contains(err.Error(), "newline") {
		t.Errorf("SendLine with newline = %v, want an error naming the newline", err)
	}
}

// TestMarkCommandDoubleEcho: a line typed while the shell is busy is echoed
// twice (by the tty, then by readline); the marker still matches only the
// real output.
func TestMarkCommandDoubleEcho(t *testing.T) {
	line, done := MarkCommand("false", 7)
	e, conn := fakeShell(t, func(l string) string {
		return l + "\r\n[nixos@nixos:~]$ " + l + "\r\nNIXVM-DONE 1 7\r\n"
	})
	if err := e.SendLine(conn, line); err != nil {
		t.Fatal(err)
	}
	got, err := e.Expect(ctxFor(t, 5*time.Second), done)
	if err != nil {
		t.Fatal(err)
	}
	if got[1] != "1" {
		t.Errorf("exit status = %q, want 1", got[1])
	}
	if done.MatchString(line + "\n") {
		t.Errorf("marker pattern %s matches the sent line %q", done, line)
	}
}

// TestMarkCommandRealShell checks the marker with a real shell: the output
// matches and carries the exit status.
func TestMarkCommandRealShell(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skipf("no sh: %v", err)
	}
	for _, tt := range []struct {
		cmd  string
		want string
	}{{"true", "0"}, {"(exit 3)", "3"}} {
		line, done := MarkCommand(tt.cmd, 42)
		out, err := exec.Command(sh, "-c", line).CombinedOutput()
		if err != nil {
			t.Fatalf("sh -c %q: %v\n%s", line, err, out)
		}
		m := done.FindStringSubmatch(string(out))
		if m == nil || m[1] != tt.want {
			t.Errorf("sh -c %q printed %q; want a marker with status %s", line, out, tt.want)
		}
	}
}
