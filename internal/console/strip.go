// Package console talks to a VM's serial console: it strips terminal escape
// sequences, waits for patterns in the output (Expecter), sends lines,
// attaches a terminal interactively and follows the serial log.
package console

// maxString bounds an OSC/DCS string. A stray "ESC ]" in boot noise would
// otherwise swallow all later output while waiting for a terminator.
const maxString = 4096

type stripState int

const (
	ground   stripState = iota
	esc                 // after ESC
	escInter            // ESC followed by intermediate bytes, e.g. "ESC (" before "B"
	csi                 // ESC [ parameters and intermediates, until a final byte
	str                 // OSC, DCS, SOS, PM, APC body, until BEL or ST
	strEsc              // ESC inside a string: ST ("ESC \") or a new sequence
)

// stripper removes escape sequences from a byte stream fed in arbitrary
// chunks, keeping its state between chunks so a sequence split across reads
// is still removed whole.
type stripper struct {
	state  stripState
	strLen int
}

// StripANSI removes terminal escape sequences and carriage returns from b:
// CSI sequences (colors, cursor movement, private modes such as ESC[?2004h),
// OSC strings such as window titles terminated by BEL or ST, DCS/SOS/PM/APC
// strings, charset selection (ESC ( B) and other two-byte escapes (ESC 7,
// ESC =). A stray BEL is dropped too. An unterminated sequence at the end of
// b is dropped.
func StripANSI(b []byte) []byte {
	var s stripper
	return s.strip(make([]byte, 0, len(b)), b)
}

// strip appends the text of in, without escape sequences, to out.
func (s *stripper) strip(out, in []byte) []byte {
	for i := 0; i < len(in); i++ {
		c := in[i]
		switch s.state {
		case ground:
			switch c {
			case 0x1b:
				s.state = esc
			case '\r', 0x07:
			default:
				out = append(out, c)
			}
		case esc:
			switch {
			case c == '[':
				s.state = csi
			case c == ']' || c == 'P' || c == 'X' || c == '^' || c == '_':
				s.state, s.strLen = str, 0
			case c == 0x1b:
				// ESC ESC: the first one was bare.
			case c >= 0x20 && c <= 0x2f:
				s.state = escInter
			case c >= 0x30 && c <= 0x7e:
				s.state = ground
			default:
				// Not an escape sequence: drop the ESC, keep the byte.
				s.state = ground
				i--
			}
		case escInter:
			switch {
			case c >= 0x20 && c <= 0x2f:
			case c >= 0x30 && c <= 0x7e:
				s.state = ground
			default:
				s.state = ground
				i--
			}
		case csi:
			switch {
			case c >= 0x40 && c <= 0x7e:
				s.state = ground
			case c >= 0x20 && c <= 0x3f:
			case c == 0x1b:
				s.state = esc
			case c < 0x20:
				// Terminals execute C0 controls inside a CSI sequence
				// and carry on with the sequence.
				if c != '\r' && c != 0x07 {
					out = append(out, c)
				}
			default:
				// DEL or a non-ASCII byte: not a sequence after all.
				s.state = ground
				i--
			}
		case str:
			switch {
			case c == 0x07:
				s.state = ground
			case c == 0x1b:
				s.state = strEsc
			case c == '\n':
				// Titles never span lines; a newline means the
				// terminator was lost, so resume output here.
				s.state = ground
				i--
			default:
				s.strLen++
				if s.strLen > maxString {
					s.state = ground
				}
			}
		case strEsc:
			if c == '\\' {
				s.state = ground
			} else {
				s.state = esc
				i--
			}
		}
	}
	return out
}
