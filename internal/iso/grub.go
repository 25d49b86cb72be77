package iso

import (
	"errors"
	"fmt"
	"strings"
)

// ParseGrub reads a GRUB 2 configuration and returns its menu entries:
// the top-level menuentries first, in file order (the first one is GRUB's
// default), then the entries inside submenus, whose Menu names the
// submenu path ("Options > Serial console=ttyS0,115200n8").
//
// It understands what NixOS writes: quoted titles in either quote style,
// options such as --class after the title, linux/initrd lines (a device
// prefix such as ($root) is dropped), variables (set at top level outside
// any if; unset ones expand to nothing, like ${isoboot}), if/fi blocks
// (entries inside count as top-level), hiddenentry and function bodies
// (skipped) and one-line blocks like `submenu "" {return}`.
func ParseGrub(cfg []byte) ([]Entry, error) {
	p := &grubParser{lx: &grubLexer{src: string(cfg), line: 1, vars: map[string]string{}}}
	if err := p.commands(nil, false, nil); err != nil {
		return nil, err
	}
	if len(p.top)+len(p.sub) == 0 {
		return nil, errors.New("no menuentry")
	}
	return append(p.top, p.sub...), nil
}

const menuSep = " > "

type grubParser struct {
	lx       *grubLexer
	top, sub []Entry
	ifDepth  int
	depth    int
}

// maxGrubDepth bounds block nesting (NixOS uses 3 levels); deeper input is
// corrupt and must not exhaust the stack.
const maxGrubDepth = 64

// commands parses commands until the closing "}" (nested) or the end of
// the file (top level). menus is the submenu path; entry is non-nil inside
// a menuentry body.
func (p *grubParser) commands(menus []string, nested bool, entry *Entry) error {
	if nested {
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > maxGrubDepth {
			return fmt.Errorf("line %d: blocks nested more than %d deep", p.lx.line, maxGrubDepth)
		}
	}
	for {
		words, end, err := p.lx.command()
		if err != nil {
			return err
		}
		words = p.structural(words)
		if len(words) > 0 {
			if err := p.command(words, end, menus, entry); err != nil {
				return err
			}
			if end == tokLBrace {
				continue // the block was consumed by command
			}
		} else if end == tokLBrace {
			// A bare block: parse and keep its entries.
			if err := p.commands(menus, true, entry); err != nil {
				return err
			}
			continue
		}
		switch end {
		case tokRBrace:
			if !nested {
				return fmt.Errorf("line %d: unexpected }", p.lx.line)
			}
			return nil
		case tokEOF:
			if nested {
				return fmt.Errorf("line %d: missing } before end of file", p.lx.line)
			}
			return nil
		}
	}
}

// structural drops shell keywords (if, then, else, fi, ...) from the front
// of a command, tracking if-depth so that `set` inside a condition is not
// taken as unconditional.
func (p *grubParser) structural(words []string) []string {
	for len(words) > 0 {
		switch words[0] {
		case "if", "while", "until", "for":
			p.ifDepth++
			return nil // the condition itself is not a command we act on
		case "fi", "done":
			if p.ifDepth > 0 {
				p.ifDepth--
			}
		case "then", "else", "elif", "do", "!":
		default:
			return words
		}
		words = words[1:]
	}
	return words
}

func (p *grubParser) command(words []string, end tok, menus []string, entry *Entry) error {
	switch words[0] {
	case "menuentry", "submenu", "hiddenentry", "function":
		switch end {
		case tokRBrace, tokEOF:
			return fmt.Errorf("line %d: %s without {", p.lx.line, words[0])
		case tokNewline, tokSemi:
			if err := p.expectBrace(words[0]); err != nil {
				return err
			}
		}
		title, id := grubTitle(words[1:])
		switch words[0] {
		case "menuentry":
			e := Entry{Label: id, Title: title, Params: []string{}, Menu: strings.Join(menus, menuSep)}
			if err := p.commands(menus, true, &e); err != nil {
				return err
			}
			if entry != nil {
				return nil // a menuentry inside a menuentry is not in the menu
			}
			if len(menus) == 0 {
				p.top = append(p.top, e)
			} else {
				p.sub = append(p.sub, e)
			}
			return nil
		case "submenu":
			return p.commands(append(menus[:len(menus):len(menus)], title), true, entry)
		default: // hiddenentry, function: not menu entries, nor anything in them
			var discard Entry
			return p.commands(menus, true, &discard)
		}
	case "linux", "linuxefi", "linux16":
		if entry != nil && entry.Kernel == "" && len(words) > 1 {
			entry.Kernel = cleanPath(dropDevice(words[1]))
			for _, w := range words[2:] {
				if w != "" {
					entry.Params = append(entry.Params, w)
				}
			}
		}
	case "initrd", "initrdefi", "initrd16":
		if entry != nil && entry.Initrd == "" && len(words) > 1 {
			entry.Initrd = cleanPath(dropDevice(words[1]))
		}
	case "set":
		if entry == nil && p.ifDepth == 0 && len(words) > 1 {
			if k, v, ok := strings.Cut(words[1], "="); ok {
				p.lx.vars[k] = v
			}
		}
	}
	if end == tokLBrace {
		// Some other command followed by a block: keep its entries.
		return p.commands(menus, true, entry)
	}
	return nil
}

// expectBrace skips newlines up to the "{" that opens a menuentry body.
func (p *grubParser) expectBrace(what string) error {
	for {
		words, end, err := p.lx.command()
		if err != nil {
			return err
		}
		if len(words) == 0 && end == tokLBrace {
			return nil
		}
		if len(words) > 0 || end == tokEOF || end == tokRBrace {
			return fmt.Errorf("line %d: %s without {", p.lx.line, what)
		}
	}
}

