package gcs_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
	"github.com/grayrt/gray/gcs"
)

// driverRaylet plays a raylet that runs drivers: it acknowledges
// StartDriver and StopDriver and records them.
type driverRaylet struct {
	node   core.NodeID
	starts map[string]int
	stops  map[string]int
	srv    *rpc.Server
}

func (d *driverRaylet) handle(hs *host, from core.Addr, m core.Message) bool {
	if d.srv == nil {
		d.starts, d.stops = map[string]int{}, map[string]int{}
		d.srv = rpc.NewServer(hs.env)
		d.srv.Register((&proto.StartDriver{}).MsgType(), func(_ core.Addr, m core.Message, reply func(core.Message, error)) {
			sd := m.(*proto.StartDriver)
			if sd.Node != d.node {
				reply(nil, rpc.Errorf(rpc.CodeNotFound, "another node"))
				return
			}
			d.starts[sd.Spec.ID]++
			reply(&proto.Ack{}, nil)
		})
		d.srv.Register((&proto.StopDriver{}).MsgType(), func(_ core.Addr, m core.Message, reply func(core.Message, error)) {
			d.stops[m.(*proto.StopDriver).ID]++
			reply(&proto.Ack{}, nil)
		})
	}
	return d.srv.Handle(from, m)
}

func testSpec(id string) proto.DriverSpec {
	return proto.DriverSpec{ID: id, Binary: strings.Repeat("ab", 32), Args: []string{"pi", "-tasks", "8"}}
}

// TestSubmittedJobLifecycle: a job waits for a node, is stopped before
// it started, its id stays taken until deleted; on a node the GCS sends
// StartDriver, follows the raylet's reports (and refuses another
// node's), keeps the state across a restart, turns a stop into STOPPED,
// and fails a running job when its node dies, finishing the job its
// driver registered.
func TestSubmittedJobLifecycle(t *testing.T) {
	const raylet, other = 0, 1
	h := newHarness(t, harnessOpts{hosts: 2, cfg: gcs.Config{NodeTimeout: 2 * time.Second, HealthCheckPeriod: 500 * time.Millisecond}})
	n1 := nodeID(1)
	dr := &driverRaylet{node: n1}
	h.play(raylet, dr)
	sub := func(id string) gcs.JobSubmission { return gcs.JobSubmission{Spec: testSpec(id)} }
	submit := func(id string) *res {
		return h.op(other, "submit "+id, func(c *gcs.Client, f cb) { c.SubmitJob(sub(id), f) })
	}
	update := func(i int, id string, node core.NodeID, st gcs.SubmissionState, code int32) *res {
		return h.op(i, "report "+id+" "+st.String(), func(c *gcs.Client, f cb) {
			c.UpdateJobSubmission(gcs.UpdateJobSubmission{ID: id, Node: node, State: st, ExitCode: code, Exited: st != gcs.SubmissionRunning && code >= 0}, f)
		})
	}
	get := func(id string) *res {
		return h.op(other, "get "+id, func(c *gcs.Client, f cb) { c.GetJobSubmission(id, f) })
	}

	// No node: PENDING, and a stop ends it at once.
	waiting := submit("a")
	stoppedA := h.op(other, "stop a", func(c *gcs.Client, f cb) { c.StopJob("a", f) })
	again := submit("a")
	deleted := h.op(other, "delete a", func(c *gcs.Client, f cb) { c.DeleteJob("a", f) })
	gone := get("a")

	// A node: the driver is started there.
	h.op(raylet, "register n1", func(c *gcs.Client, f cb) { c.RegisterNode(n1, "c1", core.MustResources(core.CPU, 2), f) })
	h.action("heartbeats", func() { h.hosts[raylet].startHeartbeats(n1, 500*time.Millisecond) })
	placed := submit("b")
	h.waitUntil("StartDriver b", 5*time.Second, func() bool { return dr.starts["b"] > 0 })
	foreign := update(other, "b", nodeID(9), gcs.SubmissionRunning, 0)
	running := update(raylet, "b", n1, gcs.SubmissionRunning, 0)
	undelete := h.op(other, "delete running b", func(c *gcs.Client, f cb) { c.DeleteJob("b", f) })
	h.crashGCS("restart with b running")
	afterRestart := get("b")
	h.op(other, "stop b", func(c *gcs.Client, f cb) { c.StopJob("b", f) })
	h.waitUntil("StopDriver b", 5*time.Second, func() bool { return dr.stops["b"] > 0 })
	killed := update(raylet, "b", n1, gcs.SubmissionFailed, -1)
	late := update(raylet, "b", n1, gcs.SubmissionSucceeded, 0)

	// A running job on a node that dies fails, and its job finishes.
	submit("c")
	h.waitUntil("StartDriver c", 5*time.Second, func() bool { return dr.starts["c"] > 0 })
	h.op(other, "the driver registers its job", func(c *gcs.Client, f cb) { c.AddJobOfSubmission("driver", nil, "", "c", f) })
	update(raylet, "c", n1, gcs.SubmissionRunning, 0)
	h.action("n1 stops beating", func() { h.hosts[raylet].beating = false })
	h.waitUntil("c failed", 10*time.Second, func() bool {
		s := h.server()
		if s == nil {
			return false
		}
		for _, j := range s.Submissions() {
			if j.ID() == "c" {
				return j.State == gcs.SubmissionFailed
			}
		}
		return false
	})
	endC := get("c")
	jobs := h.op(other, "list jobs", func(c *gcs.Client, f cb) { c.ListJobs(f) })
	h.mustPass()

	one := func(r *res) gcs.JobSubmission {
		t.Helper()
		if !r.ok() || len(r.r.Submissions) != 1 {
			t.Fatalf("%v, want one record", r)
		}
		return r.r.Submissions[0]
	}
	if j := one(waiting); j.State != gcs.SubmissionPending || !j.Node.IsNil() || !strings.Contains(j.Message, "alive node") {
		t.Errorf("with no node: %+v, want PENDING waiting for a node", j)
	}
	if j := one(stoppedA); j.State != gcs.SubmissionStopped || j.EndTime == 0 {
		t.Errorf("stop of a waiting job: %+v, want STOPPED with an end time", j)
	}
	if !errors.Is(again.err, gcs.ErrConflict) {
		t.Errorf("resubmitting a: %v, want a conflict", again)
	}
	if !deleted.ok() || !errors.Is(gone.err, gcs.ErrNotFound) {
		t.Errorf("delete: %v, then get: %v; want the record gone", deleted, gone)
	}
	if j := one(placed); j.Node != n1 {
		t.Errorf("with a node: %+v, want it placed on n1", j)
	}
	if !errors.Is(foreign.err, rpc.ErrFailedPrecondition) {
		t.Errorf("another node's report: %v, want FailedPrecondition", foreign)
	}
	if j := one(running); j.State != gcs.SubmissionRunning || j.StartTime == 0 {
		t.Errorf("after the start report: %+v", j)
	}
	if !errors.Is(undelete.err, rpc.ErrFailedPrecondition) {
		t.Errorf("delete of a running job: %v, want FailedPrecondition", undelete)
	}
	if j := one(afterRestart); j.State != gcs.SubmissionRunning || !j.Started {
		t.Errorf("after a restart: %+v, want RUNNING", j)
	}
	if j := one(killed); j.State != gcs.SubmissionStopped || j.Exited {
		t.Errorf("a stopped driver killed by its signal: %+v, want STOPPED", j)
	}
	if !errors.Is(late.err, rpc.ErrFailedPrecondition) {
		t.Errorf("a report contradicting the final state: %v, want FailedPrecondition", late)
	}
	j := one(endC)
	if !strings.Contains(j.Message, "died") || len(j.Jobs) != 1 {
		t.Errorf("job on a dead node: %+v, want FAILED naming the death, with its driver's job", j)
	}
	if !jobs.ok() {
		t.Fatal(jobs)
	}
	for _, info := range jobs.r.Jobs {
		if info.ID == j.Jobs[0] && !info.Finished {
			t.Errorf("job %v of the failed submission is not finished", info.ID)
		}
	}
}

