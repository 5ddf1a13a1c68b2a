package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/grayrt/gray/sim"
	"github.com/grayrt/gray/sim/report"
)

// oneFailureRange returns seeds A..B of echo's no-seq-check variant under
// swarm faults of which exactly one, B, fails: a campaign with one failure.
func oneFailureRange(t *testing.T) (first, failing uint64) {
	t.Helper()
	c := sim.Campaign{Workload: "echo", Options: sim.Options{Variant: "no-seq-check"}, FaultSpec: "swarm"}
	prevPassed := false
	for seed := uint64(1); seed <= 200; seed++ {
		r := c.RunOne(c.SeedConfig(seed))
		if !r.Passed && prevPassed {
			return seed - 1, seed
		}
		prevPassed = r.Passed
	}
	t.Fatal("no passing seed followed by a failing one among 200 seeds of no-seq-check")
	return 0, 0
}

// junitDoc is what a CI reporter reads from junit.xml.
type junitDoc struct {
	XMLName  xml.Name `xml:"testsuites"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Suites   []struct {
		Name     string `xml:"name,attr"`
		Tests    int    `xml:"tests,attr"`
		Failures int    `xml:"failures,attr"`
		Cases    []struct {
			Name      string `xml:"name,attr"`
			Classname string `xml:"classname,attr"`
			Time      string `xml:"time,attr"`
			Failure   *struct {
				Message string `xml:"message,attr"`
				Type    string `xml:"type,attr"`
				Text    string `xml:",chardata"`
			} `xml:"failure"`
			SystemOut string `xml:"system-out"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

// TestRunOutWritesTheReport runs a campaign with exactly one failure into
// --out and checks every promised file.
func TestRunOutWritesTheReport(t *testing.T) {
	first, failing := oneFailureRange(t)
	dir := filepath.Join(t.TempDir(), "new", "report")
	stdout, _, err := runApp(t, "sim", "run", "--workload", "echo", "--variant", "no-seq-check", "--faults", "swarm",
		"--seeds", fmt.Sprintf("%d..%d", first, failing), "--out", dir, "--quiet")
	if exitCode(err) != exitFailed {
		t.Fatalf("campaign with a failure: %v, want exit %d\n%s", err, exitFailed, stdout)
	}
	if !strings.Contains(stdout, "report: "+filepath.Join(dir, "index.html")) {
		t.Errorf("stdout does not point at the report:\n%s", stdout)
	}
	replay := fmt.Sprintf("go run ./cmd/gray sim replay --workload echo --seed %d --faults swarm --variant no-seq-check", failing)

	// junit.xml: one case per seed, one failure with kind, reason and replay.
	var ju junitDoc
	if err := xml.Unmarshal(readFile(t, dir, "junit.xml"), &ju); err != nil {
		t.Fatalf("junit.xml does not parse: %v", err)
	}
	if ju.Tests != 2 || ju.Failures != 1 || len(ju.Suites) != 1 || ju.Suites[0].Failures != 1 || len(ju.Suites[0].Cases) != 2 {
		t.Fatalf("junit.xml: tests=%d failures=%d suites=%+v; want 2 tests, 1 failure", ju.Tests, ju.Failures, ju.Suites)
	}
	failed := ju.Suites[0].Cases[1]
	if failed.Name != fmt.Sprintf("seed-%d", failing) || failed.Classname != "sim.echo" || failed.Failure == nil ||
		failed.Failure.Type != "invariant" || !strings.Contains(failed.Failure.Message, "answer to request") ||
		!strings.Contains(failed.Failure.Text, "replay: "+replay) || ju.Suites[0].Cases[0].Failure != nil {
		t.Fatalf("junit.xml cases = %+v, want seed-%d failing with its kind, reason and replay command", ju.Suites[0].Cases, failing)
	}

	// summary.json.
	var js report.Summary
	if err := json.Unmarshal(readFile(t, dir, "summary.json"), &js); err != nil {
		t.Fatalf("summary.json: %v", err)
	}
	if js.Seeds != 2 || js.Passed != 1 || js.Failed != 1 || js.Events == 0 || js.WallSeconds <= 0 || js.EventsPerSecond <= 0 ||
		js.SimSeconds <= 0 || js.CodeVersion == "" || !strings.HasPrefix(js.CommandLine, "gray sim run --workload echo") ||
		len(js.Coverage) != 7 {
		t.Fatalf("summary.json = %+v", js)
	}
	f := js.Failures[0]
	if len(js.Failures) != 1 || f.Seed != failing || f.Kind != "invariant" || f.Reason == "" || !strings.Contains(f.Faults, "latency=") ||
		f.Replay != replay || f.Dir != fmt.Sprintf("seed-%d", failing) || f.Note != "" {
		t.Fatalf("summary.json failures = %+v", js.Failures)
	}

	// The seed's folder.
	seedDir := filepath.Join(dir, f.Dir)
	if got := string(readFile(t, seedDir, "replay.txt")); got != replay+"\n" {
		t.Errorf("replay.txt = %q, want %q", got, replay)
	}
	trace := string(readFile(t, seedDir, "trace.txt"))
	if !strings.Contains(trace, "echo.Request") || !strings.Contains(trace, "FAIL   invariant: ") {
		t.Errorf("trace.txt lacks the run and its failure:\n%.2000s", trace)
	}
	checkChromeTrace(t, readFile(t, seedDir, "trace.json"))
	if att := string(readFile(t, seedDir, "echo-clients.txt")); !strings.Contains(att, "client-1 seq=") {
		t.Errorf("attachment echo-clients.txt = %q", att)
	}
	for _, name := range []string{"replay.txt", "trace.txt", "trace.json", "echo-clients.txt"} {
		if !strings.Contains(strings.Join(f.Files, " "), name) {
			t.Errorf("summary.json lists files %v, want %s among them", f.Files, name)
		}
	}

	// index.html: self-contained, links everything.
	index := string(readFile(t, dir, "index.html"))
	for _, want := range []string{
		`href="summary.json"`, `href="junit.xml"`,
		fmt.Sprintf(`href="seed-%d/trace.json"`, failing), fmt.Sprintf(`href="seed-%d/trace.txt"`, failing),
		fmt.Sprintf(`href="seed-%d/replay.txt"`, failing), fmt.Sprintf(`href="seed-%d/echo-clients.txt"`, failing),
		"Coverage of declared paths", "echo answered after retry", replay,
	} {
		if !strings.Contains(index, want) {
			t.Errorf("index.html lacks %q", want)
		}
	}
	for _, external := range []string{"<script", "<link", "src="} {
		if strings.Contains(index, external) {
			t.Errorf("index.html is not self-contained: it has %q", external)
		}
	}
}

func readFile(t *testing.T, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkChromeTrace requires valid trace-event JSON (the array form or the
// object form) with thread names and at least one message flow pair.
func checkChromeTrace(t *testing.T, b []byte) {
	t.Helper()
	type event struct {
		Name string         `json:"name"`
		Ph   string         `json:"ph"`
		ID   *uint64        `json:"id"`
		Ts   *float64       `json:"ts"`
		Pid  *int           `json:"pid"`
		Tid  *int           `json:"tid"`
		Args map[string]any `json:"args"`
	}
	var events []event
	if err := json.Unmarshal(b, &events); err != nil {
		var doc struct {
			TraceEvents []event `json:"traceEvents"`
		}
		if err := json.Unmarshal(b, &doc); err != nil || doc.TraceEvents == nil {
			t.Fatalf("Chrome trace is neither an array nor {\"traceEvents\": [...]}: %v\n%.300s", err, b)
		}
		events = doc.TraceEvents
	}
	threads := 0
	starts := map[uint64]bool{}
	pairs := 0
	for _, e := range events {
		if e.Ph == "" || e.Pid == nil || (e.Ph != "M" && e.Ts == nil) {
			t.Fatalf("event without ph, pid or ts: %+v", e)
		}
		switch e.Ph {
		case "M":
			if e.Name == "thread_name" && e.Args["name"] != "" && e.Tid != nil {
				threads++
			}
		case "s":
			starts[*e.ID] = true
		case "f":
			if e.ID != nil && starts[*e.ID] {
				pairs++
			}
		}
	}
	if threads < 2 || pairs < 1 {
		t.Fatalf("Chrome trace has %d named threads and %d flow pairs, want some of each", threads, pairs)
	}
}

func TestReplayWritesChromeTrace(t *testing.T) {
	dir := t.TempDir()
	full := filepath.Join(dir, "full.json")
	plain, _, err := runApp(t, "sim", "replay", "--workload", "echo", "--seed", "4", "--faults", "swarm")
	if err != nil {
		t.Fatal(err)
	}
	traced, _, err := runApp(t, "sim", "replay", "--workload", "echo", "--seed", "4", "--faults", "swarm", "--chrome", full)
	if err != nil {
		t.Fatal(err)
	}
	if plain != traced {
		t.Fatalf("the Chrome trace changed the run:\n%s\nthen\n%s", plain, traced)
	}
	checkChromeTrace(t, readFile(t, dir, "full.json"))

	// With --until the trace ends where the run stopped, and is still valid.
	part := filepath.Join(dir, "part.json")
	if _, _, err := runApp(t, "sim", "replay", "--workload", "echo", "--seed", "4", "--faults", "swarm", "--until", "300", "--chrome", part); err != nil {
		t.Fatal(err)
	}
	b := readFile(t, dir, "part.json")
	checkChromeTrace(t, b)
	if !bytes.Contains(b, []byte("stopped after event 300 (--until)")) || bytes.Contains(b, []byte(`"index":301`)) {
		t.Fatalf("--until 300 trace does not stop at event 300")
	}
}

func TestShrinkCommandPrintsAVerifiedSmallerReplay(t *testing.T) {
	_, failing := oneFailureRange(t)
	stdout, stderr, err := runApp(t, "sim", "shrink", "--workload", "echo", "--seed", fmt.Sprint(failing), "--faults", "swarm", "--variant", "no-seq-check")
	if err != nil {
		t.Fatalf("shrink failed: %v\n%s\n%s", err, stdout, stderr)
	}
	for _, want := range []string{"minimal configuration after ", "removed: ", "clients:  3 → ", "duration: 10s → ", "events:   ", "code version: ", "replay (verified: it fails with invariant"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("shrink output lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "attempt 1/200: ") {
		t.Errorf("shrink reported no progress:\n%s", stderr)
	}
	// Run the printed command as a user would.
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	cmd := strings.TrimSpace(lines[len(lines)-1])
	args, err := splitShell(strings.TrimPrefix(cmd, "go run ./cmd/gray "))
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := runApp(t, args...)
	if exitCode(err) != exitFailed || !strings.Contains(out, "invariant: ") {
		t.Fatalf("%s: %v\n%s; want an invariant failure", cmd, err, out)
	}
	hashLine := ""
	for _, l := range lines {
		if h, ok := strings.CutPrefix(strings.TrimSpace(l), "hash:"); ok {
			hashLine = strings.TrimSpace(h)
		}
	}
	if hashLine == "" || !strings.Contains(out, "hash: "+hashLine) {
		t.Fatalf("replay printed\n%s\nwant hash %q", out, hashLine)
	}

	// A passing seed has nothing to shrink.
	_, _, err = runApp(t, "sim", "shrink", "--workload", "echo", "--seed", "1", "--duration", "1s", "-q")
	if exitCode(err) != exitFailed || !strings.Contains(err.Error(), "nothing to shrink") {
		t.Fatalf("shrink of a passing seed: %v, want exit %d saying there is nothing to shrink", err, exitFailed)
	}
}

func TestRunForRunsUntilTheBudget(t *testing.T) {
	stdout, _, err := runApp(t, "sim", "run", "--workload", "echo", "--for", "300ms", "--seed", "7", "--faults", "swarm", "--json")
	if err != nil {
		t.Fatalf("sim run --for: %v\n%s", err, stdout)
	}
	var js report.Summary
	if err := json.Unmarshal([]byte(lastLine(stdout)), &js); err != nil {
		t.Fatal(err)
	}
	if js.Seeds < 1 || js.Failed != 0 || !js.OutOfTime || js.BudgetSeconds != 0.3 || !strings.Contains(stdout, "time budget of 300ms spent after ") {
		t.Fatalf("--for 300ms: %+v\n%s", js, stdout)
	}
}

func TestRunPrintsPathsNotReached(t *testing.T) {
	stdout, _, err := runApp(t, "sim", "run", "--workload", "echo", "--seeds", "1..2", "--faults", "none", "--duration", "1s")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"coverage: 1 of 7 paths echo declares were reached\n", "  echo answered: ", "not reached: fault: crash\n", "not reached: message duplicated\n"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
}

func TestProgressBar(t *testing.T) {
	var buf bytes.Buffer
	b := newProgressBar(&buf, true, false)
	b.update(sim.Progress{Done: 10, Total: 40, Failed: 2, Events: 3_000_000, Wall: 2 * time.Second})
	got := buf.String()
	want := "\r[######..................] 10/40 seeds, 2 failed, 1.50M events/s, ETA 6s\x1b[K"
	if got != want {
		t.Fatalf("bar = %q, want %q", got, want)
	}
	buf.Reset()
	b.update(sim.Progress{Done: 11, Total: 40, Wall: 2*time.Second + time.Millisecond})
	if buf.Len() != 0 {
		t.Fatalf("bar redrawn after 1ms: %q", buf.String())
	}
	b.clear()
	if buf.String() != "\r\x1b[K" {
		t.Fatalf("clear wrote %q", buf.String())
	}
	buf.Reset()
	// An open-ended campaign: the budget sets the fraction and the ETA.
	b.update(sim.Progress{Done: 5, Failed: 0, Events: 1000, Wall: 30 * time.Second, Budget: time.Minute})
	if got := buf.String(); !strings.Contains(got, "[############............] 5 seeds, 0 failed, 33 events/s, ETA 30s") {
		t.Fatalf("budget bar = %q", got)
	}

	// Not a terminal: a plain line every two seconds.
	buf.Reset()
	p := newProgressBar(&buf, false, false)
	p.update(sim.Progress{Done: 1, Total: 4, Events: 10, Wall: time.Second})
	p.update(sim.Progress{Done: 2, Total: 4, Events: 20, Wall: 2 * time.Second})
	p.update(sim.Progress{Done: 3, Total: 4, Events: 30, Wall: 3 * time.Second})
	if got := buf.String(); got != "2/4 seeds, 0 failed, 10 events/s, ETA 2s\n" {
		t.Fatalf("plain progress = %q", got)
	}
	if isTerminal(&buf) {
		t.Fatal("a buffer is a terminal")
	}
}

func TestSplitShellUndoesShellQuote(t *testing.T) {
	for _, words := range [][]string{
		{"sim", "replay", "--faults", "latency=941µs,jitter=0s"},
		{"a b", "it's", `"q"`, "$x", ""},
	} {
		var quoted []string
		for _, w := range words {
			quoted = append(quoted, sim.ShellQuote(w))
		}
		got, err := splitShell(strings.Join(quoted, " "))
		if err != nil || strings.Join(got, "\x00") != strings.Join(words, "\x00") {
			t.Errorf("splitShell(%q) = %q, %v; want %q", strings.Join(quoted, " "), got, err, words)
		}
	}
	if _, err := splitShell("a 'b"); err == nil {
		t.Error("unterminated quote accepted")
	}
}

func TestListNames(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"gray", "sim", "list", "--names"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if strings.Join(sim.WorkloadNames(), "\n")+"\n" != stdout.String() {
		t.Fatalf("sim list --names = %q, want %v", stdout.String(), sim.WorkloadNames())
	}
}
