package gcs_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/gcs"
	"github.com/grayrt/gray/sim"
)

// benchWorkload: clients each run opsPerClient operations back to back
// (60% synced mutations, 40% reads) against one GCS on a fault-free
// network.
type benchWorkload struct {
	clients      []*benchClient
	opsPerClient int
	done         int
}

type benchClient struct {
	wl   *benchWorkload
	addr core.Addr
	env  core.Env
	c    *gcs.Client
	n    int
}

func (wl *benchWorkload) Setup(w *sim.World) error {
	w.AddProcess("gcs", sim.ProcOptions{Crashable: true, Disk: true}, func() core.Process { return gcs.NewServer(gcs.Config{}) })
	for _, c := range wl.clients {
		w.AddProcess(c.addr, sim.ProcOptions{}, func() core.Process { return c })
	}
	return nil
}

func (wl *benchWorkload) Done() bool                        { return wl.done == len(wl.clients) }
func (wl *benchWorkload) Pending() string                   { return fmt.Sprintf("%d clients done", wl.done) }
func (wl *benchWorkload) Check(*sim.World) (string, string) { return "", "" }

func (c *benchClient) Start(env core.Env) {
	c.env = env
	c.c = gcs.NewClient(env, "gcs", gcs.ClientOptions{})
	env.AfterFunc(time.Millisecond, c.next)
}

func (c *benchClient) Receive(from core.Addr, m core.Message) { c.c.Handle(from, m) }

func (c *benchClient) next() {
	if c.n == c.wl.opsPerClient {
		c.wl.done++
		return
	}
	c.n++
	key := fmt.Sprintf("%s/%d", c.addr, c.n%64)
	after := func(gcs.Reply, error) { c.next() }
	switch c.n % 5 {
	case 0, 1:
		c.c.KVPut("bench", key, []byte("value"), true, after)
	case 2:
		c.c.KVCAS("bench", key, []byte("value"), true, []byte("value"), after)
	case 3:
		c.c.KVGet("bench", key, after)
	default:
		c.c.KVExists("bench", key, after)
	}
}

// BenchmarkServerOps reports GCS operations per second of wall time in
// simulation: 4 clients × 2,500 operations per run, 60% of them synced
// pebble commits on the simulated disk. Compare runs with benchstat.
func BenchmarkServerOps(b *testing.B) {
	const clients, perClient = 4, 2500
	ops := 0
	for b.Loop() {
		wl := &benchWorkload{opsPerClient: perClient}
		for i := range clients {
			wl.clients = append(wl.clients, &benchClient{wl: wl, addr: core.Addr(fmt.Sprintf("c%d", i+1))})
		}
		r := sim.Run(sim.Config{Seed: 1, FaultPhase: time.Millisecond, LivenessBound: time.Hour}, wl, "gcs-bench")
		if !r.Passed {
			b.Fatal(r)
		}
		ops += clients * perClient
	}
	b.ReportMetric(float64(ops)/b.Elapsed().Seconds(), "ops/s")
}
