package sim

import (
	"bytes"
	"fmt"
	"strings"
)

// divergenceTraceMax bounds the text trace kept per run when a
// nondeterministic seed is explained.
const divergenceTraceMax = 256 << 20

// explainDivergence runs a seed twice more with text traces and describes
// the first line where they differ, naming the Go work (task body, actor
// method, driver program) that ran last on that process: the usual
// culprit is user code that reads the wall clock, draws from global
// randomness, iterates a map, starts goroutines or does real IO.
func (c Campaign) explainDivergence(cfg Config) string {
	var traces [2]boundedBuffer
	for i := range traces {
		traces[i].max = divergenceTraceMax
		run := cfg
		run.Trace = &traces[i]
		c.RunOne(run)
	}
	a := strings.Split(traces[0].String(), "\n")
	b := strings.Split(traces[1].String(), "\n")
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] == b[i] {
			continue
		}
		f := strings.Fields(a[i])
		var procs []string
		if len(f) > 2 {
			procs = append(procs, f[2])
		}
		if len(f) > 5 && f[3] == "recv" && f[4] == "from" {
			procs = append(procs, f[5]) // the sender made the difference
		}
		var b2 strings.Builder
		fmt.Fprintf(&b2, "first difference at trace line %d:\n  run 1: %s\n  run 2: %s", i+1, oneLine(a[i]), oneLine(b[i]))
		for _, p := range procs {
			fmt.Fprintf(&b2, "\n  last Go work on %s before it: %s", p, lastWork(a[:i], p))
		}
		return b2.String()
	}
	if len(a) != len(b) {
		return fmt.Sprintf("one trace ends after %d lines, the other after %d", min(len(a), len(b)), max(len(a), len(b)))
	}
	return "two more traced runs were identical: the difference did not reproduce (it depends on something that varies between runs, such as goroutine timing)"
}

// oneLine shortens a trace line for a report.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// lastWork finds the most recent step of Go work of proc in lines.
func lastWork(lines []string, proc string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		f := strings.Fields(lines[i])
		if len(f) > 4 && f[2] == proc && (f[3] == "run" || f[3] == "resume") {
			return strings.Join(f[4:], " ")
		}
	}
	return "none (the difference is in a component, or in work that ran on another process)"
}

// boundedBuffer keeps at most max bytes of what is written to it.
type boundedBuffer struct {
	bytes.Buffer
	max int
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room < len(p) {
		if room > 0 {
			b.Buffer.Write(p[:room])
		}
		return len(p), nil
	}
	return b.Buffer.Write(p)
}
