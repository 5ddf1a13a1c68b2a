package workload

import (
	"strings"
	"testing"

	"github.com/grayrt/gray/sim"
)

// TestCommitOfAFailedPrepareIsCaught: with gcs.BugCommitFailedPrepare the
// GCS marks a group CREATED although one of its prepares failed, so a
// bundle it names is held by no raylet. The cluster workload's group check
// must catch that within the first 300 swarm seeds (seed 37 did when this
// test was written), and the same seed must pass without the bug.
func TestCommitOfAFailedPrepareIsCaught(t *testing.T) {
	if testing.Short() {
		t.Skip("runs up to 300 cluster seeds")
	}
	run := func(variant string, seed uint64) sim.Result {
		wl, err := sim.NewWorkload("cluster", sim.Options{Variant: variant})
		if err != nil {
			t.Fatal(err)
		}
		return sim.Run(sim.Config{Seed: seed, FaultSpec: "swarm"}, wl, "cluster")
	}
	for seed := uint64(1); seed <= 300; seed++ {
		r := run(variantCommitFailedPrepare, seed)
		if r.Passed {
			continue
		}
		if !strings.Contains(r.Reason, "whose raylet does not hold it") {
			t.Fatalf("seed %d failed for another reason: %s: %s", seed, r.Kind, r.Reason)
		}
		t.Logf("seed %d caught it: %s", seed, r.Reason)
		if r := run("", seed); !r.Passed {
			t.Fatalf("seed %d fails without the bug too: %s: %s", seed, r.Kind, r.Reason)
		}
		return
	}
	t.Fatal("no seed of 1..300 caught a group committed with a failed prepare")
}
