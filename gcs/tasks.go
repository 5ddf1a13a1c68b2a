package gcs

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/grayrt/gray/core"
)

// The task table: what owners reported about their tasks (AddTaskEvents),
// merged per task and attempt. It lives in memory only: a GCS restart
// starts it empty, like Ray's GcsTaskManager, because it is for
// observation (dashboard, gray list tasks) and nothing depends on it. It
// holds at most Config.TasksMax tasks; beyond that the oldest tasks that
// finished or failed are evicted first, then the oldest of any state.

// taskTable is the server's task table.
type taskTable struct {
	tasks map[core.TaskID]*TaskInfo
	// order holds task ids oldest first; entries of evicted tasks are
	// removed when eviction walks over them.
	order []core.TaskID
	stats TaskStats
	// ops counts requests by type and opTime sums their handling time,
	// for the dashboard's metrics.
	ops    map[core.MsgType]uint64
	opTime map[core.MsgType]time.Duration
}

func newTaskTable() *taskTable {
	return &taskTable{tasks: map[core.TaskID]*TaskInfo{}, ops: map[core.MsgType]uint64{}, opTime: map[core.MsgType]time.Duration{}}
}

// addTaskEvents merges a batch. Events of an attempt only move it
// forward (a resent or reordered event changes nothing), and an attempt
// older than the latest one is updated in place.
func (s *Server) addTaskEvents(r *AddTaskEvents) Reply {
	tt := s.tasks
	tt.stats.DroppedAtSource += r.Dropped
	for i := range r.Events {
		tt.add(&r.Events[i])
	}
	tt.evict(s.cfg.TasksMax)
	return Reply{}
}

func (tt *taskTable) add(e *TaskEvent) {
	tt.stats.Events++
	t := tt.tasks[e.Task]
	if t == nil {
		t = &TaskInfo{ID: e.Task, Job: e.Job, Name: e.Name, SubmitTime: e.Time}
		tt.tasks[e.Task] = t
		tt.order = append(tt.order, e.Task)
		tt.stats.Submitted++
		tt.stats.Tasks++
	} else {
		tt.stats.ByState[t.Latest().State]--
	}
	if t.Name == "" {
		t.Name = e.Name
	}
	if e.Time < t.SubmitTime || t.SubmitTime == 0 {
		t.SubmitTime = e.Time
	}
	i := len(t.Attempts) - 1
	for i >= 0 && t.Attempts[i].Attempt > e.Attempt {
		i--
	}
	if i < 0 || t.Attempts[i].Attempt != e.Attempt {
		// A new attempt, inserted in attempt order.
		i++
		t.Attempts = append(t.Attempts, TaskAttempt{})
		copy(t.Attempts[i+1:], t.Attempts[i:])
		t.Attempts[i] = TaskAttempt{Attempt: e.Attempt}
		if len(t.Attempts) > 1 {
			tt.stats.Retries++
		}
	}
	a := &t.Attempts[i]
	if e.State > a.State {
		a.State = e.State
		switch e.State {
		case TaskRunning:
			a.StartTime = e.Time
		case TaskFinished:
			tt.stats.Finished++
			a.EndTime = e.Time
		case TaskFailed:
			tt.stats.Failed++
			a.EndTime = e.Time
			a.ErrorKind, a.Error = e.ErrorKind, e.Error
		}
	}
	if !e.Node.IsNil() {
		a.Node = e.Node
	}
	if e.Worker != "" {
		a.Worker = e.Worker
	}
	tt.stats.ByState[t.Latest().State]++
}

// JobFinishedKind is the ErrorKind of the attempts the GCS marks FAILED
// because their job finished before their end was reported.
const JobFinishedKind = "JobFinished"

// endJob marks FAILED, at time at, the latest attempt of every task of
// job that has not ended in the table.
func (tt *taskTable) endJob(job core.JobID, at int64) {
	for _, id := range tt.order {
		t := tt.tasks[id]
		if t == nil || t.Job != job || t.Latest().State.Terminal() {
			continue
		}
		a := t.Latest()
		tt.add(&TaskEvent{Task: id, Attempt: a.Attempt, Job: job, State: TaskFailed, Time: max(at, a.StartTime),
			ErrorKind: JobFinishedKind, Error: "its job finished before the task's end was reported"})
	}
}

