package main

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/grayrt/gray/sim"
	"github.com/grayrt/gray/sim/report"
)

// TestMain lets this test binary stand in for gray as the seed worker of
// `sim run`, which starts its own binary with seedWorkerArgs: under go
// test, that binary is this one.
func TestMain(m *testing.M) {
	if slices.Equal(os.Args[1:], seedWorkerArgs) {
		os.Exit(run(context.Background(), append([]string{"gray"}, seedWorkerArgs...), os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// crashSeed of the "test-cli-crash" workload dies of a runtime fatal
// error; its other seeds pass.
const crashSeed = 2

type crashWorkload struct{}

func (crashWorkload) Setup(w *sim.World) error {
	if w.Seed() == crashSeed {
		var mu sync.Mutex
		mu.Unlock()
	}
	return nil
}
func (crashWorkload) Done() bool                             { return true }
func (crashWorkload) Pending() string                        { return "" }
func (crashWorkload) Check(*sim.World) (kind, reason string) { return "", "" }

func init() {
	sim.RegisterWorkload("test-cli-crash", "test-only: seed 2 dies of a runtime fatal error", nil,
		func(sim.Options) (sim.Workload, error) { return crashWorkload{}, nil })
}

// TestRunReportsACrashingSeed runs a campaign in which one seed crashes
// its worker: the campaign ends with exit 1 and its summary, and the crash
// is a failure like any other in the JSON line, summary.json, junit.xml
// and the seed's folder.
func TestRunReportsACrashingSeed(t *testing.T) {
	dir := t.TempDir()
	stdout, _, err := runApp(t, "sim", "run", "--workload", "test-cli-crash", "--seeds", "1..3", "--json", "--out", dir, "--quiet")
	if exitCode(err) != exitFailed {
		t.Fatalf("campaign with a crashing seed: %v, want exit %d\n%s", err, exitFailed, stdout)
	}
	replay := fmt.Sprintf("go run ./cmd/gray sim replay --workload test-cli-crash --seed %d --faults none", crashSeed)
	var js report.Summary
	if err := json.Unmarshal([]byte(lastLine(stdout)), &js); err != nil {
		t.Fatalf("last line is no JSON summary: %v\n%s", err, stdout)
	}
	if js.Seeds != 3 || js.Passed != 2 || js.Failed != 1 || len(js.Failures) != 1 {
		t.Fatalf("JSON summary: %+v, want 3 seeds, 2 passed, 1 failed", js)
	}
	f := js.Failures[0]
	if f.Seed != crashSeed || f.Kind != sim.KindCrash || !strings.Contains(f.Reason, "fatal error: sync: unlock of unlocked mutex") ||
		f.Replay != replay || !strings.Contains(f.Note, "crashed its worker") {
		t.Fatalf("JSON failure %+v, want seed %d as a crash quoting the fatal error, replay %q", f, crashSeed, replay)
	}
	if !strings.Contains(stdout, "FAIL test-cli-crash seed=2") {
		t.Errorf("the crash was not printed as a failure:\n%s", stdout)
	}

	var file report.Summary
	if err := json.Unmarshal(readFile(t, dir, "summary.json"), &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Failures) != 1 || file.Failures[0].Kind != sim.KindCrash || file.Failures[0].Dir != "seed-2" {
		t.Fatalf("summary.json failures %+v, want the crash of seed 2", file.Failures)
	}
	var ju junitDoc
	if err := xml.Unmarshal(readFile(t, dir, "junit.xml"), &ju); err != nil {
		t.Fatal(err)
	}
	if ju.Tests != 3 || ju.Failures != 1 || ju.Suites[0].Cases[1].Failure == nil || ju.Suites[0].Cases[1].Failure.Type != sim.KindCrash {
		t.Fatalf("junit.xml: %+v, want 3 cases and seed-2 failing as a crash", ju)
	}
	if got := string(readFile(t, filepath.Join(dir, "seed-2"), "replay.txt")); got != replay+"\n" {
		t.Errorf("replay.txt = %q, want %q", got, replay)
	}
	if _, err := os.Stat(filepath.Join(dir, "seed-2", "trace.txt")); err == nil {
		t.Error("the report re-ran the crashing seed for its traces")
	}
}

func TestParseBytes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		bad  bool
	}{
		{in: "0", want: 0},
		{in: "4096", want: 4096},
		{in: "512MiB", want: 512 << 20},
		{in: "4GiB", want: 4 << 30},
		{in: "1.5 GiB", want: 3 << 29},
		{in: "2GB", want: 2e9},
		{in: "10kB", want: 10_000},
		{in: "", bad: true},
		{in: "-1", bad: true},
		{in: "4gb", bad: true},
		{in: "GiB", bad: true},
		{in: "1e30", bad: true},
	} {
		got, err := parseBytes(tc.in)
		if tc.bad != (err != nil) || got != tc.want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d (error: %v)", tc.in, got, err, tc.want, tc.bad)
		}
	}
}
