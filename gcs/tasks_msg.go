package gcs

import (
	"errors"
	"fmt"

	"github.com/grayrt/gray/core"
)

// Task events (tasks.go): owners report their tasks' state transitions in
// batches, the GCS keeps a bounded in-memory table, and ListTasks reads it
// for the dashboard and the CLI, as Ray's GcsTaskManager does.

// TaskState is a task attempt's state as owners report it. The order is
// the order of a task's life: an event never moves an attempt backwards.
type TaskState uint8

// Task states, named as Ray's state API names them.
const (
	// TaskPendingArgs: submitted, waiting for its owned arguments.
	TaskPendingArgs TaskState = iota + 1
	// TaskPendingNode: waiting for a worker lease.
	TaskPendingNode
	// TaskRunning: pushed to a leased worker (Node, Worker).
	TaskRunning
	// TaskFinished: returned successfully.
	TaskFinished
	// TaskFailed: the attempt failed (ErrorKind, Error); a retriable
	// failure is followed by the next attempt's events.
	TaskFailed
	numTaskStates
)

var taskStateNames = [...]string{
	TaskPendingArgs: "PENDING_ARGS_AVAIL",
	TaskPendingNode: "PENDING_NODE_ASSIGNMENT",
	TaskRunning:     "RUNNING",
	TaskFinished:    "FINISHED",
	TaskFailed:      "FAILED",
}

// String returns the state's name as Ray spells it.
func (s TaskState) String() string {
	if s >= TaskPendingArgs && s < numTaskStates {
		return taskStateNames[s]
	}
	return fmt.Sprintf("TaskState(%d)", uint8(s))
}

// ParseTaskState returns the state named name (as String spells it).
func ParseTaskState(name string) (TaskState, bool) {
	for s := TaskPendingArgs; s < numTaskStates; s++ {
		if taskStateNames[s] == name {
			return s, true
		}
	}
	return 0, false
}

// Terminal reports whether no later event of the same attempt can follow.
func (s TaskState) Terminal() bool { return s == TaskFinished || s == TaskFailed }

// Limits of task events.
const (
	// TaskEventsPerBatchMax bounds one AddTaskEvents request.
	TaskEventsPerBatchMax = 1000
	// TaskErrorSizeMax bounds TaskEvent.Error; owners truncate longer
	// messages.
	TaskErrorSizeMax = 2 << 10
	// ListTasksMax bounds the tasks of one ListTasks reply.
	ListTasksMax = 10_000
	// ListTasksBytesMax bounds the estimated size of one ListTasks reply,
	// far below core.DefaultMessageSizeMax: tasks with long errors over
	// many attempts could otherwise exceed it. A reply cut by it has fewer
	// Tasks than Limit and TasksTotal says how many matched.
	ListTasksBytesMax = 16 << 20
)

// TaskEvent is one state transition of one task attempt, reported by the
// task's owner. Time is Unix nanoseconds of the owner's clock.
type TaskEvent struct {
	_msgpack struct{} `msgpack:",omitempty"`
	Task     core.TaskID
	Attempt  uint32
	Job      core.JobID
	// Name is the function's registered name (or Class.method for actor
	// calls).
	Name  string
	State TaskState
	Time  int64
	// Node and Worker say where the attempt runs (RUNNING).
	Node   core.NodeID
	Worker core.Addr
	// ErrorKind and Error describe a FAILED attempt (proto.ErrorKind's
	// name and the message).
	ErrorKind string
	Error     string
}

func (e *TaskEvent) validate() error {
	switch {
	case e.Task == core.TaskID{}:
		return errors.New("task event without task id")
	case e.State < TaskPendingArgs || e.State >= numTaskStates:
		return fmt.Errorf("task event with state %d", e.State)
	case len(e.Name) > NameSizeMax:
		return fmt.Errorf("task name of %d bytes, limit %d", len(e.Name), NameSizeMax)
	case len(e.ErrorKind) > NameSizeMax:
		return fmt.Errorf("error kind of %d bytes, limit %d", len(e.ErrorKind), NameSizeMax)
	case len(e.Error) > TaskErrorSizeMax:
		return fmt.Errorf("task error of %d bytes, limit %d", len(e.Error), TaskErrorSizeMax)
	}
	return validateAddr("worker address", e.Worker, false)
}

