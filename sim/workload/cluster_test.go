package workload

import (
	"runtime"
	"testing"
	"time"

	"github.com/grayrt/gray/sim"
)

func runCluster(t testing.TB, seed uint64, faults string) sim.Result {
	t.Helper()
	wl, err := sim.NewWorkload("cluster", sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return sim.Run(sim.Config{Seed: seed, FaultSpec: faults, FaultPhase: 5 * time.Second}, wl, "cluster")
}

func TestClusterWithoutFaults(t *testing.T) {
	r := runCluster(t, 1, "none")
	if !r.Passed {
		t.Fatal(r)
	}
	t.Log(r, r.Sometimes)
}

// TestClusterSwarm runs swarm seeds, then checks that they left no
// goroutine behind: a GCS that refused its storage after opening it used
// to leave its pebble database open (five goroutines and its disk's
// memory each), and a campaign's seed worker grew to its 4 GiB bound.
func TestClusterSwarm(t *testing.T) {
	seeds := uint64(40)
	if testing.Short() {
		seeds = 10
	}
	before := runtime.NumGoroutine()
	for seed := uint64(1); seed <= seeds; seed++ {
		r := runCluster(t, seed, "swarm")
		if !r.Passed {
			t.Errorf("%v", r)
		}
	}
	// Goroutines a run stopped may take a moment to exit; a leak stays.
	for deadline := time.Now().Add(30 * time.Second); runtime.NumGoroutine() > before; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines after %d seeds, %d before: the runs leaked some:\n%s", runtime.NumGoroutine(), seeds, before, buf[:runtime.Stack(buf, true)])
		}
	}
}

// TestClusterHASwarm runs the cluster workload on a GCS of three raft
// replicas under the swarm: raylets, workers and drivers follow the
// leader, and leases the GCS took through a replica that lost the lead
// are answered for by its successor. It requires failovers to have
// happened.
func TestClusterHASwarm(t *testing.T) {
	failovers := int64(0)
	for seed := uint64(1); seed <= 20; seed++ {
		wl, err := sim.NewWorkload("cluster-ha", sim.Options{})
		if err != nil {
			t.Fatal(err)
		}
		r := sim.Run(sim.Config{Seed: seed, FaultSpec: "swarm", FaultPhase: 5 * time.Second}, wl, "cluster-ha")
		if !r.Passed {
			t.Errorf("%v", r)
		}
		for _, c := range r.Sometimes {
			if c.Name == "gcs failover" {
				failovers += c.Count
			}
		}
	}
	if failovers == 0 {
		t.Error("no seed saw a failover")
	}
}
