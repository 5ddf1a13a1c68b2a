package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/grayrt/gray"
	"github.com/grayrt/gray/internal/process"
	"github.com/grayrt/gray/simtest"
)

func TestEstimate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a hang guard
	defer cancel()
	pi, err := estimate(ctx, 8, 100_000)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(pi-math.Pi) > 0.05 {
		t.Fatalf("estimate(8, 100000) = %v, want within 0.05 of π", pi)
	}
}

// TestSimulated runs the program's estimate on a simulated 3-node
// cluster under swarm faults, round after round, for 200 seeds: every
// estimate must be exactly the one the darts give (the tasks are pure, so
// retries cannot change it), or fail with a documented error.
func TestSimulated(t *testing.T) {
	const tasks, samples = 8, 2000
	in := 0
	for i := range tasks {
		in += throw(uint64(i+1), samples)
	}
	want := 4 * float64(in) / float64(tasks*samples)
	simtest.Run(t, func(ctx context.Context) error {
		pi, err := estimate(ctx, tasks, samples)
		if err != nil {
			return err
		}
		if pi != want {
			return fmt.Errorf("estimate(%d, %d) = %v, want %v", tasks, samples, pi, want)
		}
		return nil
	}, simtest.Options{Seeds: "1..200", Repeat: true, FaultPhase: 3 * time.Second, CheckDeterminism: true})
}

// plantedSample is a broken sample, for TestPlantedBugIsCaught: a retried
// task (attempt > 0) counts one dart too many, as a body with a hidden
// dependence on its history would. Only worker crashes retry tasks.
var plantedSample = gray.Task2("pi.sample.planted", func(ctx context.Context, seed uint64, n int) (int, error) {
	if c := process.CallerFrom(ctx); c != nil && c.Parent != nil && c.Parent.Attempt > 0 {
		return throw(seed, n) + 1, nil
	}
	return throw(seed, n), nil
})

// TestPlantedBugIsCaught: the example with the broken sample fails seeds
// of a simulated campaign with crashes, and the replay command of a
// failing seed (this test binary with its flags) fails again with the
// same trace hash.
func TestPlantedBugIsCaught(t *testing.T) {
	const tasks, samples = 8, 2000
	in := 0
	for i := range tasks {
		in += throw(uint64(i+1), samples)
	}
	want := 4 * float64(in) / float64(tasks*samples)
	sampler = plantedSample
	defer func() { sampler = sample }()
	driver := func(ctx context.Context) error {
		pi, err := estimate(ctx, tasks, samples)
		if err != nil {
			return err
		}
		if pi != want {
			return fmt.Errorf("estimate(%d, %d) = %v, want %v", tasks, samples, pi, want)
		}
		return nil
	}
	opts := simtest.Options{Seeds: "1..40", Faults: "crash=3", Repeat: true, FaultPhase: 3 * time.Second}
	if os.Getenv("GRAY_PI_REPLAY") != "" {
		simtest.Run(t, driver, opts) // the replay: -gray.seed selects the seed
		return
	}
	s, err := simtest.Campaign(t, driver, opts)
	if err != nil {
		t.Fatal(err)
	}
	if s.Failed == 0 {
		t.Fatalf("a sample that miscounts on retry passed all %d seeds with crashes", s.Passed)
	}
	f := s.Failures[0]
	if f.Kind != "driver" || !strings.Contains(f.Reason, "want") {
		t.Fatalf("first failure: %s: %s; want the driver's wrong-estimate error", f.Kind, f.Reason)
	}
	cmd := f.ReplayCommand()
	// (an invariants build's command carries -tags invariants)
	m := regexp.MustCompile(`^go test(?: -tags invariants)? -run '(\S+)' \./examples/pi -args (-gray\.seed=\d+) (-gray\.faults=\S+)$`).FindStringSubmatch(cmd)
	if m == nil {
		t.Fatalf("replay command %q, want go test -run '^TestPlantedBugIsCaught$' ./examples/pi -args -gray.seed=N -gray.faults=…", cmd)
	}
	replay := exec.Command(os.Args[0], "-test.run", m[1], "-test.v", m[2], m[3])
	replay.Env = append(os.Environ(), "GRAY_PI_REPLAY=1")
	out, err := replay.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("replaying %q: %v, want a failing test\n%s", cmd, err, out)
	}
	if line := fmt.Sprintf("FAIL %s seed=%d hash=%s", f.Workload, f.Seed, f.HashString()); !strings.Contains(string(out), line) {
		t.Fatalf("replaying %q printed\n%s\nwant a line with %q", cmd, out, line)
	}
}
