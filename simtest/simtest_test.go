package simtest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grayrt/gray"
	"github.com/grayrt/gray/internal/process"
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
	m := regexp.MustCompile(`^go test -run '(\S+)' \./simtest -args (-gray\.seed=\d+) (-gray\.faults=\S+)$`).FindStringSubmatch(cmd)
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
