package sim

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMain lets this test binary act as the seed worker of the isolated
// campaigns below: SelfIsolation starts it again with SeedWorkerEnv=1, and
// ServeSeedsIfWorker then serves seeds instead of running the tests. The
// test workloads are registered by init, so the workers have them too.
func TestMain(m *testing.M) {
	ServeSeedsIfWorker()
	os.Exit(m.Run())
}

// crashSeeds maps the seeds of the "test-crash" workload that bring their
// process down to how they do it, and the line that must be quoted in
// their reason. Every other seed passes.
var crashSeeds = map[uint64]struct {
	how   func()
	quote string
}{
	// A runtime fatal error, which no recover catches.
	2: {func() {
		var mu sync.Mutex
		mu.Unlock()
	}, "fatal error: sync: unlock of unlocked mutex"},
	// A panic on a goroutine of the seed's own, outside the World's guard.
	5: {func() {
		go func() { panic("test-crash: panic outside the world") }()
		time.Sleep(time.Hour)
	}, "panic: test-crash: panic outside the world"},
	// An exit, with a last word on stderr.
	7: {func() {
		fmt.Fprintln(os.Stderr, "test-crash: exiting")
		os.Exit(3)
	}, "test-crash: exiting"},
}

// hangSeed of the "test-hang" workload never finishes; its other seeds
// pass.
const hangSeed = 3

// memorySeed of the "test-memory" workload holds memoryHogBytes; its other
// seeds pass.
const (
	memorySeed     = 2
	memoryHogBytes = 256 << 20
)

// memoryHog keeps the allocation alive.
var memoryHog []byte

func init() {
	RegisterWorkload("test-crash", "test-only: seeds 2, 5 and 7 crash their process", nil, func(Options) (Workload, error) {
		return &scripted{setup: func(w *World) {
			if c, ok := crashSeeds[w.Seed()]; ok {
				c.how()
			}
		}}, nil
	})
	RegisterWorkload("test-hang", "test-only: seed 3 hangs", nil, func(Options) (Workload, error) {
		return &scripted{setup: func(w *World) {
			if w.Seed() == hangSeed {
				time.Sleep(time.Hour)
			}
		}}, nil
	})
	RegisterWorkload("test-memory", "test-only: seed 2 takes 256 MiB", nil, func(Options) (Workload, error) {
		return &scripted{setup: func(w *World) {
			if w.Seed() == memorySeed {
				memoryHog = make([]byte, memoryHogBytes)
				for i := 0; i < len(memoryHog); i += 4096 {
					memoryHog[i] = 1 // make the pages resident
				}
				time.Sleep(time.Hour)
			}
		}}, nil
	})
}

func selfIsolation(t *testing.T) *Isolation {
	t.Helper()
	iso, err := SelfIsolation()
	if err != nil {
		t.Fatal(err)
	}
	return iso
}

// TestIsolatedCampaignSurvivesCrashingSeeds runs seeds that die of a
// runtime fatal error, a panic on their own goroutine and os.Exit: each
// fails alone as "crash", quoting its worker's last words, and every other
// seed runs and passes.
func TestIsolatedCampaignSurvivesCrashingSeeds(t *testing.T) {
	c := Campaign{Workload: "test-crash", FaultSpec: "swarm", Seeds: mustSeeds(t, "1..9"), Parallel: 2, Isolate: selfIsolation(t)}
	s, err := c.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s.Seeds != 9 || s.Passed != 9-len(crashSeeds) || s.Failed != len(crashSeeds) {
		t.Fatalf("summary: %d seeds, %d passed, %d failed; want 9, %d, %d", s.Seeds, s.Passed, s.Failed, 9-len(crashSeeds), len(crashSeeds))
	}
	for _, r := range s.Results {
		c, crashes := crashSeeds[r.Seed]
		if !crashes {
			if !r.Passed {
				t.Errorf("seed %d: %v, want it to pass", r.Seed, r)
			}
			continue
		}
		if r.Passed || r.Kind != "crash" || !strings.Contains(r.Reason, c.quote) {
			t.Errorf("seed %d: %v; want kind crash quoting %q", r.Seed, r, c.quote)
		}
		if want := fmt.Sprintf("--workload test-crash --seed %d --faults swarm", r.Seed); !strings.Contains(r.ReplayCommand(), want) {
			t.Errorf("seed %d: replay command %q, want it to contain %q", r.Seed, r.ReplayCommand(), want)
		}
		if r.Faults == "" {
			t.Errorf("seed %d: a crash without its fault mix", r.Seed)
		}
	}
	t.Logf("seed 2: %s", s.Failures[0].Reason)
}

