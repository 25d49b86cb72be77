package iso

import (
	"reflect"
	"strings"
	"testing"
)

// The NixOS-shaped configurations parse to the entries in their golden
// files (grub-24.11.cfg's entries are not in any Inspect golden, because
// isolinux gives the x86_64 default).
func TestParseTestdata(t *testing.T) {
	for _, name := range []string{"isolinux-24.11", "isolinux-25.11"} {
		t.Run(name, func(t *testing.T) {
			entries, def, err := ParseIsolinux(testdata(t, name+".cfg"))
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "parse-"+name+".golden", toJSON(t, map[string]any{"default": def, "entries": entries}))
		})
	}
	for _, name := range []string{"grub-24.11", "grub-25.11", "grub-25.11-aarch64"} {
		t.Run(name, func(t *testing.T) {
			entries, err := ParseGrub(testdata(t, name+".cfg"))
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "parse-"+name+".golden", toJSON(t, entries))
		})
	}
}

func TestParseIsolinux(t *testing.T) {
	tests := []struct {
		name    string
		cfg     string
		want    []Entry
		def     string
		wantErr string
	}{
		{
			name: "lower-case keywords, initrd= in append, kernel",
			cfg:  "default linux\nlabel linux\n  kernel /boot//vmlinuz quiet\n  append initrd=/boot/initrd.gz,/boot/extra.gz root=/dev/sr0\n",
			want: []Entry{{Label: "linux", Kernel: "/boot/vmlinuz", Initrd: "/boot/initrd.gz", Params: []string{"quiet", "root=/dev/sr0"}}},
			def:  "linux",
		},
		{
			name: "INITRD line wins over initrd=, which is dropped",
			cfg:  "LABEL a\nLINUX k\nINITRD /i1\nAPPEND initrd=/i2 x\n",
			want: []Entry{{Label: "a", Kernel: "k", Initrd: "/i1", Params: []string{"x"}}},
			def:  "a",
		},
		{
			name: "MENU DEFAULT beats DEFAULT; comments and TEXT HELP ignored",
			cfg:  "DEFAULT a\n# LABEL commented\nLABEL a\nLINUX /a\nLABEL b\n  MENU DEFAULT\n  MENU LABEL ^B entry\n  LINUX /b\n  TEXT HELP\n  LABEL not-a-label\n  ENDTEXT\n",
			want: []Entry{{Label: "a", Kernel: "/a", Params: []string{}}, {Label: "b", Title: "^B entry", Kernel: "/b", Params: []string{}}},
			def:  "b",
		},
		{
			name: "global APPEND applies to labels without their own; APPEND - clears",
			cfg:  "APPEND g=1\nLABEL a\nLINUX /a\nLABEL b\nLINUX /b\nAPPEND -\nLABEL c\nLINUX /c\nAPPEND own\n",
			want: []Entry{
				{Label: "a", Kernel: "/a", Params: []string{"g=1"}},
				{Label: "b", Kernel: "/b", Params: []string{}},
				{Label: "c", Kernel: "/c", Params: []string{"own"}},
			},
			def: "a",
		},
		{
			name: "nested menus, CRLF, tabs",
			cfg:  "MENU BEGIN Options\r\nMENU BEGIN\tSerial\r\nLABEL s\r\n\tLINUX\t/k\r\nMENU END\r\nLABEL o\r\nLINUX /o\r\nMENU END\r\nLABEL top\r\nLINUX /t\r\n",
			want: []Entry{
				{Label: "s", Kernel: "/k", Params: []string{}, Menu: "Options > Serial"},
				{Label: "o", Kernel: "/o", Params: []string{}, Menu: "Options"},
				{Label: "top", Kernel: "/t", Params: []string{}},
			},
			def: "s",
		},
		{name: "no labels", cfg: "SERIAL 0 115200\nDEFAULT boot\n", wantErr: "no LABEL entries"},
		{name: "empty", cfg: "", wantErr: "no LABEL entries"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, def, err := ParseIsolinux([]byte(tt.cfg))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) || def != tt.def {
				t.Errorf("got %+v default %q\nwant %+v default %q", got, def, tt.want, tt.def)
			}
		})
	}
}

