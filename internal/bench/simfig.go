package bench

import (
	"context"
	"time"

	"github.com/grayrt/gray/sim"
	_ "github.com/grayrt/gray/sim/workload" // registers the gcs and cluster workloads
)

// SimFigure is the simulator's speed on one workload: a campaign under
// swarm faults, seeds from 1 on, for a wall-clock budget, on every CPU.
type SimFigure struct {
	Workload string `json:"workload"`
	// Seeds ran to the end within the budget; Failed of them failed (a
	// failure is a finding of the simulator, not of the benchmark).
	Seeds  int `json:"seeds"`
	Failed int `json:"failed"`
	// Events and SimSeconds are summed over the seeds; WallSeconds is the
	// campaign's wall time.
	Events      int64   `json:"events"`
	SimSeconds  float64 `json:"sim_seconds"`
	WallSeconds float64 `json:"wall_seconds"`
	// EventsPerSecond, SimToWall (simulated seconds per wall second) and
	// SeedsPerMinute are the figures.
	EventsPerSecond float64 `json:"events_per_second"`
	SimToWall       float64 `json:"sim_to_wall"`
	SeedsPerMinute  float64 `json:"seeds_per_minute"`
	Err             string  `json:"error,omitempty"`
}

// simFigures runs a campaign of budget per registered workload.
func simFigures(ctx context.Context, budget time.Duration) []SimFigure {
	var out []SimFigure
	for _, name := range sim.WorkloadNames() {
		if ctx.Err() != nil {
			break
		}
		c := sim.Campaign{Workload: name, FaultSpec: "swarm", Seeds: []uint64{1}, For: budget, Continue: true}
		f := SimFigure{Workload: name}
		sum, err := c.Run(ctx)
		if err != nil {
			f.Err = err.Error()
		}
		f.Seeds, f.Failed = sum.Seeds, sum.Failed
		f.Events, f.SimSeconds, f.WallSeconds = sum.Events, sum.SimSeconds, sum.WallSeconds
		if sum.WallSeconds > 0 {
			f.EventsPerSecond = float64(sum.Events) / sum.WallSeconds
			f.SimToWall = sum.SimSeconds / sum.WallSeconds
			f.SeedsPerMinute = float64(sum.Seeds) / sum.WallSeconds * 60
		}
		out = append(out, f)
	}
	return out
}
