package console

import (
	"bytes"
	"testing"
)

func TestStripANSI(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "hello world\n", "hello world\n"},
		{"nixos prompt with OSC title",
			"\x1b]0;nixos@nixos: ~\a\x1b[1;32m[nixos@nixos:~]$\x1b[0m ",
			"[nixos@nixos:~]$ "},
		{"OSC terminated by ST", "\x1b]2;title\x1b\\text", "text"},
		{"bracketed paste on and off",
			"\x1b[?2004h[nixos@nixos:~]$ ls\r\n\x1b[?2004l\rfile\r\n",
			"[nixos@nixos:~]$ ls\nfile\n"},
		{"colors", "\x1b[01;34mdir\x1b[0m \x1b[38;5;208morange\x1b[m \x1b[38;2;1;2;3mrgb\x1b[0m", "dir orange rgb"},
		{"CRLF", "line1\r\nline2\r\n", "line1\nline2\n"},
		{"cursor movement and erase", "\x1b[2J\x1b[H\x1b[Kabc\x1b[3D\x1b[1A", "abc"},
		{"charset selects", "\x1b(B\x1b)0x\x1b(0q\x1b(By", "xqy"},
		{"bare escapes", "\x1b7a\x1b8b\x1b=c\x1b>d\x1bMe\x1bcf", "abcdef"},
		{"DCS string", "\x1bPq#0;2;0;0;0\x1b\\after", "after"},
		{"stray BEL", "ding\a!", "ding!"},
		{"ESC ESC", "\x1b\x1b[31mred", "red"},
		{"ESC before newline keeps newline", "a\x1b\nb", "a\nb"},
		{"unterminated CSI at end", "abc\x1b[1;3", "abc"},
		{"unterminated OSC ends at newline", "\x1b]0;title\nnext line\n", "\nnext line\n"},
		{"UTF-8 kept", "café ✓ \x1b[1m日本\x1b[0m", "café ✓ 日本"},
		{"non-ASCII aborts CSI", "\x1b[1é", "é"},
		{"C0 control inside CSI is executed", "\x1b[1\n;2mX", "\nX"},
		{"systemd status", "[\x1b[0;32m  OK  \x1b[0m] Started \x1b[0;1;39mLogin Service\x1b[0m.\r\n", "[  OK  ] Started Login Service.\n"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(StripANSI([]byte(tt.in))); got != tt.want {
				t.Errorf("StripANSI(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// stripChunked feeds in to one stripper split at cut, as a stream read in
// two pieces would be.
func stripChunked(in []byte, cut int) []byte {
	var s stripper
	out := s.strip(nil, in[:cut])
	return s.strip(out, in[cut:])
}

func TestStripANSIChunked(t *testing.T) {
	in := []byte("\x1b]0;nixos@nixos: ~\a\x1b[1;32m[nixos@nixos:~]$\x1b[0m echo hi\r\n\x1b[?2004lhi\x1b]2;t\x1b\\\r\n")
	want := StripANSI(in)
	for cut := 0; cut <= len(in); cut++ {
		if got := stripChunked(in, cut); !bytes.Equal(got, want) {
			t.Errorf("split at %d: got %q, want %q", cut, got, want)
		}
	}
}

func FuzzStripANSI(f *testing.F) {
	for _, s := range []string{
		"\x1b]0;nixos@nixos: ~\a\x1b[1;32m[nixos@nixos:~]$\x1b[0m ",
		"\x1b[?2004h\x1b[?2004l\r\n",
		"\x1bP\x1b\\\x1b(B\x1b\x1b[",
		"plain text\n",
	} {
		f.Add([]byte(s), 3)
	}
	f.Fuzz(func(t *testing.T, in []byte, cut int) {
		out := StripANSI(in)
		if i := bytes.IndexByte(out, 0x1b); i >= 0 {
			t.Fatalf("StripANSI(%q) = %q: ESC left at %d", in, out, i)
		}
		if i := bytes.IndexByte(out, '\r'); i >= 0 {
			t.Fatalf("StripANSI(%q) = %q: CR left at %d", in, out, i)
		}
		if len(out) > len(in) {
			t.Fatalf("StripANSI(%q) grew to %q", in, out)
		}
		if len(in) > 0 {
			cut = (cut%len(in) + len(in)) % len(in)
			if got := stripChunked(in, cut); !bytes.Equal(got, out) {
				t.Fatalf("split at %d: %q, whole: %q", cut, got, out)
			}
		}
	})
}
