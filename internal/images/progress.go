package images

import (
	"fmt"
	"io"
)

// Progress receives download progress. Implementations show a bar on a
// terminal or print plain lines; they must be cheap, Advance is called for
// every chunk written.
type Progress interface {
	// Begin starts (or restarts) a transfer of name: done bytes are already
	// on disk (a resume), total is the full size or -1 when unknown.
	Begin(name string, done, total int64)
	// Advance reports n more bytes written.
	Advance(n int64)
	// End reports that the transfer stopped; err is nil on success.
	End(err error)
}

type noProgress struct{}

func (noProgress) Begin(string, int64, int64) {}
func (noProgress) Advance(int64)              {}
func (noProgress) End(error)                  {}

// LineProgress prints a plain line at every tenth of the download (every
// 100 MiB when the size is unknown): for logs and non-terminal output.
type LineProgress struct {
	W                  io.Writer
	name               string
	done, total, shown int64
}

const unknownStep = 100 << 20

func (p *LineProgress) Begin(name string, done, total int64) {
	p.name, p.done, p.total = name, done, total
	p.shown = p.step(done)
	switch {
	case done > 0:
		fmt.Fprintf(p.W, "resuming %s at %s\n", name, p.amount())
	default:
		fmt.Fprintf(p.W, "downloading %s (%s)\n", name, sizeOrUnknown(total))
	}
}

func (p *LineProgress) Advance(n int64) {
	p.done += n
	if s := p.step(p.done); s > p.shown {
		p.shown = s
		fmt.Fprintf(p.W, "downloaded %s\n", p.amount())
	}
}

func (p *LineProgress) End(err error) {}

// step is the index of the reporting step done falls in.
func (p *LineProgress) step(done int64) int64 {
	if p.total > 0 {
		return done * 10 / p.total
	}
	return done / unknownStep
}

func (p *LineProgress) amount() string {
	if p.total > 0 {
		return fmt.Sprintf("%s of %s (%d%%)", HumanBytes(p.done), HumanBytes(p.total), p.done*100/p.total)
	}
	return HumanBytes(p.done)
}

func sizeOrUnknown(n int64) string {
	if n < 0 {
		return "size unknown"
	}
	return HumanBytes(n)
}

// HumanBytes formats n with binary units: 512 B, 120 MiB, 1.2 GiB.
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	suffix := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}[exp]
	if v >= 10 {
		return fmt.Sprintf("%.0f %s", v, suffix)
	}
	return fmt.Sprintf("%.1f %s", v, suffix)
}
