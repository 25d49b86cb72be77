package console

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"unicode"
)

const (
	// maxBuffer bounds the stripped text kept for matching. A pattern is
	// never expected to span more than this; older text is dropped.
	maxBuffer = 1 << 20
	// tailSize is how much recent text Tail (and error messages) look at.
	tailSize = 64 << 10
	// errorTailLines is how many lines of output a failed Expect reports.
	errorTailLines = 20
)

// Expecter waits for patterns in a console's output. A goroutine reads the
// stream, strips escape sequences (keeping state across reads, so sequences
// and patterns split between reads are handled) and appends the text to a
// bounded buffer that Expect matches against.
//
// Echo rule: a console echoes what is typed, so a pattern that occurs in a
// sent line would match its own echo. SendLine therefore records the line,
// and the next Expect first finds that echo in the output that arrived after
// the line was written and discards everything up to its end: Expect after
// SendLine only ever sees output that follows the echo. The echo is found
// with whitespace made optional, because readline inserts " \r" where a long
// line wraps. If the terminal does not echo (stty -echo), Expect fails at its
// deadline saying the echo was not seen; write to the console directly to
// send without this rule.
//
// For command completion also use MarkCommand: its marker is computed by the
// shell, so even a line echoed twice (typed while a previous command was still
// running: once by the tty, once by readline) cannot match.
type Expecter struct {
	mu      sync.Mutex
	strip   stripper
	buf     []byte        // stripped text: recent history plus unconsumed text
	pos     int           // start of the unconsumed text in buf
	changed chan struct{} // closed and replaced whenever buf grows or reading ends
	err     error         // why reading stopped, once it has

	echo *pendingEcho
}

// pendingEcho is the echo of the last SendLine, not yet skipped.
type pendingEcho struct {
	line string
	re   *regexp.Regexp // nil for an empty line
	from int            // offset in buf where output after the write begins
}

// NewExpecter starts reading r (typically the serial console socket). The
// reading goroutine ends when r returns an error; close r to stop it.
func NewExpecter(r io.Reader) *Expecter {
	e := &Expecter{changed: make(chan struct{})}
	go e.read(r)
	return e
}