// TestSubmitJobValidation: malformed submissions are refused with a
// reason, before they take a sequence number.
func TestSubmitJobValidation(t *testing.T) {
	good := testSpec("ok-1")
	cases := map[string]gcs.JobSubmission{
		"empty id":            {Spec: proto.DriverSpec{Binary: good.Binary, Args: good.Args}},
		"id with a slash":     {Spec: proto.DriverSpec{ID: "a/b", Binary: good.Binary, Args: good.Args}},
		"id with a dot first": {Spec: proto.DriverSpec{ID: ".x", Binary: good.Binary, Args: good.Args}},
		"no program":          {Spec: proto.DriverSpec{ID: "x", Binary: good.Binary}},
		"bad hash":            {Spec: proto.DriverSpec{ID: "x", Binary: "nothex", Args: good.Args}},
		"bad env":             {Spec: proto.DriverSpec{ID: "x", Binary: good.Binary, Args: good.Args, Env: []string{"NOEQUALS"}}},
		"negative grace":      {Spec: good, StopGrace: -time.Second},
		"negative resource":   {Spec: good, Resources: core.Resources{{Name: core.CPU, Amount: -1}}},
	}
	for name, j := range cases {
		m := &gcs.SubmitJob{Hdr: gcs.Hdr{Client: "c", Seq: 1}, Job: j}
		if err := m.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := (&gcs.SubmitJob{Hdr: gcs.Hdr{Client: "c", Seq: 1}, Job: gcs.JobSubmission{Spec: good}}).Validate(); err != nil {
		t.Errorf("a good submission refused: %v", err)
	}
}
