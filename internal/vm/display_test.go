package vm

import (
	"strings"
	"testing"
)

func TestChooseDisplay(t *testing.T) {
	tests := []struct {
		name                                string
		flag, remembered, specDisp, desktop string
		hostDisplay                         bool
		want, from                          string
	}{
		{"auto desktop with a host display opens a window", "", "", "auto", "i3", true, "gtk", DisplayAuto},
		{"auto desktop without a host display is headless", "", "", "auto", "dwm", false, "none", DisplayAuto},
		{"auto without a desktop is the serial console", "", "", "auto", "none", true, "none", DisplayAuto},
		{"the spec's display", "", "", "vnc", "none", false, "vnc", DisplayFromSpec},
		{"remembered beats the spec", "", "sdl", "vnc", "i3", false, "sdl", DisplayRemembered},
		{"the flag beats what is remembered", "spice", "sdl", "vnc", "i3", true, "spice", DisplayFromFlag},
		{"flag auto goes back to the automatic choice", "auto", "sdl", "none", "i3", true, "gtk", DisplayAuto},
		{"an old spec without display is auto", "", "", "", "i3", true, "gtk", DisplayAuto},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ChooseDisplay(tt.flag, tt.remembered, tt.specDisp, tt.desktop, tt.hostDisplay)
			if got.Mode != tt.want || got.From != tt.from || (got.From == DisplayAuto) != (got.Why != "") {
				t.Errorf("ChooseDisplay = %+v, want mode %s from %s (auto with its reason)", got, tt.want, tt.from)
			}
		})
	}
}

// TestDisplayKeys: each window names the keys as its UI shows them: gtk's
// menu accelerators (GtkAccelLabel renders "Ctrl+Alt+G"; ui/gtk.c binds g
// and f with HOTKEY_MODIFIERS), SDL's window title ("Press Ctrl-Alt-G to
// exit grab", ui/sdl2.c; f toggles full screen).
func TestDisplayKeys(t *testing.T) {
	for _, tt := range []struct {
		mode      string
		want, not []string
	}{
		{"gtk", []string{"Ctrl+Alt+G frees the mouse", "Ctrl+Alt+F toggles full screen"}, []string{"Ctrl-Alt"}},
		{"sdl", []string{"Ctrl-Alt-G frees the mouse", "Ctrl-Alt-F toggles full screen"}, []string{"Ctrl+Alt"}},
	} {
		got := DisplayKeys(tt.mode)
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("DisplayKeys(%s) = %q, want %q in it", tt.mode, got, w)
			}
		}
		for _, n := range tt.not {
			if strings.Contains(got, n) {
				t.Errorf("DisplayKeys(%s) = %q spells the keys as the other UI does (%q)", tt.mode, got, n)
			}
		}
	}
	for _, mode := range []string{"none", "vnc", "spice"} {
		if got := DisplayKeys(mode); got != "" {
			t.Errorf("DisplayKeys(%s) = %q, want none (no window)", mode, got)
		}
	}
}

func TestRunningDisplay(t *testing.T) {
	for line, want := range map[string]string{
		"qemu -vga std -display none -chardev x":                        "none",
		"qemu -vga std -usb -device usb-tablet -display gtk -chardev x": "gtk",
		"qemu -display sdl":                            "sdl",
		"qemu -vnc unix:/run/x/vnc.sock -display none": "vnc",
		"qemu -spice unix=on,addr=/x/spice.sock,disable-ticketing=on -display none": "spice",
		"": "none",
	} {
		if got := RunningDisplay(line); got != want {
			t.Errorf("RunningDisplay(%q) = %q, want %q", line, got, want)
		}
	}
}
