package main

import (
	"fmt"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress is a progress bar on stderr, or nothing: bars are shown only when
// stderr is a terminal and neither --json nor --quiet is given. A nil
// *progress is valid and does nothing. Its methods are safe for concurrent use.
type progress struct {
	bar *progressbar.ProgressBar
}

// newProgress starts a bar over total units (-1: unknown); bytes says the
// units are bytes.
func (a *app) newProgress(total int64, desc string, bytes bool) *progress {
	if !a.stderrTTY || a.json || a.quiet {
		return nil
	}
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(a.errOut),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100 * time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetPredictTime(total > 0),
	}
	if bytes {
		opts = append(opts, progressbar.OptionShowBytes(true), progressbar.OptionUseIECUnits(true))
	} else {
		opts = append(opts, progressbar.OptionShowCount())
	}
	return &progress{bar: progressbar.NewOptions64(total, opts...)}
}

func (p *progress) add(n int64) {
	if p != nil {
		_ = p.bar.Add64(n)
	}
}

func (p *progress) set(done, total int64) {
	if p == nil {
		return
	}
	if total > 0 && p.bar.GetMax64() != total {
		p.bar.ChangeMax64(total)
	}
	_ = p.bar.Set64(done)
}

func (p *progress) describe(desc string) {
	if p != nil {
		p.bar.Describe(desc)
	}
}

// done removes the bar from the terminal.
func (p *progress) done() {
	if p != nil {
		_ = p.bar.Finish()
		_ = p.bar.Clear()
	}
}

// formatBytes renders a byte count for people: "1.5 MiB".
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
