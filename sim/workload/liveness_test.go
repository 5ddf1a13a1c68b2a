package workload

import (
	"strings"
	"testing"
	"time"

	"github.com/grayrt/gray/sim"
)

// TestLivenessNamesTheHolder: in the hold-forever variant the first
// driver waits forever for a task whose resource a running task holds.
// The seed fails as liveness, and its reason alone tells why: the driver
// waits in Get for workload.after, whose lease request waits in
// raylet-1's queue because the lock is busy, held by workload.hold's
// lease, granted to a worker of raylet-1 and held by driver-1. The same
// seed gives the same reason and hash.
func TestLivenessNamesTheHolder(t *testing.T) {
	run := func() sim.Result {
		wl, err := sim.NewWorkload("cluster", sim.Options{Variant: variantHoldForever})
		if err != nil {
			t.Fatal(err)
		}
		return sim.Run(sim.Config{Seed: 1, FaultSpec: "none", FaultPhase: time.Second}, wl, "cluster")
	}
	r := run()
	if r.Passed || r.Kind != "liveness" {
		t.Fatalf("hold-forever run = %v, want a liveness failure", r)
	}
	t.Logf("reason:\n%s", r.Reason)
	for _, want := range []string{
		`driver-1 in round 0 step "get after, which needs the held lock": 2 tasks, 0 actor calls pending, 1 object waited for:`,
		"task workload.after ",
		": requesting a lease (",
		"from raylet-1 for ",
		"object obj:",
		"in 1 Get",
		"raylet-1 node:",
		"queued lease driver-1/",
		"(workload.after task:",
		"resources busy: workload.lock (needs 1, 0 available); held by lease driver-1/",
		"(workload.hold task:",
		"on worker raylet-1/w",
		"granted lease driver-1/",
		"task workload.hold ",
		"running, awaiting its result for ",
	} {
		if !strings.Contains(r.Reason, want) {
			t.Errorf("liveness reason lacks %q", want)
		}
	}
	if n := strings.Count(r.Reason, "\n") + 1; n > 61 {
		t.Errorf("liveness reason has %d lines, want at most 61", n)
	}
	if again := run(); again.Reason != r.Reason || again.Hash != r.Hash {
		t.Errorf("second run of the seed: hash %x, reason\n%s\nwant hash %x and the same reason", again.Hash, again.Reason, r.Hash)
	}
}
