package workload

import (
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

func TestClusterSwarm(t *testing.T) {
	seeds := uint64(40)
	if testing.Short() {
		seeds = 10
	}
	for seed := uint64(1); seed <= seeds; seed++ {
		r := runCluster(t, seed, "swarm")
		if !r.Passed {
			t.Errorf("%v", r)
		}
	}
}
