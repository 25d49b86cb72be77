package install

import (
	"fmt"
	"strings"
)

// CheckExtraConfig catches the mistakes in the spec's extraConfig that
// would otherwise surface only deep into an install, as a Nix error inside
// the VM: brackets ({} [] () and ${ }) that do not pair up outside strings
// and comments, strings (double-quoted, and indented ones between pairs of
// single quotes) and /* comments */ that never end, and NUL bytes. It is
// NOT a Nix parser: text that passes can still be wrong Nix, which
// nixos-install then reports. It knows just enough of Nix's lexical rules
// (escapes, interpolation, identifiers that contain ') to not be fooled by
// brackets inside strings and comments.
func CheckExtraConfig(text string) error {
	c := checker{text: text, line: 1}
	return c.run()
}

// frame is an open bracket, string or interpolation.
type frame struct {
	open string // "{", "[", "(", "${", `"`, "''"
	line int
}

type checker struct {
	text  string
	i     int
	line  int
	stack []frame
}

var closerOf = map[string]byte{"{": '}', "[": ']', "(": ')', "${": '}'}

func (c *checker) run() error {
	if i := strings.IndexByte(c.text, 0); i >= 0 {
		return fmt.Errorf("extraConfig: NUL byte at line %d (use plain Nix text)", 1+strings.Count(c.text[:i], "\n"))
	}
	for c.i < len(c.text) {
		var err error
		switch c.top() {
		case `"`:
			c.stringChar()
		case "''":
			c.indentedStringChar()
		default:
			err = c.codeChar()
		}
		if err != nil {
			return err
		}
	}
	if len(c.stack) == 0 {
		return nil
	}
	f := c.stack[len(c.stack)-1]
	switch f.open {
	case `"`:
		return fmt.Errorf(`extraConfig: unterminated string at line %d (a " is never closed)`, f.line)
	case "''":
		return fmt.Errorf("extraConfig: unterminated '' string at line %d (it is never closed with '')", f.line)
	}
	return fmt.Errorf("extraConfig: unbalanced %q at line %d (it is never closed with %q)", f.open, f.line, string(closerOf[f.open]))
}

func (c *checker) top() string {
	if len(c.stack) == 0 {
		return ""
	}
	return c.stack[len(c.stack)-1].open
}

func (c *checker) push(open string, n int) {
	c.stack = append(c.stack, frame{open: open, line: c.line})
	c.i += n
}

// advance moves over n bytes, counting lines.
func (c *checker) advance(n int) {
	end := min(c.i+n, len(c.text))
	c.line += strings.Count(c.text[c.i:end], "\n")
	c.i = end
}

func (c *checker) has(prefix string) bool { return strings.HasPrefix(c.text[c.i:], prefix) }

// stringChar steps through a "..." string: \x escapes anything, ${ opens
// an interpolation, and $$ is a literal pair (so "$${" is not one).
func (c *checker) stringChar() {
	switch {
	case c.has(`\`):
		c.advance(2)
	case c.has(`"`):
		c.stack = c.stack[:len(c.stack)-1]
		c.i++
	case c.has("${"):
		c.push("${", 2)
	case c.has("$$"):
		c.advance(2)
	default:
		c.advance(1)
	}
}

// indentedStringChar steps through an indented string, which two single
// quotes end; two single quotes followed by ', $ or \x are escapes, and ${
// opens an interpolation.
func (c *checker) indentedStringChar() {
	switch {
	case c.has("'''"), c.has("''$"):
		c.advance(3)
	case c.has(`''\`):
		c.advance(4)
	case c.has("''"):
		c.stack = c.stack[:len(c.stack)-1]
		c.i += 2
	case c.has("${"):
		c.push("${", 2)
	case c.has("$$"):
		c.advance(2)
	default:
		c.advance(1)
	}
}

func (c *checker) codeChar() error {
	ch := c.text[c.i]
	switch {
	case ch == '#':
		end := strings.IndexByte(c.text[c.i:], '\n')
		if end < 0 {
			end = len(c.text) - c.i
		}
		c.i += end // the newline itself is counted by the next step
	case c.has("/*"):
		end := strings.Index(c.text[c.i+2:], "*/")
		if end < 0 {
			return fmt.Errorf("extraConfig: unterminated comment at line %d (a /* is never closed with */)", c.line)
		}
		c.advance(end + 4)
	case ch == '"':
		c.push(`"`, 1)
	case c.has("''"):
		c.push("''", 2)
	case c.has("${"):
		c.push("${", 2)
	case ch == '{' || ch == '[' || ch == '(':
		c.push(string(ch), 1)
	case ch == '}' || ch == ']' || ch == ')':
		return c.close(ch)
	case isIdentStart(ch):
		// Identifiers may contain ' (foo'), which must not start a '' string.
		j := c.i + 1
		for j < len(c.text) && isIdentChar(c.text[j]) {
			j++
		}
		c.i = j
	default:
		c.advance(1)
	}
	return nil
}

func (c *checker) close(ch byte) error {
	if len(c.stack) == 0 {
		return fmt.Errorf("extraConfig: unbalanced %q at line %d (nothing is open there)", string(ch), c.line)
	}
	f := c.stack[len(c.stack)-1]
	if want := closerOf[f.open]; want != ch {
		return fmt.Errorf("extraConfig: unbalanced %q at line %d (expected %q to close the %q from line %d)", string(ch), c.line, string(want), f.open, f.line)
	}
	c.stack = c.stack[:len(c.stack)-1]
	c.i++
	return nil
}

func isIdentStart(ch byte) bool {
	return ch == '_' || ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z'
}

func isIdentChar(ch byte) bool {
	return isIdentStart(ch) || ch >= '0' && ch <= '9' || ch == '\'' || ch == '-'
}
