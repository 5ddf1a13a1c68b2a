package process_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/worker"
	"github.com/grayrt/gray/gcs"
	"github.com/grayrt/gray/internal/process"
	"github.com/grayrt/gray/internal/registry"
	"github.com/grayrt/gray/raylet"
	"github.com/grayrt/gray/sim"
)

type hostKey struct{}

func init() {
	// A body that returns what its host program put in its ctx.
	registry.RegisterTask("process_test.hostValue", func(ctx context.Context, _ [][]byte) ([][]byte, error) {
		v, _ := ctx.Value(hostKey{}).(string)
		return [][]byte{[]byte(v)}, nil
	})
}

// oneNode is a simulated node (GCS, raylet, one worker built by
// newWorker) and a driver whose program is main.
type oneNode struct {
	newWorker func() *process.Worker
	main      func(ctx context.Context) error
	err       error
	done      bool
}

func (o *oneNode) Setup(w *sim.World) error {
	w.AddProcess("gcs", sim.ProcOptions{Disk: true}, func() core.Process { return gcs.NewServer(gcs.Config{}) })
	w.AddProcess("raylet", sim.ProcOptions{Host: "node"}, func() core.Process {
		return raylet.New(raylet.Config{GCS: "gcs", Resources: core.MustResources(core.CPU, 1)})
	})
	w.AddProcess("raylet/w1", sim.ProcOptions{Host: "node"}, func() core.Process { return o.newWorker() })
	d := process.NewDriver(process.DriverConfig{GCS: "gcs", Raylet: "raylet", Main: o.main,
		Done: func(err error) { o.err, o.done = err, true }})
	w.AddProcess("driver", sim.ProcOptions{Host: "node"}, func() core.Process { return d })
	return nil
}

func (o *oneNode) Done() bool                        { return o.done }
func (o *oneNode) Pending() string                   { return "the driver program has not returned" }
func (o *oneNode) Check(*sim.World) (string, string) { return "", "" }

// runTask submits fn without arguments from the driver and returns its
// result.
func runTask(ctx context.Context, fn string) ([]byte, error) {
	return process.Do(ctx, process.CallerFrom(ctx), func(cw *worker.Worker, reply func([]byte, error)) {
		refs, err := cw.SubmitTask(fn, nil, worker.TaskOptions{NumReturns: 1})
		if err != nil {
			reply(nil, err)
			return
		}
		cw.Get(refs[0], reply)
	})
}

// TestWorkerContextReachesBodies: WorkerConfig.Context is the parent of
// every body's ctx, and the hooks see the body before it runs.
func TestWorkerContextReachesBodies(t *testing.T) {
	var ran []string
	o := &oneNode{
		newWorker: func() *process.Worker {
			return process.NewWorker(process.WorkerConfig{Raylet: "raylet", GCS: "gcs",
				Context: context.WithValue(context.Background(), hostKey{}, "from the host"),
				Hooks: process.WorkerHooks{BeforeRun: func(node core.NodeID, spec *proto.TaskSpec) {
					ran = append(ran, fmt.Sprintf("%s on a registered node: %v", spec.Function, !node.IsNil()))
				}}})
		},
		main: func(ctx context.Context) error {
			got, err := runTask(ctx, "process_test.hostValue")
			if err != nil {
				return err
			}
			if string(got) != "from the host" {
				return fmt.Errorf("the body's ctx carried %q, want %q", got, "from the host")
			}
			return nil
		},
	}
	r := sim.Run(sim.Config{Seed: 1, FaultSpec: "none", FaultPhase: time.Millisecond}, o, "process-context")
	if !r.Passed || o.err != nil {
		t.Fatalf("run: %v; driver: %v", r, o.err)
	}
	if want := "process_test.hostValue on a registered node: true"; len(ran) != 1 || ran[0] != want {
		t.Fatalf("BeforeRun saw %q, want [%q]", ran, want)
	}
}
