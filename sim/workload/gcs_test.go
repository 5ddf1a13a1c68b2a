package workload

import (
	"testing"
	"time"

	"github.com/grayrt/gray/sim"
)

func runGCS(t testing.TB, seed uint64, faults, variant string) sim.Result {
	return runGCSWorkload(t, "gcs", seed, faults, variant)
}

func runGCSWorkload(t testing.TB, name string, seed uint64, faults, variant string) sim.Result {
	t.Helper()
	opts := sim.Options{Variant: variant}
	wl, err := sim.NewWorkload(name, opts)
	if err != nil {
		t.Fatal(err)
	}
	return sim.Run(sim.Config{Seed: seed, FaultSpec: faults, FaultPhase: 5 * time.Second, ReplayArgs: opts.ReplayArgs()}, wl, name)
}

func TestGCSWithoutFaults(t *testing.T) {
	r := runGCS(t, 1, "none", "")
	if !r.Passed {
		t.Fatal(r)
	}
	t.Log(r, r.Sometimes)
}

func TestGCSSwarm(t *testing.T) {
	for seed := uint64(1); seed <= 30; seed++ {
		if r := runGCS(t, seed, "swarm", ""); !r.Passed {
			t.Errorf("%v", r)
		}
	}
}

// TestGCSPlantedBugsAreCaught requires the workload to catch every planted
// GCS bug within a bounded number of swarm seeds.
func TestGCSPlantedBugsAreCaught(t *testing.T) {
	for _, tc := range []struct{ bug, faults string }{
		{"ack-before-sync", "swarm"},
		{"double-apply", "swarm"},
		{"stale-read", "swarm"},
		// Forgetting dedup records matters only when a reply is lost, the
		// GCS restarts, and the retry reaches the new incarnation: a
		// fault mix of loss and frequent crashes finds it quickly.
		{"forget-dedup", "drop=0.2,crash=2"},
		// Only a pause of the GCS itself (the pause fault) makes its
		// health check run late, behind queued heartbeats.
		{"blame-others", "pause=0.5"},
		// Only a disk damaged at rest (the corrupt fault) tests the
		// storage checks at start.
		{"trust-disk", "corrupt=0.5"},
		// A request below its client's ack floor is a duplicate that
		// arrives long after the client finished the call: late_dup.
		{"ignore-floor", "late_dup=0.02"},
		// A job's end stamped before its start needs the GCS's clock
		// stepped back while the job runs: clock_jump.
		{"wall-clock-stamps", "clock_jump=0.5"},
		// A removed group that keeps its name: the group history's
		// get-by-name and create see it.
		{"pg-name-not-freed", "swarm"},
	} {
		bug := tc.bug
		t.Run(bug, func(t *testing.T) {
			for seed := uint64(1); seed <= 200; seed++ {
				r := runGCS(t, seed, tc.faults, bug)
				if !r.Passed {
					t.Logf("caught at seed %d: %s: %s", seed, r.Kind, r.Reason)
					return
				}
			}
			t.Fatalf("planted bug %s survived 200 seeds", bug)
		})
	}
}

// TestGCSCorrectUnderHeavyFaults runs the correct server under the fault
// mixes the planted-bug tests use, so that a caught bug is not a false
// alarm of the checker.
func TestGCSCorrectUnderHeavyFaults(t *testing.T) {
	for _, faults := range []string{"drop=0.2,crash=2", "pause=0.5,crash=0.2", "corrupt=0.5,crash=0.2", "late_dup=0.02,clock_jump=0.5,crash=0.2", "drop=0.1,dup=0.1,reorder=0.2,partition=1,disk=1,unsynced=50"} {
		for seed := uint64(1); seed <= 30; seed++ {
			if r := runGCS(t, seed, faults, ""); !r.Passed {
				t.Errorf("%v", r)
			}
		}
	}
}

// TestGCSHASwarm runs the gcs-ha workload (three raft replicas) under
// the swarm and requires failovers, step-downs and snapshot installs to
// have happened in the campaign, so that a green run means something.
func TestGCSHASwarm(t *testing.T) {
	reached := map[string]bool{}
	for seed := uint64(1); seed <= 40; seed++ {
		r := runGCSWorkload(t, "gcs-ha", seed, "swarm", "")
		if !r.Passed {
			t.Errorf("%v", r)
		}
		for _, c := range r.Sometimes {
			if c.Count > 0 {
				reached[c.Name] = true
			}
		}
	}
	for _, path := range []string{"gcs failover", "gcs leader stepped down", "gcs snapshot installed", "fault: crash",
		"fault: disk loss", "gcs configuration changed", "gcs refused storage discarded"} {
		if !reached[path] {
			t.Errorf("no seed reached %q", path)
		}
	}
}

// TestGCSHAPlantedBugsAreCaught requires gcs-ha to catch each planted
// replication bug, and the single GCS's dedup bugs across failovers,
// within a bounded number of swarm seeds.
func TestGCSHAPlantedBugsAreCaught(t *testing.T) {
	for _, tc := range []struct{ bug, faults string }{
		{"ack-before-commit", "swarm"},
		{"follower-read", "swarm"},
		{"double-apply", "swarm"},
		// A retry that reaches the next leader after the reply was lost.
		{"forget-dedup", "drop=0.2,crash=2"},
	} {
		bug := tc.bug
		t.Run(bug, func(t *testing.T) {
			for seed := uint64(1); seed <= 300; seed++ {
				r := runGCSWorkload(t, "gcs-ha", seed, tc.faults, bug)
				if !r.Passed {
					t.Logf("caught at seed %d: %s: %s", seed, r.Kind, r.Reason)
					return
				}
			}
			t.Fatalf("planted bug %s survived 300 seeds", bug)
		})
	}
}
