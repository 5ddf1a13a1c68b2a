package workload

import (
	"flag"
	"os"
	"runtime"
	"runtime/pprof"
	"testing"

	"github.com/grayrt/gray/sim"
)

// The scale test's size: CI-sized by default (seconds); a profile of a
// larger run takes flags, as in
//
//	go test ./sim/workload -run TestScale -scale.nodes 1000 -scale.tasks 100000 -scale.actors 10000 -scale.seeds 1 -memprofile mem.out
var (
	scaleNodes  = flag.Int("scale.nodes", 20, "nodes of TestScale's runs")
	scaleTasks  = flag.Int("scale.tasks", 2_000, "tasks of TestScale's runs")
	scaleActors = flag.Int("scale.actors", 200, "actors of TestScale's runs")
	scaleSeeds  = flag.Uint64("scale.seeds", 3, "swarm seeds TestScale runs")
	// The heap in use mid-run, which -memprofile (written after the
	// run, when the world is gone) cannot show.
	scaleHeapFile = flag.String("scale.heapprofile", "", "write the heap in use to `FILE` at event -scale.heapat of the first seed")
	scaleHeapAt   = flag.Int64("scale.heapat", 1_000_000, "the event at which -scale.heapprofile is written")
)

// heapObserver returns a Config.Observer that writes the heap profile
// once, at event -scale.heapat; nil without -scale.heapprofile.
func heapObserver(t *testing.T) func(sim.TraceEvent) {
	if *scaleHeapFile == "" {
		return nil
	}
	written := false
	return func(e sim.TraceEvent) {
		if written || e.Index < *scaleHeapAt {
			return
		}
		written = true
		f, err := os.Create(*scaleHeapFile)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		runtime.GC()
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			t.Error(err)
		}
	}
}

// TestScale runs the scale workload under swarm faults: every task's and
// actor call's result checked, every driver done after healing and the
// cluster idle.
func TestScale(t *testing.T) {
	seeds := *scaleSeeds
	if testing.Short() {
		seeds = 1
	}
	opts := sim.Options{Nodes: *scaleNodes, Tasks: *scaleTasks, Actors: *scaleActors}
	for seed := uint64(1); seed <= seeds; seed++ {
		wl, err := sim.NewWorkload("scale", opts)
		if err != nil {
			t.Fatal(err)
		}
		cfg := sim.Config{Seed: seed, FaultSpec: "swarm", ReplayArgs: opts.ReplayArgs()}
		if seed == 1 {
			cfg.Observer = heapObserver(t)
		}
		r := sim.Run(cfg, wl, "scale")
		if !r.Passed {
			t.Errorf("%v", r)
			continue
		}
		t.Logf("seed %d: %d events, %v simulated", seed, r.Events, r.SimTime)
	}
}

func TestScaleOptions(t *testing.T) {
	for _, o := range []sim.Options{{Nodes: -1}, {Nodes: scaleNodesMax + 1}, {Nodes: 2, Clients: 3}, {Tasks: -1}, {Actors: scaleActorsMax + 1}} {
		if _, err := sim.NewWorkload("scale", o); err == nil {
			t.Errorf("NewWorkload(scale, %+v) = nil error, want one", o)
		}
	}
}