// TestIsolatedCampaignKillsAHangingSeed bounds each seed's wall-clock time:
// the hanging seed is killed and fails as "crash"; the others pass.
func TestIsolatedCampaignKillsAHangingSeed(t *testing.T) {
	iso := selfIsolation(t)
	// Far above what a passing seed of this workload takes (a millisecond),
	// however loaded the machine.
	iso.SeedWallMax = 5 * time.Second
	c := Campaign{Workload: "test-hang", Seeds: mustSeeds(t, "1..5"), Parallel: 2, Isolate: iso}
	s, err := c.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s.Seeds != 5 || s.Failed != 1 || s.Failures[0].Seed != hangSeed || s.Failures[0].Kind != "crash" ||
		!strings.Contains(s.Failures[0].Reason, "no result within 5s") {
		t.Fatalf("summary: %d seeds, failures %v; want 5 seeds and seed %d failing as a crash without a result", s.Seeds, s.Failures, hangSeed)
	}
}

// TestIsolatedCampaignBoundsMemory kills the worker whose seed holds more
// than the memory bound.
func TestIsolatedCampaignBoundsMemory(t *testing.T) {
	if _, ok := residentBytes(os.Getpid()); !ok {
		t.Skip("no /proc/PID/status here: the memory bound is not enforced")
	}
	iso := selfIsolation(t)
	iso.MemoryBytesMax = 128 << 20
	iso.SeedWallMax = 2 * time.Minute // a failure of the bound shows as a different reason, not a hang
	c := Campaign{Workload: "test-memory", Seeds: mustSeeds(t, "1..3"), Parallel: 1, Isolate: iso}
	s, err := c.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s.Seeds != 3 || s.Failed != 1 || s.Failures[0].Seed != memorySeed || s.Failures[0].Kind != "crash" ||
		!strings.Contains(s.Failures[0].Reason, "above the bound of 128 MiB") {
		t.Fatalf("summary: %d seeds, failures %v; want 3 seeds and seed %d failing as a crash above the memory bound", s.Seeds, s.Failures, memorySeed)
	}
}

// TestIsolatedResultsEqualInProcessResults runs the same campaign both
// ways, with failing seeds (and their attachments) and the determinism
// check: every Result is the same but for its wall-clock time.
func TestIsolatedResultsEqualInProcessResults(t *testing.T) {
	c := Campaign{Workload: "echo", Options: Options{Variant: "no-seq-check"}, FaultSpec: "swarm", FaultPhase: 2 * time.Second,
		Seeds: mustSeeds(t, "1..6"), Parallel: 2, CheckDeterminism: true}
	in, err := c.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c.Isolate = selfIsolation(t)
	iso, err := c.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if in.Failed == 0 || in.Failed == in.Seeds {
		t.Fatalf("%d of %d seeds failed in-process; want some passing and some failing seeds to compare", in.Failed, in.Seeds)
	}
	if len(iso.Results) != len(in.Results) {
		t.Fatalf("isolated: %d results, in-process %d", len(iso.Results), len(in.Results))
	}
	attached := false
	for i := range in.Results {
		a, b := iso.Results[i], in.Results[i]
		attached = attached || len(a.Attachments) > 0
		a.Wall, b.Wall = 0, 0
		if !reflect.DeepEqual(a, b) {
			t.Errorf("isolated result %+v,\nwant the in-process %+v", a, b)
		}
	}
	if !attached {
		t.Error("no isolated result carries an attachment; want the failing seeds' files")
	}
}