func TestParseGrub(t *testing.T) {
	tests := []struct {
		name    string
		cfg     string
		want    []Entry
		wantErr string
	}{
		{
			name: "quotes, options, device prefix, unset and set variables",
			cfg: `set root_dev=cd0
set extra="a b"
menuentry "Say \"hi\"" --class x --id=first {
  linux ($root)/boot//k ${isoboot} $extra 'q x' "$nope"
  initrd (hd0,1)/i
}
menuentry 'It''s' --class=y --id second {
  linux /k2 one\ two
}`,
			want: []Entry{
				{Label: "first", Title: `Say "hi"`, Kernel: "/boot/k", Initrd: "/i", Params: []string{"a b", "q x"}},
				{Label: "second", Title: "Its", Kernel: "/k2", Params: []string{"one two"}},
			},
		},
		{
			name: "submenus after top-level entries; one-line blocks; hidden entries and functions skipped",
			cfg: `submenu "Options" {
  submenu "" {return}
  submenu 'Serial' --class serial { menuentry 'S' { linux /s console=ttyS0 ; initrd /si ; } }
}
hiddenentry 'Text mode' --hotkey 't' {
  menuentry 'inner' { linux /no }
}
function f { menuentry 'in function' { linux /no } }
if [ "$root" != "cd0" ]; then
  menuentry 'Top' {
    linux /t
  }
fi
menuentry 'Brace on next line'
{
  linux /n
}`,
			want: []Entry{
				{Title: "Top", Kernel: "/t", Params: []string{}},
				{Title: "Brace on next line", Kernel: "/n", Params: []string{}},
				{Title: "S", Kernel: "/s", Initrd: "/si", Params: []string{"console=ttyS0"}, Menu: "Options > Serial"},
			},
		},
		{
			name: "set inside if does not apply; line continuation",
			cfg:  "if [ $x ]; then\n  set isoboot=findiso=/x.iso\nfi\nmenuentry A {\n  linux /k $isoboot \\\n    p=1\n}\n",
			want: []Entry{{Title: "A", Kernel: "/k", Params: []string{"p=1"}}},
		},
		{name: "unclosed", cfg: "menuentry 'A' {\n linux /k\n", wantErr: "missing }"},
		{name: "stray close", cfg: "}\n", wantErr: "unexpected }"},
		{name: "no brace", cfg: "menuentry 'A'\nlinux /k\n", wantErr: "menuentry without {"},
		{name: "unterminated quote", cfg: "menuentry 'A {\n", wantErr: "unterminated"},
		{name: "no entries", cfg: "set timeout=10\n", wantErr: "no menuentry"},
		{name: "too deep", cfg: strings.Repeat("{", 100), wantErr: "nested more than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseGrub([]byte(tt.cfg))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseLabel(t *testing.T) {
	tests := []struct {
		label, release, arch, err string
	}{
		{"nixos-minimal-25.11-x86_64", "25.11", "x86_64", ""},
		{"nixos-minimal-24.11-aarch64", "24.11", "aarch64", ""},
		{"nixos-graphical-25.05-x86_64", "25.05", "x86_64", ""},
		{"nixos-gnome-26.05-aarch64", "26.05", "aarch64", ""},
		{"nixos-plasma6-25.11-x86_64", "25.11", "x86_64", ""},
		{"nixos-my-custom-25.11-x86_64", "25.11", "x86_64", ""},
		{"NIXOS-MINIMAL-25.11-X86_64", "", "", `does not start with "nixos-"`},
		{"nixos-minimal-23.11-i686", "", "", `architecture "i686" is not one of x86_64, aarch64`},
		{"nixos-minimal-25.11", "", "", `architecture "25.11"`},
		{"nixos-25.11-x86_64", "", "", "has no edition"},
		{"nixos-minimal-unstable-x86_64", "", "", `release "unstable" is not YY.MM`},
		{"nixos-minimal-25.11.1234-x86_64", "", "", `release "25.11.1234" is not YY.MM`},
		{"nixos--25.11-x86_64", "", "", `edition "" is not a lower-case word`},
		{"ISOIMAGE", "", "", `does not start with "nixos-"`},
		{"", "", "", `does not start with "nixos-"`},
	}
	for _, tt := range tests {
		t.Run(tt.label, func(t *testing.T) {
			rel, arch, err := ParseLabel(tt.label)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || rel != tt.release || arch != tt.arch {
				t.Errorf("got (%q, %q, %v), want (%q, %q)", rel, arch, err, tt.release, tt.arch)
			}
		})
	}
}
