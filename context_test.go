package gray_test

import (
	"context"
	"testing"

	"github.com/grayrt/gray"
)

var (
	whereTask = gray.Task0("test.where", func(ctx context.Context) (gray.RuntimeContext, error) {
		return gray.GetRuntimeContext(ctx)
	})
	whereParent = gray.Task0("test.whereParent", func(ctx context.Context) ([2]gray.RuntimeContext, error) {
		self, err := gray.GetRuntimeContext(ctx)
		if err != nil {
			return [2]gray.RuntimeContext{}, err
		}
		child, err := whereTask.Remote(ctx).Get(ctx)
		return [2]gray.RuntimeContext{self, child}, err
	})
	whereClass = gray.Actor("test.Where", func(ctx context.Context) (*gray.RuntimeContext, error) {
		rc, err := gray.GetRuntimeContext(ctx)
		return &rc, err
	})
	whereMethod = gray.Method0("where", func(_ *gray.RuntimeContext, ctx context.Context) (gray.RuntimeContext, error) {
		return gray.GetRuntimeContext(ctx)
	})
	whereBorn = gray.Method0("born", func(rc *gray.RuntimeContext, _ context.Context) (gray.RuntimeContext, error) { return *rc, nil })
)

// TestRuntimeContext: the driver, a task, a nested task, an actor's
// constructor and its method each see their own job, node, worker, task
// and actor.
func TestRuntimeContext(t *testing.T) {
	ctx := start(t)
	drv, err := gray.GetRuntimeContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !drv.IsDriver() || drv.JobID == "" || drv.WorkerID != "" || drv.NodeID == "" || drv.ActorID != "" {
		t.Fatalf("driver context %+v: want a job and a node, no worker, task or actor", drv)
	}
	task, err := whereTask.Remote(ctx).Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if task.IsDriver() || task.JobID != drv.JobID || task.NodeID == "" || task.WorkerID == "" || task.WorkerID == drv.WorkerID || task.ActorID != "" || task.Attempt != 0 {
		t.Fatalf("task context %+v (driver %+v): want the driver's job, a task, a worker of its own", task, drv)
	}
	pair, err := whereParent.Remote(ctx).Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if pair[0].TaskID == pair[1].TaskID || pair[0].JobID != drv.JobID || pair[1].JobID != drv.JobID {
		t.Fatalf("parent %+v and child %+v: want two tasks of the driver's job", pair[0], pair[1])
	}
	h, err := whereClass.New(ctx)
	if err != nil {
		t.Fatal(err)
	}
	born, err := whereBorn.Remote(ctx, h).Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	call, err := whereMethod.Remote(ctx, h).Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for what, rc := range map[string]gray.RuntimeContext{"constructor": born, "method": call} {
		if rc.ActorID != h.ID() || rc.JobID != drv.JobID || rc.TaskID == "" || rc.ActorRestarts != 0 {
			t.Errorf("%s context %+v: want actor %s of job %s in its first life", what, rc, h.ID(), drv.JobID)
		}
	}
	if born.TaskID == call.TaskID || born.WorkerID != call.WorkerID {
		t.Errorf("constructor %+v and method %+v: want two tasks on the actor's one worker", born, call)
	}
}

// TestRuntimeContextOutsideARuntime: no runtime, no context.
func TestRuntimeContextOutsideARuntime(t *testing.T) {
	if _, err := gray.GetRuntimeContext(context.Background()); err == nil {
		t.Fatal("GetRuntimeContext outside a runtime succeeded")
	}
}