// TestServeSeeds drives the worker side directly: a greeting, then one
// reply per request.
func TestServeSeeds(t *testing.T) {
	var in strings.Builder
	for _, seed := range []uint64{1, 2} {
		b, _ := json.Marshal(seedRequest{Workload: "echo", FaultSpec: "none", FaultPhase: time.Second, Seed: seed})
		in.Write(append(b, '\n'))
	}
	var out strings.Builder
	if err := ServeSeeds(strings.NewReader(in.String()), &out); err != nil {
		t.Fatal(err)
	}
	var replies []workerReply
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), workerMarker)
		if !ok {
			t.Fatalf("line %q without the marker", sc.Text())
		}
		var rep workerReply
		if err := json.Unmarshal([]byte(line), &rep); err != nil {
			t.Fatal(err)
		}
		replies = append(replies, rep)
	}
	if len(replies) != 3 || replies[0].Hello != workerProtocol || replies[1].Result == nil || replies[1].Result.Seed != 1 ||
		replies[2].Result == nil || replies[2].Result.Seed != 2 || !replies[2].Result.Passed {
		t.Fatalf("replies %+v; want a greeting and the passing results of seeds 1 and 2", replies)
	}
	if err := ServeSeeds(strings.NewReader("not json\n"), &out); err == nil {
		t.Fatal("ServeSeeds accepted a request that is not JSON")
	}
}

// TestIsolationWithoutAWorkerFails starts a program that is no seed
// worker: the campaign fails at once instead of crashing every seed.
func TestIsolationWithoutAWorkerFails(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// This test binary, told to run no test: it prints PASS and exits.
	iso := &Isolation{Command: []string{exe, "-test.run=^$"}, Env: []string{SeedWorkerEnv + "=0"}}
	c := Campaign{Workload: "echo", Seeds: []uint64{1}, Isolate: iso}
	if _, err := c.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "before it was ready") {
		t.Fatalf("Run with a command that is no worker: %v, want an error saying it exited before it was ready", err)
	}
	c.Isolate = &Isolation{}
	if err := c.Validate(); err == nil {
		t.Fatal("an isolation without a command validated")
	}
}

func TestOutputExcerpt(t *testing.T) {
	var o outputTail
	fmt.Fprintf(&o, "some log line\nfatal error: sync: unlock of unlocked mutex\n\ngoroutine 22 [running]:\n")
	for i := range 100 {
		fmt.Fprintf(&o, "frame%d()\n\t/src/x.go:%d\n", i, i)
	}
	got := o.excerpt()
	if !strings.HasPrefix(got, "  fatal error: sync: unlock of unlocked mutex\n") || strings.Contains(got, "some log line") ||
		!strings.Contains(got, "frame0()") || strings.Count(got, "\n") != excerptLinesMax-1 {
		t.Errorf("excerpt of a crash:\n%s\nwant the fatal error line and the %d lines from it", got, excerptLinesMax)
	}
	o.reset()
	for i := range 100_000 {
		fmt.Fprintf(&o, "line %d\n", i)
	}
	got = o.excerpt()
	if !strings.HasSuffix(got, "line 99999") || strings.Contains(got, "line 0\n") || strings.Count(got, "\n") != excerptLinesMax/2-1 {
		t.Errorf("excerpt without a crash:\n%s\nwant the last %d lines", got, excerptLinesMax/2)
	}
	o.reset()
	if got := o.excerpt(); got != "  (nothing)" {
		t.Errorf("excerpt of nothing = %q", got)
	}
}
