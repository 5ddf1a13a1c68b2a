// Package stuck writes what a simulated cluster waits for, for the
// reason of a liveness failure: the unfinished drivers' core workers
// (their tasks, actor calls and the objects their programs wait for),
// every live raylet's lease queue with why each request waits and who
// holds the resources, the worker processes that wait for something, and
// the processes that are down. A user reads from it why a seed is stuck
// without replaying it.
//
// The text is a function of the world's state: processes in the order
// they were added, every component's lines in sorted order. It is
// bounded: each section by its own budget, the whole by Options.LinesMax.
package stuck

import (
	"fmt"
	"strings"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/worker"
	"github.com/grayrt/gray/internal/process"
	"github.com/grayrt/gray/raylet"
	"github.com/grayrt/gray/sim"
)

// Driver is an unfinished driver, as its workload names it.
type Driver struct {
	// Addr is the driver process's address.
	Addr core.Addr
	// What is the workload's own words for where the program is, e.g.
	// `in round 3 step "get sum"`; may be empty.
	What string
}

// Limits of a report, in lines. Each driver and worker process gets at
// most coreLinesMax lines of waits and each raylet at most rayletLinesMax,
// so that one busy process cannot hide the others; LinesMax bounds the
// whole.
const (
	LinesMax       = 60
	coreLinesMax   = 12
	rayletLinesMax = 8
	workerLinesMax = 4
	// downMax bounds the processes named as down (exited drivers of
	// earlier rounds, launched workers that exited, crashed ones).
	downMax = 12
)

// Report describes what the world's processes wait for: the drivers (in
// the order given), then notes (the workload's own lines, e.g. why the
// cluster is not idle), then every live raylet, the worker processes
// that wait for something, and the processes that are down. At most
// linesMax lines, the last then saying how many were left out.
func Report(w *sim.World, drivers []Driver, notes []string, linesMax int) string {
	var lines []string
	for _, d := range drivers {
		lines = append(lines, driverLines(w, d)...)
	}
	lines = append(lines, notes...)
	var workers, down []string
	for _, a := range w.Addrs() {
		switch p := w.Process(a).(type) {
		case nil:
			down = append(down, string(a))
		case *raylet.Raylet:
			ls := p.DescribeLeases(rayletLinesMax + 1)
			lines = append(lines, fmt.Sprintf("%s %s", a, ls[0]))
			lines = append(lines, indent(ls[1:])...)
		case *process.Worker:
			cw := p.CoreWorker()
			if cw == nil {
				continue
			}
			if ws := cw.DescribeWaits(workerLinesMax); len(ws) > 0 {
				workers = append(workers, fmt.Sprintf("%s (worker) %s:", a, counts(cw)))
				workers = append(workers, indent(ws)...)
			}
		}
	}
	lines = append(lines, workers...)
	switch {
	case len(down) > downMax:
		lines = append(lines, fmt.Sprintf("down: %s and %d more", strings.Join(down[:downMax], ", "), len(down)-downMax))
	case len(down) > 0:
		lines = append(lines, "down: "+strings.Join(down, ", "))
	}
	return Bound(lines, linesMax)
}

// driverLines describes one unfinished driver.
func driverLines(w *sim.World, d Driver) []string {
	head := string(d.Addr)
	if d.What != "" {
		head += " " + d.What
	}
	p, ok := w.Process(d.Addr).(*process.Driver)
	if !ok {
		return []string{head + ": the driver process is down"}
	}
	cw := p.CoreWorker()
	if cw == nil {
		return []string{head + ": not attached (its job is not registered yet)"}
	}
	ws := cw.DescribeWaits(coreLinesMax)
	if len(ws) == 0 {
		return []string{head + ": waits for nothing in its core worker (its program runs or pauses)"}
	}
	return append([]string{fmt.Sprintf("%s: %s:", head, counts(cw))}, indent(ws)...)
}

// counts summarises a core worker's pending work.
func counts(cw *worker.Worker) string {
	return fmt.Sprintf("%s, %s pending, %s waited for", plural(cw.PendingTasks(), "task"), plural(cw.PendingActorCalls(), "actor call"), plural(cw.Blocked(), "object"))
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func indent(ls []string) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = "  " + l
	}
	return out
}

// Bound joins lines with newlines, keeping at most linesMax of them (at
// least one): the last kept line then says how many more there were.
func Bound(lines []string, linesMax int) string {
	linesMax = max(linesMax, 1)
	if len(lines) > linesMax {
		n := len(lines) - linesMax + 1
		lines = append(lines[:linesMax-1:linesMax-1], fmt.Sprintf("… %d more lines", n))
	}
	return strings.Join(lines, "\n")
}