// evict removes tasks beyond limit: first the oldest that ended, then the
// oldest of any state. It runs over order once per call.
func (tt *taskTable) evict(limit int) {
	if len(tt.tasks) <= limit {
		tt.compact()
		return
	}
	// Evict down to 90% of the limit so that a full table does not walk
	// its order on every batch.
	target := limit - limit/10
	keep := tt.order[:0]
	excess := len(tt.tasks) - target
	for _, id := range tt.order {
		t := tt.tasks[id]
		if t == nil {
			continue
		}
		if excess > 0 && t.Latest().State.Terminal() {
			tt.remove(id)
			excess--
			continue
		}
		keep = append(keep, id)
	}
	tt.order = keep
	for excess > 0 && len(tt.order) > 0 {
		tt.remove(tt.order[0])
		tt.order = tt.order[1:]
		excess--
	}
}

func (tt *taskTable) remove(id core.TaskID) {
	t := tt.tasks[id]
	tt.stats.ByState[t.Latest().State]--
	delete(tt.tasks, id)
	tt.stats.Tasks--
	tt.stats.Evicted++
}

// compact drops the order's entries of evicted tasks once they are most
// of it.
func (tt *taskTable) compact() {
	if len(tt.order) <= 2*len(tt.tasks)+64 {
		return
	}
	keep := make([]core.TaskID, 0, len(tt.tasks))
	for _, id := range tt.order {
		if tt.tasks[id] != nil {
			keep = append(keep, id)
		}
	}
	tt.order = keep
}

// listTasks answers ListTasks.
func (s *Server) listTasks(r *ListTasks) Reply {
	limit := r.Limit
	if limit == 0 {
		limit = ListTasksMax
	}
	out := []TaskInfo{}
	total, bytes, full := 0, 0, false
	for _, id := range s.tasks.order {
		t := s.tasks.tasks[id]
		if t == nil || !r.matches(t) {
			continue
		}
		total++
		if !full && len(out) < limit {
			if bytes += t.size(); bytes > ListTasksBytesMax {
				full = true
				continue
			}
			c := *t
			c.Attempts = append([]TaskAttempt(nil), t.Attempts...)
			out = append(out, c)
		}
	}
	return Reply{Tasks: out, TasksTotal: total}
}

func (r *ListTasks) matches(t *TaskInfo) bool {
	l := t.Latest()
	switch {
	case r.State != 0 && l.State != r.State:
		return false
	case !r.Job.IsNil() && t.Job != r.Job:
		return false
	case r.Name != "" && t.Name != r.Name:
		return false
	case !r.Node.IsNil() && l.Node != r.Node:
		return false
	}
	return true
}

// Tasks returns the task table's records matching the filter of q (its
// header is ignored), oldest first, and the number of matches before
// q.Limit. The slice is the caller's. The dashboard of a head reads the
// table through it.
func (s *Server) Tasks(q ListTasks) ([]TaskInfo, int) {
	r := s.listTasks(&q)
	return r.Tasks, r.TasksTotal
}

// TaskStats returns the task table's counters.
func (s *Server) TaskStats() TaskStats { return s.tasks.stats }

// OpStat counts the requests of one type the server handled.
type OpStat struct {
	// Type is the request's message name, e.g. "gcs.KVPut".
	Type  string
	Count uint64
	// Time is the total time spent handling them, commits included, as
	// the server's clock measures it.
	Time time.Duration
}

// OpStats returns a count per request type handled since Start, sorted
// by type name. The slice is the caller's.
func (s *Server) OpStats() []OpStat {
	out := make([]OpStat, 0, len(s.tasks.ops))
	for t, n := range s.tasks.ops { //gray:unordered sorted below
		out = append(out, OpStat{Type: core.MessageName(t), Count: n, Time: s.tasks.opTime[t]})
	}
	sortOpStats(out)
	return out
}

func sortOpStats(out []OpStat) {
	slices.SortFunc(out, func(a, b OpStat) int { return strings.Compare(a.Type, b.Type) })
}

// describeTasks adds the task table's summary to Describe.
func (s *Server) describeTasks() string {
	st := s.tasks.stats
	return fmt.Sprintf("tasks table=%d events=%d dropped_at_source=%d evicted=%d\n", st.Tasks, st.Events, st.DroppedAtSource, st.Evicted)
}