func (e *Expecter) read(r io.Reader) {
	chunk := make([]byte, 32<<10)
	for {
		n, err := r.Read(chunk)
		e.mu.Lock()
		if n > 0 {
			e.buf = e.strip.strip(e.buf, chunk[:n])
			e.trim()
		}
		if err != nil {
			e.err = err
		}
		close(e.changed)
		e.changed = make(chan struct{})
		e.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// trim drops the oldest text once buf outgrows maxBuffer by a quarter, so the
// copy is amortised over many reads.
func (e *Expecter) trim() {
	over := len(e.buf) - maxBuffer
	if over <= maxBuffer/4 {
		return
	}
	e.buf = append(e.buf[:0], e.buf[over:]...)
	e.pos = max(0, e.pos-over)
	if e.echo != nil {
		e.echo.from = max(0, e.echo.from-over)
	}
}

// Expect waits until re matches the unconsumed output, consumes the output
// up to and including the match and returns the match and its submatches
// (as regexp.FindStringSubmatch does). Output is matched after escape
// sequences and carriage returns are removed, so "\n" ends a line.
//
// re is tried on the output received so far, so a pattern whose match could
// still grow (\d+ at its end) may match too little: end patterns with a
// delimiter such as \n, or with the prompt's trailing space.
//
// It fails when ctx ends or the stream ends first; the error wraps ctx.Err()
// (or the read error) and includes the last 20 lines of output.
func (e *Expecter) Expect(ctx context.Context, re *regexp.Regexp) ([]string, error) {
	for {
		e.mu.Lock()
		e.skipEcho()
		if e.echo == nil {
			if m := re.FindSubmatchIndex(e.buf[e.pos:]); m != nil {
				match := make([]string, len(m)/2)
				for i := range match {
					if m[2*i] >= 0 {
						match[i] = string(e.buf[e.pos+m[2*i] : e.pos+m[2*i+1]])
					}
				}
				e.pos += m[1]
				e.mu.Unlock()
				return match, nil
			}
		}
		changed, rerr, echo := e.changed, e.err, e.echo
		e.mu.Unlock()

		what := fmt.Sprintf("%q", re.String())
		if echo != nil {
			what = fmt.Sprintf("echo of sent line %q (terminal echo off?)", echo.line)
		}
		if rerr != nil {
			if errors.Is(rerr, io.EOF) {
				rerr = io.ErrUnexpectedEOF
			}
			return nil, e.failure(fmt.Sprintf("console output ended before %s appeared", what), rerr)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, e.failure(fmt.Sprintf("%s not seen on the console", what), ctx.Err())
		}
	}
}

// skipEcho consumes the output through the echo of the last sent line, once
// that echo has arrived. Called with e.mu held.
func (e *Expecter) skipEcho() {
	if e.echo == nil {
		return
	}
	start := max(e.pos, e.echo.from)
	if e.echo.re == nil {
		e.pos, e.echo = start, nil
		return
	}
	if loc := e.echo.re.FindIndex(e.buf[start:]); loc != nil {
		e.pos, e.echo = start+loc[1], nil
	}
}

func (e *Expecter) failure(msg string, err error) error {
	tail := e.Tail(errorTailLines)
	if len(tail) == 0 {
		return fmt.Errorf("%s: %w (no console output at all)", msg, err)
	}
	return fmt.Errorf("%s: %w\nlast %d lines of console output:\n%s", msg, err, len(tail), strings.Join(tail, "\n"))
}

// Tail returns the last n lines of stripped output (consumed or not), the
// last one possibly incomplete (e.g. a prompt). It looks at most at the last
// 64 KiB.
func (e *Expecter) Tail(n int) []string {
	e.mu.Lock()
	text := e.buf[max(0, len(e.buf)-tailSize):]
	cut := len(e.buf) > tailSize
	s := strings.TrimSuffix(string(text), "\n")
	e.mu.Unlock()

	lines := strings.Split(s, "\n")
	if cut && len(lines) > 1 {
		lines = lines[1:] // partial first line
	}
	if len(lines) == 1 && lines[0] == "" {
		return nil
	}
	if n < len(lines) {
		lines = lines[len(lines)-n:]
	}
	return lines
}

// SendLine writes line and a newline to w (the console) and records it so
// that the next Expect skips its echo. line must not contain a newline or
// carriage return.
func (e *Expecter) SendLine(w io.Writer, line string) error {
	if strings.ContainsAny(line, "\r\n") {
		return fmt.Errorf("console: line to send %q contains a newline; send one line at a time", line)
	}
	echo := &pendingEcho{line: line}
	if re := echoPattern(line); re != "" {
		var err error
		if echo.re, err = regexp.Compile(re); err != nil {
			return fmt.Errorf("console: build echo pattern for %q: %w", line, err)
		}
	}
	// Record where the echo can start before writing: the echo may be read
	// before Write even returns.
	e.mu.Lock()
	echo.from = len(e.buf)
	e.echo = echo
	e.mu.Unlock()

	if _, err := io.WriteString(w, line+"\n"); err != nil {
		e.mu.Lock()
		if e.echo == echo {
			e.echo = nil
		}
		e.mu.Unlock()
		return fmt.Errorf("console: send %q: %w", line, err)
	}
	return nil
}

// echoPattern matches line as a terminal echoes it: the same non-space
// characters in order, with any whitespace (or none) between them, since
// line wrapping inserts spaces and newlines.
func echoPattern(line string) string {
	var parts []string
	for _, r := range line {
		if !unicode.IsSpace(r) {
			parts = append(parts, regexp.QuoteMeta(string(r)))
		}
	}
	return strings.Join(parts, `\s*`)
}

// MarkCommand returns a shell line that runs cmd and then prints a marker
// carrying cmd's exit status, and the pattern that matches the printed
// marker (submatch 1 is the exit status). The marker contains $? and an
// arithmetic expansion that only the shell evaluates, so the echo of the
// line can never match the pattern. id tells apart the markers of
// successive commands. cmd must not end in a comment or "&".
func MarkCommand(cmd string, id int) (line string, done *regexp.Regexp) {
	line = fmt.Sprintf(`%s; echo "NIXVM-DONE $? $((%d+0))"`, cmd, id)
	done = regexp.MustCompile(fmt.Sprintf(`NIXVM-DONE (\d+) %d\n`, id))
	return line, done
}