// grubTitle returns the title (first non-option argument) and the --id.
func grubTitle(args []string) (title, id string) {
	haveTitle := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		if opt, ok := strings.CutPrefix(a, "--"); ok && opt != "" {
			name, val, hasVal := strings.Cut(opt, "=")
			switch name {
			case "class", "users", "hotkey", "id":
				if !hasVal && i+1 < len(args) {
					i++
					val = args[i]
				}
				if name == "id" {
					id = val
				}
			}
			continue
		}
		if !haveTitle {
			title, haveTitle = a, true
		}
	}
	return title, id
}

// dropDevice strips a GRUB device prefix: ($root)/boot/x -> /boot/x.
func dropDevice(p string) string {
	if strings.HasPrefix(p, "(") {
		if i := strings.IndexByte(p, ')'); i >= 0 {
			return p[i+1:]
		}
	}
	return p
}

type tok int

const (
	tokEOF tok = iota
	tokNewline
	tokSemi
	tokLBrace
	tokRBrace
)

// grubLexer splits GRUB script into words, expanding variables as it goes
// (so that a `set` seen earlier applies to later lines).
type grubLexer struct {
	src  string
	pos  int
	line int
	vars map[string]string
}

// command returns the words of the next command and the token that ended
// it: newline, ";", "{", "}" or end of file.
func (lx *grubLexer) command() ([]string, tok, error) {
	var words []string
	for {
		lx.skipBlanks()
		if lx.pos >= len(lx.src) {
			return words, tokEOF, nil
		}
		c := lx.src[lx.pos]
		switch c {
		case '\n':
			lx.pos++
			lx.line++
			return words, tokNewline, nil
		case ';':
			lx.pos++
			return words, tokSemi, nil
		case '{':
			lx.pos++
			return words, tokLBrace, nil
		case '}':
			lx.pos++
			return words, tokRBrace, nil
		case '#':
			for lx.pos < len(lx.src) && lx.src[lx.pos] != '\n' {
				lx.pos++
			}
			continue
		}
		w, quoted, err := lx.word()
		if err != nil {
			return nil, tokEOF, err
		}
		// An unset unquoted variable leaves no word at all, as in GRUB.
		if w != "" || quoted {
			words = append(words, w)
		}
	}
}

func (lx *grubLexer) skipBlanks() {
	for lx.pos < len(lx.src) {
		switch {
		case lx.src[lx.pos] == ' ', lx.src[lx.pos] == '\t', lx.src[lx.pos] == '\r':
			lx.pos++
		case strings.HasPrefix(lx.src[lx.pos:], "\\\n"): // line continuation
			lx.pos += 2
			lx.line++
		default:
			return
		}
	}
}

// word reads one word: unquoted, 'single' (literal) and "double" (with
// variables and \ escapes) parts joined.
func (lx *grubLexer) word() (w string, quoted bool, err error) {
	var b strings.Builder
	startLine := lx.line
	for lx.pos < len(lx.src) {
		c := lx.src[lx.pos]
		switch c {
		case ' ', '\t', '\r', '\n', ';', '{', '}':
			return b.String(), quoted, nil
		case '\\':
			lx.pos++
			if lx.pos < len(lx.src) {
				if lx.src[lx.pos] == '\n' {
					lx.line++
				} else {
					b.WriteByte(lx.src[lx.pos])
				}
				lx.pos++
			}
		case '\'':
			end := strings.IndexByte(lx.src[lx.pos+1:], '\'')
			if end < 0 {
				return "", false, fmt.Errorf("line %d: unterminated ' quote", startLine)
			}
			s := lx.src[lx.pos+1 : lx.pos+1+end]
			lx.line += strings.Count(s, "\n")
			b.WriteString(s)
			lx.pos += end + 2
			quoted = true
		case '"':
			lx.pos++
			quoted = true
			closed := false
			for lx.pos < len(lx.src) && !closed {
				c := lx.src[lx.pos]
				switch {
				case c == '"':
					lx.pos++
					closed = true
				case c == '\\' && lx.pos+1 < len(lx.src) && strings.IndexByte("$\"\\\n", lx.src[lx.pos+1]) >= 0:
					if lx.src[lx.pos+1] != '\n' {
						b.WriteByte(lx.src[lx.pos+1])
					} else {
						lx.line++
					}
					lx.pos += 2
				case c == '$':
					b.WriteString(lx.variable())
				default:
					if c == '\n' {
						lx.line++
					}
					b.WriteByte(c)
					lx.pos++
				}
			}
			if !closed {
				return "", false, fmt.Errorf("line %d: unterminated \" quote", startLine)
			}
		case '$':
			b.WriteString(lx.variable())
		default:
			b.WriteByte(c)
			lx.pos++
		}
	}
	return b.String(), quoted, nil
}

// variable expands $name, ${name} or a positional $1 at lx.pos (on '$').
// Unset variables expand to nothing, as in GRUB.
func (lx *grubLexer) variable() string {
	lx.pos++ // '$'
	if lx.pos < len(lx.src) && lx.src[lx.pos] == '{' {
		end := strings.IndexByte(lx.src[lx.pos:], '}')
		if end < 0 {
			lx.pos = len(lx.src)
			return ""
		}
		name := lx.src[lx.pos+1 : lx.pos+end]
		lx.pos += end + 1
		return lx.vars[name]
	}
	start := lx.pos
	for lx.pos < len(lx.src) && isNameByte(lx.src[lx.pos]) {
		lx.pos++
	}
	if start == lx.pos {
		return "$" // a lone dollar is literal
	}
	return lx.vars[lx.src[start:lx.pos]]
}

func isNameByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
