package worker

import (
	"testing"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/gcs"
)

// eventCluster is the test cluster whose owner has a GCS client talking
// to a fake GCS that records every AddTaskEvents batch.
func eventCluster(t *testing.T, eventsMax int) (*cluster, *[]*gcs.AddTaskEvents) {
	c := newCluster(t)
	env := c.n.env("driver", 11)
	g := gcs.NewClient(env, "gcs", gcs.ClientOptions{})
	c.owner = New(env, Config{Raylet: "raylet", Node: core.NodeID{9}, Job: core.JobIDFromInt(1), GCS: g, TaskEventsMax: eventsMax})
	c.n.procs["driver"] = func(from core.Addr, m core.Message) {
		if !g.Handle(from, m) {
			c.owner.Handle(from, m)
		}
	}
	genv := c.n.env("gcs", 12)
	var batches []*gcs.AddTaskEvents
	c.n.procs["gcs"] = func(from core.Addr, m core.Message) {
		r := m.(*gcs.AddTaskEvents)
		batches = append(batches, r)
		genv.Send(from, &gcs.Reply{Client: r.Hdr.Client, Seq: r.Hdr.Seq})
	}
	return c, &batches
}

func TestTaskEventsRecorded(t *testing.T) {
	c, batches := eventCluster(t, 0)
	refs, err := c.owner.SubmitTask("add", []proto.Arg{{Value: i64(1)}, {Value: i64(2)}}, TaskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.get(c.owner, refs[0]); err != nil {
		t.Fatal(err)
	}
	c.n.run(nil)
	if len(*batches) != 1 {
		t.Fatalf("%d batches, want 1 (events wait a flush period)", len(*batches))
	}
	b := (*batches)[0]
	want := []gcs.TaskState{gcs.TaskPendingArgs, gcs.TaskPendingNode, gcs.TaskRunning, gcs.TaskFinished}
	if len(b.Events) != len(want) || b.Dropped != 0 {
		t.Fatalf("batch = %+v, want %v", b, want)
	}
	for i, e := range b.Events {
		if e.State != want[i] || e.Task != refs[0].ID.Task() || e.Name != "add" || e.Time == 0 {
			t.Errorf("event %d = %+v, want %v of add", i, e, want[i])
		}
	}
	if r := b.Events[2]; r.Worker != "exec" || r.Node.IsNil() {
		t.Errorf("RUNNING event %+v lacks the worker and node", r)
	}
	if c.owner.events.timer != nil || c.owner.events.inflight || len(c.owner.events.buf) != 0 {
		t.Errorf("after the flush: timer %v, inflight %v, %d buffered; want none", c.owner.events.timer, c.owner.events.inflight, len(c.owner.events.buf))
	}
	if st := c.owner.TaskEventStats(); st.Recorded != 4 || st.Sent != 4 || st.Dropped != 0 {
		t.Errorf("TaskEventStats() = %+v", st)
	}
}

func TestTaskEventsDropOldest(t *testing.T) {
	c, batches := eventCluster(t, 4)
	// A user error retried once: 8 events (two attempts of pending args,
	// pending node, running, failed) into a buffer of 4.
	refs, err := c.owner.SubmitTask("fail", nil, TaskOptions{RetryExceptions: true, MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.get(c.owner, refs[0]); err == nil {
		t.Fatal("fail succeeded")
	}
	c.n.run(nil)
	if len(*batches) != 1 {
		t.Fatalf("%d batches, want 1", len(*batches))
	}
	b := (*batches)[0]
	if b.Dropped != 4 || len(b.Events) != 4 {
		t.Fatalf("batch: %d events, %d dropped; want the newest 4 and 4 dropped", len(b.Events), b.Dropped)
	}
	last := b.Events[3]
	if last.State != gcs.TaskFailed || last.Attempt != 1 || last.ErrorKind != proto.KindTaskFailed.String() || last.Error == "" {
		t.Errorf("last event = %+v, want attempt 1 FAILED with its error", last)
	}
	if first := b.Events[0]; first.State != gcs.TaskPendingArgs || first.Attempt != 1 {
		t.Errorf("oldest kept event = %+v, want attempt 1 PENDING_ARGS_AVAIL", first)
	}
}
