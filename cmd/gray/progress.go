package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/grayrt/gray/sim"
)

// progressEvery is the least time between two progress lines, so that a
// long campaign shows it is alive without flooding a log.
const progressEvery = 2 * time.Second

// barEvery is the least time between two redraws of the progress bar on a
// terminal: often enough to look live, rarely enough to cost nothing.
const barEvery = 100 * time.Millisecond

// barWidth is the number of cells of the bar itself.
const barWidth = 24

// isTerminal reports whether w is a terminal (a character device), where
// a progress bar can redraw its line.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progressBar shows a campaign's progress on stderr: on a terminal one line
// redrawn in place (seeds done/total, failures, events/s, ETA), elsewhere a
// plain line every two seconds. Its methods are called from
// Campaign.Progress, whose calls never overlap, and after the campaign.
type progressBar struct {
	w     io.Writer
	tty   bool
	quiet bool
	// last is when the latest line was drawn, on the campaign's clock.
	last time.Duration
	// shown is the width of the bar line on screen, 0 if none.
	shown int
}

func newProgressBar(w io.Writer, tty, quiet bool) *progressBar {
	return &progressBar{w: w, tty: tty, quiet: quiet}
}

// update shows p if enough time passed since the last line.
func (b *progressBar) update(p sim.Progress) {
	if b.quiet {
		return
	}
	finished := p.Total > 0 && p.Done == p.Total
	if b.tty {
		if b.shown > 0 && p.Wall-b.last < barEvery && !finished {
			return
		}
		b.last = p.Wall
		line := barLine(p)
		fmt.Fprintf(b.w, "\r%s\x1b[K", line)
		b.shown = len(line)
		return
	}
	if p.Wall-b.last < progressEvery {
		return
	}
	b.last = p.Wall
	fmt.Fprintln(b.w, plainLine(p))
}

// clear erases the bar so that another line can be printed in its place;
// the next update draws it again.
func (b *progressBar) clear() {
	if b.tty && b.shown > 0 {
		fmt.Fprint(b.w, "\r\x1b[K")
		b.shown = 0
	}
}

// finish erases the bar at the end of the campaign, whose summary follows.
func (b *progressBar) finish() { b.clear() }

// fraction is how far the campaign is, from 0 to 1: seeds done out of the
// total, or time spent out of the budget, whichever is further.
func fraction(p sim.Progress) float64 {
	f := 0.0
	if p.Total > 0 {
		f = float64(p.Done) / float64(p.Total)
	}
	if p.Budget > 0 {
		f = max(f, p.Wall.Seconds()/p.Budget.Seconds())
	}
	return min(f, 1)
}

// eta estimates the wall time left: from the rate of seeds so far, capped
// by the time budget.
func eta(p sim.Progress) time.Duration {
	left := time.Duration(-1)
	if p.Total > 0 && p.Done > 0 {
		left = time.Duration(float64(p.Wall) / float64(p.Done) * float64(p.Total-p.Done))
	}
	if p.Budget > 0 {
		rest := max(p.Budget-p.Wall, 0)
		if left < 0 || rest < left {
			left = rest
		}
	}
	return left
}

func formatETA(d time.Duration) string {
	if d < 0 {
		return "?"
	}
	return d.Round(time.Second).String()
}

func eventsPerSecond(p sim.Progress) float64 {
	if p.Wall <= 0 {
		return 0
	}
	return float64(p.Events) / p.Wall.Seconds()
}

// formatRate prints a rate with an SI suffix: 950, 12.3k, 2.39M.
func formatRate(r float64) string {
	switch {
	case r >= 1e6:
		return fmt.Sprintf("%.2fM", r/1e6)
	case r >= 1e3:
		return fmt.Sprintf("%.1fk", r/1e3)
	}
	return fmt.Sprintf("%.0f", r)
}

// barLine is the terminal line: [#######.....] 123/2000 seeds, 2 failed,
// 2.39M events/s, ETA 12s.
func barLine(p sim.Progress) string {
	filled := int(fraction(p) * barWidth)
	bar := strings.Repeat("#", filled) + strings.Repeat(".", barWidth-filled)
	seeds := fmt.Sprintf("%d seeds", p.Done)
	if p.Total > 0 {
		seeds = fmt.Sprintf("%d/%d seeds", p.Done, p.Total)
	}
	return fmt.Sprintf("[%s] %s, %d failed, %s events/s, ETA %s", bar, seeds, p.Failed, formatRate(eventsPerSecond(p)), formatETA(eta(p)))
}

// plainLine is the line printed every two seconds when stderr is not a
// terminal.
func plainLine(p sim.Progress) string {
	if p.Total > 0 {
		return fmt.Sprintf("%d/%d seeds, %d failed, %.0f events/s, ETA %s", p.Done, p.Total, p.Failed, eventsPerSecond(p), formatETA(eta(p)))
	}
	return fmt.Sprintf("%d seeds, %d failed, %.0f events/s, ETA %s", p.Done, p.Failed, eventsPerSecond(p), formatETA(eta(p)))
}