// AddTaskEvents reports a batch of task events. Dropped counts the events
// the reporter dropped (its buffer was full) since its previous batch.
// The GCS keeps events in memory only and merges them idempotently, so a
// resent batch changes nothing. Reply: empty.
type AddTaskEvents struct {
	Hdr     Hdr
	Events  []TaskEvent
	Dropped uint64
}

// ListTasks lists the tasks the GCS knows, oldest first, filtered by
// every non-zero field, at most Limit of them (0: ListTasksMax) and at
// most about ListTasksBytesMax. Reply: Tasks, and TasksTotal counts all
// matches before the limit.
type ListTasks struct {
	Hdr   Hdr
	State TaskState
	Job   core.JobID
	Name  string
	Node  core.NodeID
	Limit int
}

// Validate implements core.Validator.
func (m *AddTaskEvents) Validate() error {
	if err := m.Hdr.validate(); err != nil {
		return err
	}
	if len(m.Events) > TaskEventsPerBatchMax {
		return fmt.Errorf("%d task events, limit %d", len(m.Events), TaskEventsPerBatchMax)
	}
	for i := range m.Events {
		if err := m.Events[i].validate(); err != nil {
			return fmt.Errorf("event %d: %w", i, err)
		}
	}
	return nil
}

// Validate implements core.Validator.
func (m *ListTasks) Validate() error {
	err := m.Hdr.validate()
	switch {
	case err != nil:
	case m.State >= numTaskStates:
		err = fmt.Errorf("unknown task state %d", m.State)
	case len(m.Name) > NameSizeMax:
		err = fmt.Errorf("task name of %d bytes, limit %d", len(m.Name), NameSizeMax)
	case m.Limit < 0 || m.Limit > ListTasksMax:
		err = fmt.Errorf("limit %d, want 0..%d", m.Limit, ListTasksMax)
	}
	return err
}

// TaskAttempt is one attempt of a task as the GCS merged its events.
type TaskAttempt struct {
	_msgpack  struct{} `msgpack:",omitempty"`
	Attempt   uint32
	State     TaskState
	Node      core.NodeID
	Worker    core.Addr
	ErrorKind string
	Error     string
	// StartTime is when it started RUNNING, EndTime when it finished or
	// failed; Unix nanoseconds, 0 if not (yet).
	StartTime int64
	EndTime   int64
}

// TaskInfo is the GCS's record of a task: its latest attempt's state and
// every attempt it heard of, oldest first.
type TaskInfo struct {
	_msgpack struct{} `msgpack:",omitempty"`
	ID       core.TaskID
	Job      core.JobID
	Name     string
	// SubmitTime is the first event's time (Unix nanoseconds).
	SubmitTime int64
	Attempts   []TaskAttempt
}

// size estimates the task's encoded size in bytes.
func (t *TaskInfo) size() int {
	n := 64 + len(t.Name)
	for _, a := range t.Attempts {
		n += 64 + len(a.Worker) + len(a.ErrorKind) + len(a.Error)
	}
	return n
}

// Latest returns the task's latest attempt.
func (t *TaskInfo) Latest() TaskAttempt {
	if len(t.Attempts) == 0 {
		return TaskAttempt{}
	}
	return t.Attempts[len(t.Attempts)-1]
}

// TaskStats counts what the GCS's task table saw since the GCS started.
type TaskStats struct {
	// Events counts the events received; DroppedAtSource the events
	// reporters dropped from full buffers; Evicted the tasks removed from
	// the table to respect Config.TasksMax.
	Events, DroppedAtSource, Evicted uint64
	// Submitted counts tasks first heard of; Retries attempts after a
	// task's first; Finished and Failed attempts that ended so.
	Submitted, Retries, Finished, Failed uint64
	// Tasks is the table's size now, and ByState the tasks whose latest
	// attempt is in each state, indexed by TaskState.
	Tasks   int
	ByState [numTaskStates]int
}
