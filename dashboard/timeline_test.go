package dashboard

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/gcs"
)

func TestTimeline(t *testing.T) {
	job := core.JobIDFromInt(1)
	id := func(i uint64) core.TaskID { return core.NewTaskID(job, core.DriverTaskID(job), i) }
	n1, n2 := core.NodeID{1}, core.NodeID{2}
	tasks := []gcs.TaskInfo{
		{ID: id(1), Job: job, Name: "f", Attempts: []gcs.TaskAttempt{
			{Attempt: 0, State: gcs.TaskFailed, Node: n1, Worker: "w1", StartTime: 1000, EndTime: 5000, ErrorKind: "worker died", Error: "x"},
			{Attempt: 1, State: gcs.TaskFinished, Node: n2, Worker: "w2", StartTime: 6000, EndTime: 9000},
		}},
		{ID: id(2), Job: job, Name: "g", Attempts: []gcs.TaskAttempt{{State: gcs.TaskRunning, Node: n1, Worker: "w1", StartTime: 2000}}},
		{ID: id(3), Job: job, Name: "pending", Attempts: []gcs.TaskAttempt{{State: gcs.TaskPendingNode}}},
	}
	var b bytes.Buffer
	if err := Timeline(&b, tasks, time.Unix(0, 12000)); err != nil {
		t.Fatal(err)
	}
	var got struct {
		TraceEvents []struct {
			Name string         `json:"name"`
			Ph   string         `json:"ph"`
			Ts   float64        `json:"ts"`
			Dur  float64        `json:"dur"`
			Pid  int            `json:"pid"`
			Tid  int            `json:"tid"`
			Args map[string]any `json:"args"`
		} `json:"traceEvents"`
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("Timeline wrote invalid JSON: %v\n%s", err, b.String())
	}
	var spans []string
	tracks := map[[2]int]bool{}
	for _, e := range got.TraceEvents {
		if e.Ph == "X" {
			spans = append(spans, e.Name)
			tracks[[2]int{e.Pid, e.Tid}] = true
		}
	}
	// Sorted by start: f (1µs), g (2µs, running until now), f's retry (6µs).
	if want := []string{"f", "g", "f"}; len(spans) != 3 || spans[0] != want[0] || spans[1] != want[1] || spans[2] != want[2] {
		t.Errorf("Timeline spans = %v, want %v", spans, want)
	}
	if len(tracks) != 2 {
		t.Errorf("Timeline used %d tracks, want 2 (one per worker)", len(tracks))
	}
	for _, e := range got.TraceEvents {
		if e.Name == "g" && e.Dur != 10 {
			t.Errorf("running task g lasts %vµs, want 10 (until now)", e.Dur)
		}
	}
}
