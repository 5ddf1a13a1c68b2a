package simtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/grayrt/gray/internal/invariants"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grayrt/gray"
	"github.com/grayrt/gray/internal/process"
	"github.com/grayrt/gray/sim/report"
	"github.com/grayrt/gray/simtest"
)

// square is a correct task: a retry computes the same value.
var square = gray.Task1("simtest_test.square", func(_ context.Context, x int) (int, error) { return x * x, nil })

// plantedSquare returns a wrong value when its task is retried (attempt
// > 0), as a body with a hidden dependence on its history would: only
// worker crashes make tasks retry, so only runs with crashes see it.
var plantedSquare = gray.Task1("simtest_test.planted", func(ctx context.Context, x int) (int, error) {
	if c := process.CallerFrom(ctx); c != nil && c.Parent != nil && c.Parent.Attempt > 0 {
		return x*x + 1, nil
	}
	return x * x, nil
})

// squares sums f(i) for i in 1..n, submitted at once, and checks the sum.
func squares(f *gray.Func1[int, int], n int) func(context.Context) error {
	return func(ctx context.Context) error {
		rt, err := gray.Init(ctx)
		if err != nil {
			return err
		}
		defer rt.Shutdown()
		refs := make([]gray.Ref[int], n)
		for i := range refs {
			refs[i] = f.Remote(ctx, gray.V(i+1))
		}
		vs, err := gray.GetAll(ctx, refs)
		if err != nil {
			return err
		}
		sum := 0
		for _, v := range vs {
			sum += v
		}
		if want := n * (n + 1) * (2*n + 1) / 6; sum != want {
			return fmt.Errorf("sum of squares 1..%d = %d, want %d", n, sum, want)
		}
		return nil
	}
}

// crashes makes worker crashes frequent, so that tasks are retried.
const crashes = "crash=3"

func TestCorrectProgramPasses(t *testing.T) {
	simtest.Run(t, squares(square, 20), simtest.Options{Seeds: "1..12", Faults: crashes, Repeat: true, CheckDeterminism: true})
}

func TestNoFaults(t *testing.T) {
	simtest.Run(t, squares(square, 20), simtest.Options{Seeds: "1..10", Faults: "none"})
}

// TestPlantedBugIsCaught: the wrong value on retry fails seeds, each with
// a replay command; running that command (the test binary with its flags)
// fails again with the same trace hash.
func TestPlantedBugIsCaught(t *testing.T) {
	driver := squares(plantedSquare, 20)
	opts := simtest.Options{Seeds: "1..30", Faults: crashes, Repeat: true}
	if os.Getenv("GRAY_SIMTEST_REPLAY") != "" {
		simtest.Run(t, driver, opts) // the replay: -gray.seed selects the seed
		return
	}
	s, err := simtest.Campaign(t, driver, opts)
	if err != nil {
		t.Fatal(err)
	}
	if s.Failed == 0 {
		t.Fatalf("a body that returns a wrong value on retry passed %d seeds under %s", s.Passed, crashes)
	}
	f := s.Failures[0]
	if f.Kind != "driver" || !strings.Contains(f.Reason, "want") {
		t.Fatalf("first failure: %s: %s; want the driver's wrong-sum error", f.Kind, f.Reason)
	}
	cmd := f.ReplayCommand()
	m := regexp.MustCompile(`^go test( -tags invariants)? -run '(\S+)' \./simtest -args (-gray\.seed=\d+) (-gray\.faults=\S+)$`).FindStringSubmatch(cmd)
	if m != nil && (m[1] != "") != invariants.Enabled {
		t.Fatalf("replay command %q in a build with invariants %t: the tag must match the build", cmd, invariants.Enabled)
	}
	if m != nil {
		m = m[1:]
	}
	if m == nil {
		t.Fatalf("replay command %q, want go test -run '^TestPlantedBugIsCaught$' ./simtest -args -gray.seed=N -gray.faults=…", cmd)
	}
	replay := exec.Command(os.Args[0], "-test.run", m[1], "-test.v", m[2], m[3])
	replay.Env = append(os.Environ(), "GRAY_SIMTEST_REPLAY=1")
	out, err := replay.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("replaying %q: %v, want a failing test\n%s", cmd, err, out)
	}
	want := fmt.Sprintf("FAIL %s seed=%d hash=%s", f.Workload, f.Seed, f.HashString())
	if !strings.Contains(string(out), want) {
		t.Fatalf("replaying %q printed\n%s\nwant a line with %q", cmd, out, want)
	}

	// -gray.out writes the report folder of gray sim run --out: the
	// failing seed's folder has its replay command and its traces, which
	// are of the same run (the report re-runs it and compares hashes).
	dir := t.TempDir()
	campaign := exec.Command(os.Args[0], "-test.run", m[1], fmt.Sprintf("-gray.seeds=%d", f.Seed), m[3], "-gray.out="+dir)
	campaign.Env = append(os.Environ(), "GRAY_SIMTEST_REPLAY=1")
	if out, err := campaign.CombinedOutput(); !errors.As(err, &exit) {
		t.Fatalf("the campaign with -gray.out: %v, want a failing test\n%s", err, out)
	}
	var js report.Summary
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err == nil {
		err = json.Unmarshal(b, &js)
	}
	if err != nil {
		t.Fatalf("summary.json: %v", err)
	}
	if len(js.Failures) != 1 || js.Failures[0].Seed != f.Seed || js.Failures[0].Hash != f.HashString() || js.Failures[0].Note != "" {
		t.Fatalf("summary.json failures %+v, want seed %d with hash %s and no note", js.Failures, f.Seed, f.HashString())
	}
	if !strings.Contains(js.CommandLine, "-gray.out=") {
		t.Errorf("summary.json command line %q, want the go test command with -gray.out", js.CommandLine)
	}
	for _, name := range []string{"index.html", "junit.xml", js.Failures[0].Dir + "/replay.txt", js.Failures[0].Dir + "/trace.txt", js.Failures[0].Dir + "/trace.json"} {
		if st, err := os.Stat(filepath.Join(dir, name)); err != nil || st.Size() == 0 {
			t.Errorf("report file %s: %v (want it written, not empty)", name, err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, js.Failures[0].Dir, "replay.txt")); strings.TrimSpace(string(b)) != cmd {
		t.Errorf("replay.txt = %q, want %q", b, cmd)
	}
}

