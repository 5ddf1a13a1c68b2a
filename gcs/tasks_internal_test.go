package gcs

import (
	"strings"
	"testing"

	"github.com/grayrt/gray/core"
)

// TestListTasksByteLimit fills the table with failed tasks carrying the
// longest errors: a reply of all of them would pass ListTasksBytesMax, so
// it is cut, and TasksTotal still counts every match.
func TestListTasksByteLimit(t *testing.T) {
	s := NewServer(Config{TasksMax: ListTasksMax})
	s.tasks = newTaskTable()
	job := core.JobIDFromInt(1)
	msg := strings.Repeat("e", TaskErrorSizeMax)
	for b := range ListTasksMax / TaskEventsPerBatchMax {
		evs := make([]TaskEvent, 0, TaskEventsPerBatchMax)
		for i := range TaskEventsPerBatchMax {
			id := core.NewTaskID(job, core.DriverTaskID(job), uint64(b*TaskEventsPerBatchMax+i+1))
			evs = append(evs, TaskEvent{Task: id, Job: job, Name: "f", State: TaskFailed, ErrorKind: "task failed", Error: msg})
		}
		s.addTaskEvents(&AddTaskEvents{Events: evs})
	}
	tasks, total := s.Tasks(ListTasks{})
	if total != ListTasksMax {
		t.Fatalf("TasksTotal = %d, want %d", total, ListTasksMax)
	}
	size := 0
	for i := range tasks {
		size += tasks[i].size()
	}
	if len(tasks) == total || size > ListTasksBytesMax || size < ListTasksBytesMax-4*TaskErrorSizeMax {
		t.Errorf("reply of %d tasks, ~%d bytes; want it cut just below %d bytes", len(tasks), size, ListTasksBytesMax)
	}
	if few, _ := s.Tasks(ListTasks{Limit: 10}); len(few) != 10 {
		t.Errorf("Limit 10 gave %d tasks", len(few))
	}
}
