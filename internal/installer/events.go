package installer

import (
	"encoding/json"
	"os"
	"time"
)

// Kinds of events.
const (
	KindPhase  = "phase"  // a phase begins (or, for ready, the install ends)
	KindLog    = "log"    // the console's latest line, while a phase runs
	KindFailed = "failed" // the install failed; Message is the reason
)

// Event is one step of an install, for the progress display, --json
// output and the instance's events.jsonl.
type Event struct {
	Time    time.Time `json:"time"`
	Elapsed float64   `json:"elapsed"` // seconds since the install began
	Kind    string    `json:"kind"`
	Phase   string    `json:"phase"`
	Message string    `json:"message,omitempty"`
	// On the final ready event: seconds spent waiting on the guest, and
	// the rest (the driver's own time).
	Waited   float64 `json:"waited,omitempty"`
	DeadTime float64 `json:"deadTime,omitempty"`
}

// Reporter receives events as they happen.
type Reporter interface{ Report(Event) }

type nopReporter struct{}

func (nopReporter) Report(Event) {}

// appendEvent adds ev to the events file; a failure to log is not a
// failure of the install.
func appendEvent(path string, ev Event) {
	b, err := json.Marshal(ev)
	if err != nil {
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	f.Write(append(b, '\n'))
}