// noisy returns the wall clock: what a simulated body must not do.
var noisy = gray.Task0("simtest_test.noisy", func(context.Context) (int64, error) { return time.Now().UnixNano(), nil })

// TestNondeterminismIsNamed: a body that reads the wall clock fails the
// determinism check, and the report names it.
func TestNondeterminismIsNamed(t *testing.T) {
	s, err := simtest.Campaign(t, func(ctx context.Context) error {
		_, err := noisy.Remote(ctx).Get(ctx)
		return err
	}, simtest.Options{Seeds: "1", Faults: "none", CheckDeterminism: true})
	if err != nil {
		t.Fatal(err)
	}
	if s.Failed != 1 {
		t.Fatalf("a body returning time.Now passed the determinism check")
	}
	if f := s.Failures[0]; f.Kind != "determinism" || !strings.Contains(f.Reason, "simtest_test.noisy") {
		t.Fatalf("failure %s: %s; want kind determinism naming simtest_test.noisy", f.Kind, f.Reason)
	}
}

// fatal ends the process with a Go runtime fatal error (unlocking an
// unlocked mutex), which no recover can catch.
var fatal = gray.Task1("simtest_test.fatal", func(_ context.Context, x int) (int, error) {
	if x == 3 {
		var mu sync.Mutex
		mu.Unlock()
	}
	return x, nil
})

// TestIsolatedCrashFailsAlone: with Isolate, a seed whose body kills the
// Go runtime fails as kind "crash", with the fatal error and its replay
// command, and the campaign goes on with fresh child processes to the
// end and its summary.
func TestIsolatedCrashFailsAlone(t *testing.T) {
	s, err := simtest.Campaign(t, func(ctx context.Context) error {
		_, err := fatal.Remote(ctx, gray.V(3)).Get(ctx)
		return err
	}, simtest.Options{Seeds: "1..4", Faults: "none", Isolate: true, Parallel: 2})
	if err != nil {
		t.Fatal(err)
	}
	if s.Seeds != 4 || s.Failed != 4 {
		t.Fatalf("%d seeds, %d failed; want all 4 run and failed", s.Seeds, s.Failed)
	}
	for _, f := range s.Failures {
		if f.Kind != "crash" || !strings.Contains(f.Reason, "unlock of unlocked mutex") || !strings.Contains(f.ReplayCommand(), "-gray.seed=") {
			t.Fatalf("seed %d: %s: %s (replay %s); want a crash quoting the fatal error, with simtest's replay command", f.Seed, f.Kind, f.Reason, f.ReplayCommand())
		}
	}
}

// child and the actor Hog's method wait deadlock on a node of 2 CPUs: the
// actor holds both for its lifetime while its method waits for child,
// which needs one (an actor method keeps its resources while it waits; a
// task body would lend its CPUs out).
type hog struct{}

var (
	child   = gray.Task0("simtest_test.child", func(context.Context) (int, error) { return 1, nil })
	hogs    = gray.Actor("simtest_test.Hog", func(context.Context) (*hog, error) { return &hog{}, nil })
	hogWait = gray.Method0("wait", func(_ *hog, ctx context.Context) (int, error) {
		return child.Options(gray.WithCPUs(1)).Remote(ctx).Get(ctx)
	})
)

// TestDeadlockIsExplained: a program that deadlocks fails its seed as
// liveness, and the reason names the stuck request, why it waits and
// who holds what it needs: the reader needs no replay.
func TestDeadlockIsExplained(t *testing.T) {
	driver := func(ctx context.Context) error {
		rt, err := gray.Init(ctx)
		if err != nil {
			return err
		}
		defer rt.Shutdown()
		h, err := hogs.New(ctx, gray.WithCPUs(2))
		if err != nil {
			return err
		}
		_, err = hogWait.Remote(ctx, h).Get(ctx)
		return err
	}
	s, err := simtest.Campaign(t, driver, simtest.Options{Seeds: "1", Faults: "none", FaultPhase: time.Second,
		Cluster: simtest.Cluster{Nodes: 1, CPUsPerNode: 2}})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Failures) != 1 || s.Failures[0].Kind != "liveness" {
		t.Fatalf("failures %+v, want one liveness failure", s.Failures)
	}
	reason := s.Failures[0].Reason
	t.Logf("reason:\n%s", reason)
	for _, want := range []string{
		"driver-1 (round 1, its program has not returned): 0 tasks, 1 actor call pending, 1 object waited for:",
		"call github.com/grayrt/gray/simtest_test.hog.wait ",
		"raylet-1 node:",
		"queued lease raylet-1/w",
		"(simtest_test.child task:",
		"resources busy: CPU (needs 1, 0 available); held by lease gcs/",
		"(simtest_test.Hog task:create/actor:",
		"(worker) 1 task, 0 actor calls pending, 1 object waited for:",
		"task simtest_test.child ",
		": requesting a lease (",
	} {
		if !strings.Contains(reason, want) {
			t.Errorf("liveness reason lacks %q", want)
		}
	}
}
