package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/nixvm/nixvm/internal/installer"
)

// phaseTitles are the phase names a person reads.
var phaseTitles = map[string]string{
	installer.PhaseFetching:     "fetching image",
	installer.PhaseBooting:      "booting installer",
	installer.PhasePartitioning: "partitioning",
	installer.PhaseFormatting:   "formatting",
	installer.PhaseConfiguring:  "configuring",
	installer.PhaseInstalling:   "installing NixOS",
	installer.PhasePoweroff:     "powering off the installer",
	installer.PhaseFirstBoot:    "first boot from disk",
	installer.PhaseReady:        "ready",
}

// textReporter prints phases with the elapsed time, and the console's latest
// line under the running phase: redrawn in place on a terminal, at most
// every few seconds otherwise (logs stay readable).
type textReporter struct {
	mu       sync.Mutex
	w        io.Writer
	tty      bool
	live     bool // a live line is drawn and must be cleared
	lastLive time.Time
}

func newTextReporter(w io.Writer) *textReporter {
	f, ok := w.(*os.File)
	return &textReporter{w: w, tty: ok && term.IsTerminal(int(f.Fd()))}
}

const plainLiveEvery = 10 * time.Second

func (r *textReporter) Report(ev installer.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch ev.Kind {
	case installer.KindLog:
		line := strings.TrimSpace(ev.Message)
		if r.tty {
			width := 80
			if f, ok := r.w.(*os.File); ok {
				if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 10 {
					width = w
				}
			}
			if len(line) > width-6 {
				line = line[:width-6]
			}
			fmt.Fprintf(r.w, "\r\x1b[K    %s", line)
			r.live = true
			return
		}
		if time.Since(r.lastLive) >= plainLiveEvery {
			r.lastLive = time.Now()
			fmt.Fprintf(r.w, "           %s\n", line)
		}
	case installer.KindPhase, installer.KindFailed:
		if r.live {
			fmt.Fprint(r.w, "\r\x1b[K")
			r.live = false
		}
		title := phaseTitles[ev.Phase]
		if title == "" {
			title = ev.Phase
		}
		if ev.Kind == installer.KindFailed {
			title = "failed"
		}
		msg := ""
		if ev.Message != "" {
			msg = " (" + ev.Message + ")"
		}
		fmt.Fprintf(r.w, "[%7.1fs] %s%s\n", ev.Elapsed, title, msg)
	}
}

// jsonReporter writes each event as one JSON line, for scripts.
type jsonReporter struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func newJSONReporter(w io.Writer) *jsonReporter { return &jsonReporter{enc: json.NewEncoder(w)} }

func (r *jsonReporter) Report(ev installer.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.enc.Encode(ev)
}
