package gcs_test

import (
	"testing"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/gcs"
)

func TestTaskEvents(t *testing.T) {
	job := core.JobIDFromInt(1)
	task := func(i uint64) core.TaskID { return core.NewTaskID(job, core.DriverTaskID(job), i) }
	n1 := nodeID(1)
	ev := func(i uint64, attempt uint32, st gcs.TaskState, at int64) gcs.TaskEvent {
		e := gcs.TaskEvent{Task: task(i), Attempt: attempt, Job: job, Name: "f", State: st, Time: at}
		if st == gcs.TaskRunning {
			e.Node, e.Worker = n1, "w1"
		}
		if st == gcs.TaskFailed {
			e.ErrorKind, e.Error = "TaskFailed", "boom"
		}
		return e
	}
	h := newHarness(t, harnessOpts{cfg: gcs.Config{TasksMax: 10}})
	// Task 1 fails once and succeeds on its retry; the RUNNING event of
	// attempt 0 arrives after its FAILED one and changes nothing.
	h.op(0, "batch 1", func(c *gcs.Client, f cb) {
		c.AddTaskEvents([]gcs.TaskEvent{ev(1, 0, gcs.TaskPendingArgs, 1), ev(1, 0, gcs.TaskFailed, 3), ev(1, 0, gcs.TaskRunning, 2),
			ev(1, 1, gcs.TaskRunning, 4), ev(1, 1, gcs.TaskFinished, 5), ev(2, 0, gcs.TaskRunning, 6)}, 7, f)
	})
	failed := h.op(0, "list failed", func(c *gcs.Client, f cb) { c.ListTasks(gcs.ListTasks{State: gcs.TaskFailed}, f) })
	all := h.op(0, "list", func(c *gcs.Client, f cb) { c.ListTasks(gcs.ListTasks{Node: n1, Limit: 1}, f) })
	// 12 more tasks, all finished, overflow the table of 10: the oldest
	// ended ones go first, the running task 2 stays.
	h.op(0, "batch 2", func(c *gcs.Client, f cb) {
		var evs []gcs.TaskEvent
		for i := uint64(3); i < 15; i++ {
			evs = append(evs, ev(i, 0, gcs.TaskFinished, int64(i)))
		}
		c.AddTaskEvents(evs, 0, f)
	})
	after := h.op(0, "list after eviction", func(c *gcs.Client, f cb) { c.ListTasks(gcs.ListTasks{}, f) })
	bad := h.op(0, "bad state", func(c *gcs.Client, f cb) { c.ListTasks(gcs.ListTasks{State: 99}, f) })
	var st gcs.TaskStats
	var ops []gcs.OpStat
	h.action("read stats", func() { st, ops = h.server().TaskStats(), h.server().OpStats() })
	h.mustPass()

	if !failed.ok() || len(failed.r.Tasks) != 0 {
		t.Errorf("%v, want no failed task (task 1 succeeded on retry)", failed)
	}
	if !all.ok() || all.r.TasksTotal != 2 || len(all.r.Tasks) != 1 {
		t.Fatalf("%v, want 1 of 2 tasks", all)
	}
	t1 := all.r.Tasks[0]
	if t1.ID != task(1) || len(t1.Attempts) != 2 || t1.Attempts[0].State != gcs.TaskFailed || t1.Attempts[0].Error != "boom" ||
		t1.Latest().State != gcs.TaskFinished || t1.Latest().StartTime != 4 || t1.SubmitTime != 1 {
		t.Errorf("task 1 = %+v, want a failed attempt then a finished one", t1)
	}
	if !after.ok() || len(after.r.Tasks) != 9 || after.r.Tasks[0].ID != task(2) || after.r.Tasks[8].ID != task(14) {
		t.Errorf("%v, want 9 tasks: 2 and the newest", after)
	}
	if bad.ok() {
		t.Errorf("%v, want InvalidArgument", bad)
	}
	if st.DroppedAtSource != 7 || st.Submitted != 14 || st.Retries != 1 || st.Failed != 1 || st.Finished != 13 || st.Tasks != 9 || st.Evicted != 5 {
		t.Errorf("TaskStats() = %+v", st)
	}
	if len(ops) == 0 {
		t.Errorf("OpStats() is empty")
	}
}

// TestTasksOfAFinishedJobEnd: TaskJobDoneGrace after a job finishes,
// its tasks whose end was never reported are FAILED (JobFinished); its
// ended tasks and other jobs' running tasks are left alone.
func TestTasksOfAFinishedJobEnd(t *testing.T) {
	job1, job2 := core.JobIDFromInt(1), core.JobIDFromInt(2)
	ev := func(job core.JobID, i uint64, st gcs.TaskState) gcs.TaskEvent {
		return gcs.TaskEvent{Task: core.NewTaskID(job, core.DriverTaskID(job), i), Job: job, Name: "f", State: st, Time: int64(i)}
	}
	h := newHarness(t, harnessOpts{cfg: gcs.Config{TaskJobDoneGrace: 5 * time.Second}})
	h.op(0, "add job 1", func(c *gcs.Client, f cb) { c.AddJob("driver-1", nil, f) })
	h.op(0, "add job 2", func(c *gcs.Client, f cb) { c.AddJob("driver-2", nil, f) })
	h.op(0, "events", func(c *gcs.Client, f cb) {
		c.AddTaskEvents([]gcs.TaskEvent{ev(job1, 1, gcs.TaskRunning), ev(job1, 2, gcs.TaskFinished), ev(job2, 3, gcs.TaskRunning)}, 0, f)
	})
	h.op(0, "finish job 1", func(c *gcs.Client, f cb) { c.FinishJob(job1, f) })
	early := h.op(0, "list before the grace", func(c *gcs.Client, f cb) { c.ListTasks(gcs.ListTasks{State: gcs.TaskFailed}, f) })
	h.sleep(6 * time.Second)
	late := h.op(0, "list after the grace", func(c *gcs.Client, f cb) { c.ListTasks(gcs.ListTasks{}, f) })
	h.mustPass()
	if !early.ok() || len(early.r.Tasks) != 0 {
		t.Errorf("%v, want no failed task before the grace passed", early)
	}
	if !late.ok() || len(late.r.Tasks) != 3 {
		t.Fatalf("%v, want 3 tasks", late)
	}
	want := []gcs.TaskState{gcs.TaskFailed, gcs.TaskFinished, gcs.TaskRunning}
	for i, task := range late.r.Tasks {
		a := task.Latest()
		if a.State != want[i] {
			t.Errorf("task %d is %v, want %v", i+1, a.State, want[i])
		}
		if i == 0 && a.ErrorKind != gcs.JobFinishedKind {
			t.Errorf("task 1 failed with %q, want %q", a.ErrorKind, gcs.JobFinishedKind)
		}
	}
}
