package raylet_test

import (
	"strings"
	"testing"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
	"github.com/grayrt/gray/raylet"
)

// TestCheckInvariantsReportsCorruption: a raylet holding a granted lease,
// a queued request, a registered worker and a primary copy passes
// CheckInvariants; each planted bug in that state is reported.
func TestCheckInvariantsReportsCorruption(t *testing.T) {
	for _, c := range raylet.Corruptions(obj(1)) {
		t.Run(c.Name, func(t *testing.T) {
			runScenario(t, func(h *world) {
				h.addOwner("raylet-1/w1", "node-1", newOwner(5))
				h.addOwner("driver", "node-1", newOwner(6))
				h.at(time.Second, func() {
					h.register("raylet-1/w1", "raylet-1", 1, 5, "")
					h.put("driver", obj(1), core.NodeID{}, core.JobIDFromInt(1))
				})
				h.at(1500*time.Millisecond, func() {
					// Two one-CPU leases for one worker, pinned to this
					// node: the first is granted, the second waits for an
					// idle worker.
					here := proto.Strategy{Kind: proto.StrategyNodeAffinity, Node: h.node("raylet-1")}
					for lease := uint64(1); lease <= 2; lease++ {
						spec := proto.TaskSpec{TaskID: core.NewTaskID(core.JobIDFromInt(1), core.TaskID{}, lease), Job: core.JobIDFromInt(1),
							Function: "f", NumReturns: 1, Resources: core.MustResources(core.CPU, 1), Owner: "driver", Strategy: here}
						h.on("driver", func(o *owner) {
							o.cli.Call("raylet-1", &proto.RequestLease{Spec: spec, LeaseID: lease}, rpc.Options{Timeout: time.Minute}, func(core.Message, error) {})
						})
					}
				})
				h.at(3*time.Second, func() {
					r := h.raylet("raylet-1")
					if got := r.Available().Get(core.CPU); got != core.Units(1) {
						t.Fatalf("available = %v, want 1 CPU (one lease granted)", got)
					}
					if err := r.CheckInvariants(); err != nil {
						t.Fatalf("CheckInvariants() of a healthy raylet = %v, want nil", err)
					}
					c.Apply(r)
					if err := r.CheckInvariants(); err == nil || !strings.Contains(err.Error(), c.Want) {
						t.Errorf("CheckInvariants() = %v, want an error containing %q", err, c.Want)
					}
					h.end()
				})
			})
		})
	}
}
