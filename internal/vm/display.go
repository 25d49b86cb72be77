package vm

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/nixvm/nixvm/internal/qemu"
	"github.com/nixvm/nixvm/internal/store"
)

// DisplayChoice is the display of one start and why it was chosen.
type DisplayChoice struct {
	Mode string // none | gtk | sdl | spice | vnc: what QEMU gets
	From string // DisplayFromFlag, DisplayRemembered, DisplayFromSpec or DisplayAuto
	Why  string // auto's reason, one line for the user, e.g. "auto: a desktop VM and $DISPLAY is set"
}

// Where a display choice came from (DisplayChoice.From); the CLI words the
// first two with its flag.
const (
	DisplayFromFlag   = "flag"       // this start's display option
	DisplayRemembered = "remembered" // an earlier start's, from state.json
	DisplayFromSpec   = "spec"       // the spec's display
	DisplayAuto       = "auto"       // decided from the desktop and the host (Why)
)

// ChooseDisplay decides the display of a start, purely: the --display of
// this start wins, then the one remembered from an earlier start
// (state.json), then the spec's. "auto" (the default) is a gtk window for a
// desktop VM when the host has a display ($DISPLAY or $WAYLAND_DISPLAY) and
// headless otherwise.
func ChooseDisplay(flag, remembered, specDisplay, desktop string, hostHasDisplay bool) DisplayChoice {
	d, from := specDisplay, DisplayFromSpec
	if remembered != "" {
		d, from = remembered, DisplayRemembered
	}
	if flag != "" {
		d, from = flag, DisplayFromFlag
	}
	if d != "auto" && d != "" {
		return DisplayChoice{Mode: d, From: from}
	}
	switch {
	case desktop == "none" || desktop == "":
		return DisplayChoice{Mode: "none", From: DisplayAuto, Why: "auto: no desktop, so the serial console"}
	case hostHasDisplay:
		return DisplayChoice{Mode: "gtk", From: DisplayAuto, Why: "auto: a " + desktop + " desktop and the host has a display"}
	default:
		return DisplayChoice{Mode: "none", From: DisplayAuto, Why: "auto: a " + desktop + " desktop but no $DISPLAY or $WAYLAND_DISPLAY, so headless"}
	}
}

// DisplayKeys is what to tell the user when a window opens: the keys that
// free the mouse and toggle full screen, as each of QEMU's UIs spells them
// (gtk's menu accelerators, SDL's window title). With the USB tablet the
// pointer is absolute, so neither grabs the mouse unless clicked into.
func DisplayKeys(mode string) string {
	switch mode {
	case "gtk":
		return "QEMU window (gtk): Ctrl+Alt+G frees the mouse and keyboard, Ctrl+Alt+F toggles full screen"
	case "sdl":
		return "QEMU window (SDL): Ctrl-Alt-G frees the mouse and keyboard, Ctrl-Alt-F toggles full screen"
	}
	return ""
}

// ViewerHelp says how to connect a viewer to a VM whose display is mode;
// "" when there is nothing to connect to.
func ViewerHelp(in store.Instance, mode string) string {
	switch mode {
	case "vnc":
		sock := qemu.VNCSocket(in)
		return fmt.Sprintf("VNC on the unix socket %s (no TCP port):\n  vncviewer %s        # TigerVNC\n  remote-viewer vnc+unix://%s", sock, sock, sock)
	case "spice":
		sock := qemu.SpiceSocket(in)
		return fmt.Sprintf("SPICE on the unix socket %s (no TCP port):\n  remote-viewer spice+unix://%s", sock, filepath.Clean(sock))
	case "gtk", "sdl":
		return "the VM's QEMU window (" + mode + ") on this host's display. " + DisplayKeys(mode)
	}
	return ""
}

// RunningDisplay reads the display mode from the QEMU command line a start
// wrote (the instance's cmdline file, qemu.Shell form): what the VM was
// really started with, whatever was asked.
func RunningDisplay(cmdline string) string {
	f := strings.Fields(cmdline)
	for i := 0; i+1 < len(f); i++ {
		switch {
		case f[i] == "-vnc":
			return "vnc"
		case f[i] == "-spice":
			return "spice"
		case f[i] == "-display" && f[i+1] != "none":
			return strings.SplitN(f[i+1], ",", 2)[0]
		}
	}
	return "none"
}
