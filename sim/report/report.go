// Package report writes a simulation campaign's report: the JSON summary
// (the last line of `gray sim run --json`), and the report folder of
// `gray sim run --out` and simtest's -gray.out: summary.json, junit.xml,
// index.html and a folder per failing seed with its replay command and
// traces (docs/simulation.md, "The report folder").
package report

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/grayrt/gray/linearizability"
	"github.com/grayrt/gray/sim"
)

// Bounds of the --out report. A campaign that finds a common bug can fail
// thousands of seeds; their traces would fill the disk and take as long to
// write as the campaign took to run, so only some failing seeds are re-run
// for traces, and each trace is capped.
const (
	// TracesDefault is how many failing seeds Write re-runs for their
	// traces by default (the first of each failure kind comes on top).
	TracesDefault = 10
	// traceTextBytesMax caps one trace.txt.
	traceTextBytesMax = 256 << 20
	// chromeEventsMax caps the events of one trace.json.
	chromeEventsMax = 1_000_000
	// junitMessageMax caps the one-line failure message in junit.xml; the
	// full reason is in the failure's text.
	junitMessageMax = 300
)

// reservedNames are the files the report writes into a seed's folder; an
// attachment of the same name is saved with an "attachment-" prefix.
var reservedNames = map[string]bool{"replay.txt": true, "trace.txt": true, "trace.json": true}

// Write writes the campaign's report into dir: summary.json, junit.xml,
// index.html and a folder per failing seed (see docs/simulation.md). It
// fills in js's per-failure fields (folder, files, notes) before writing
// summary.json. The failing seeds chosen for traces are re-run, in
// parallel, with the text trace and the Chrome trace on; each re-run must
// reproduce the campaign's hash, and a seed whose re-run does not is
// flagged as nondeterministic in its note and on stdout.
func Write(ctx context.Context, dir string, c sim.Campaign, s sim.Summary, js *Summary, tracesMax int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	kinds := map[string]bool{}
	traced := make([]bool, len(s.Failures))
	n := 0
	for i, f := range s.Failures {
		// A seed that crashed its worker would crash this process when
		// re-run here for its traces.
		if f.Kind == sim.KindCrash {
			continue
		}
		if tracesMax > 0 && (n < tracesMax || !kinds[f.Kind]) {
			traced[i] = true
			kinds[f.Kind] = true
		}
		n++
	}
	parallel := c.Parallel
	if parallel <= 0 {
		parallel = runtime.GOMAXPROCS(0)
	}
	var g errgroup.Group
	g.SetLimit(parallel)
	for i, f := range s.Failures {
		jf := &js.Failures[i] // each goroutine writes its own element
		g.Go(func() error { return writeSeed(ctx, dir, c, f, traced[i], jf) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, "summary.json"), func(w io.Writer) error {
		return linearizability.WriteSummaryJSON(w, js)
	}); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, "junit.xml"), func(w io.Writer) error {
		return linearizability.WriteJUnit(w, "sim."+s.Workload, junitCases(s))
	}); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, "index.html"), func(w io.Writer) error {
		return writeIndex(w, *js)
	})
}

// writeSeed writes the folder of one failing seed.
func writeSeed(ctx context.Context, dir string, c sim.Campaign, f sim.Result, traced bool, jf *Failure) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	jf.Dir = fmt.Sprintf("seed-%d", f.Seed)
	path := filepath.Join(dir, jf.Dir)
	if err := os.MkdirAll(path, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(path, "replay.txt"), []byte(f.ReplayCommand()+"\n"), 0o644); err != nil {
		return err
	}
	jf.Files = append(jf.Files, "replay.txt")
	if traced {
		r, err := WriteTraces(filepath.Join(path, "trace.txt"), filepath.Join(path, "trace.json"), c, f.Seed, fmt.Sprintf("%s seed %d", c.Workload, f.Seed))
		if err != nil {
			return err
		}
		jf.Files = append(jf.Files, "trace.txt", "trace.json")
		// A determinism failure is about two runs differing; its re-run
		// need not fail, but the first run's hash must still come back.
		if r.Hash != f.Hash || f.Kind != "determinism" && r.Kind != f.Kind {
			jf.Note = fmt.Sprintf("NONDETERMINISTIC: the re-run for the traces gave hash %s (%s), the campaign's run %s (%s); the traces may not show the failure",
				r.HashString(), orPassed(r.Kind), f.HashString(), f.Kind)
		}
	} else if f.Kind == sim.KindCrash {
		jf.Note = "traces not written: the seed crashed its worker process, and a re-run would crash the report; its replay crashes the same way, with the whole stack"
	} else {
		jf.Note = "traces not written (see --out-traces); replay with --trace FILE --chrome FILE"
	}
	for _, a := range f.Attachments {
		name := a.Name
		if reservedNames[name] {
			name = "attachment-" + name
		}
		if err := os.WriteFile(filepath.Join(path, name), a.Data, 0o644); err != nil {
			return err
		}
		jf.Files = append(jf.Files, name)
	}
	return nil
}

func orPassed(kind string) string {
	if kind == "" {
		return "passed"
	}
	return kind
}

// WriteTraces runs seed of c with the text trace written to textPath and
// the Chrome trace (chrome://tracing, ui.perfetto.dev), titled title, to
// chromePath, and returns the run. Both are capped (the text at 256 MiB,
// the Chrome trace at a million events).
func WriteTraces(textPath, chromePath string, c sim.Campaign, seed uint64, title string) (sim.Result, error) {
	text, err := os.Create(textPath)
	if err != nil {
		return sim.Result{}, err
	}
	defer text.Close() // closed explicitly below; this covers early returns
	chromeFile, err := os.Create(chromePath)
	if err != nil {
		return sim.Result{}, err
	}
	defer chromeFile.Close()

	textBuf := bufio.NewWriter(text)
	limited := &limitWriter{w: textBuf, n: traceTextBytesMax}
	chromeBuf := bufio.NewWriter(chromeFile)
	chrome := sim.NewChromeTrace(chromeBuf, title)
	chrome.Limit = chromeEventsMax

	cfg := c.SeedConfig(seed)
	cfg.Trace = limited
	cfg.Observer = chrome.Observe
	r := c.RunOne(cfg)

	if limited.truncated {
		fmt.Fprintf(textBuf, "... trace truncated after %d bytes\n", traceTextBytesMax)
	}
	err = errors.Join(limited.err, textBuf.Flush(), text.Close(), chrome.Close(), chromeBuf.Flush(), chromeFile.Close())
	return r, err
}

// limitWriter passes on at most n bytes and drops the rest, remembering
// that it did. It reports every write as complete, so that the simulator
// (which ignores trace write errors anyway) writes on undisturbed.
type limitWriter struct {
	w         io.Writer
	n         int64
	truncated bool
	err       error
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > l.n {
		l.truncated = true
		if l.n <= 0 {
			return len(p), nil
		}
		p = p[:l.n]
	}
	l.n -= int64(len(p))
	if _, err := l.w.Write(p); err != nil && l.err == nil {
		l.err = err
	}
	return len(p), nil
}

// writeFile creates path and writes it with write, reporting the first
// error of writing, flushing or closing.
func writeFile(path string, write func(w io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	b := bufio.NewWriter(f)
	return errors.Join(write(b), b.Flush(), f.Close())
}

// junitCases turns a campaign into one JUnit test case per seed, named
// seed-N in class sim.<workload>; a failure carries its kind, reason and
// replay command.
func junitCases(s sim.Summary) []linearizability.TestCase {
	cases := make([]linearizability.TestCase, 0, len(s.Results))
	for _, r := range s.Results {
		tc := linearizability.TestCase{Name: fmt.Sprintf("seed-%d", r.Seed), Classname: "sim." + s.Workload, Time: r.Wall}
		if !r.Passed {
			replay := r.ReplayCommand()
			tc.Failure = &linearizability.Failure{
				Kind:    r.Kind,
				Message: OneLine(r.Kind+": "+r.Reason, junitMessageMax),
				Details: fmt.Sprintf("%s: %s\n\nfaults: %s\nhash: %s\nreplay: %s\n", r.Kind, r.Reason, r.Faults, r.HashString(), replay),
			}
			tc.SystemOut = "replay: " + replay
		}
		cases = append(cases, tc)
	}
	return cases
}

// OneLine returns the first line of s, cut to at most n bytes (on a rune
// boundary) with an ellipsis.
func OneLine(s string, n int) string {
	line, _, more := strings.Cut(s, "\n")
	if len(line) > n {
		cut := n
		for cut > 0 && !isRuneStart(line[cut]) {
			cut--
		}
		return line[:cut] + "…"
	}
	if more {
		return line + " …"
	}
	return line
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
