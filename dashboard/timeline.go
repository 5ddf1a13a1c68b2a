package dashboard

import (
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/gcs"
)

// Timeline writes the execution of tasks in the Chrome trace-event JSON
// format (Perfetto at ui.perfetto.dev and chrome://tracing load it), as
// Ray's `ray timeline`: one process per node and one thread (track) per
// worker, with a complete event ("X") for every attempt that started
// running, from its start to its end, or to now for an attempt still
// running. Attempts that never ran (still pending, or failed before a
// worker took them) have no slice. Args carry the task id, attempt,
// state and error.
func Timeline(w io.Writer, tasks []gcs.TaskInfo, now time.Time) error {
	type event struct {
		Name string         `json:"name"`
		Cat  string         `json:"cat,omitempty"`
		Ph   string         `json:"ph"`
		Ts   float64        `json:"ts"`
		Dur  float64        `json:"dur,omitempty"`
		Pid  int            `json:"pid"`
		Tid  int            `json:"tid"`
		Args map[string]any `json:"args,omitempty"`
	}
	pids := map[core.NodeID]int{}
	type track struct {
		pid    int
		worker core.Addr
	}
	tids := map[track]int{}
	var meta, spans []event
	for _, t := range tasks {
		for _, a := range t.Attempts {
			if a.StartTime == 0 {
				continue
			}
			pid, ok := pids[a.Node]
			if !ok {
				pid = len(pids) + 1
				pids[a.Node] = pid
				meta = append(meta, event{Name: "process_name", Ph: "M", Pid: pid, Args: map[string]any{"name": "node " + nodeID(a.Node)}})
			}
			tr := track{pid, a.Worker}
			tid, ok := tids[tr]
			if !ok {
				tid = len(tids) + 1
				tids[tr] = tid
				meta = append(meta, event{Name: "thread_name", Ph: "M", Pid: pid, Tid: tid, Args: map[string]any{"name": "worker " + string(a.Worker)}})
			}
			end := a.EndTime
			if end == 0 {
				end = now.UnixNano()
			}
			args := map[string]any{"task_id": hex.EncodeToString(t.ID[:]), "attempt": a.Attempt, "state": a.State.String(),
				"job_id": hex.EncodeToString(t.Job[:])}
			if a.ErrorKind != "" {
				args["error_type"], args["error_message"] = a.ErrorKind, a.Error
			}
			spans = append(spans, event{Name: t.Name, Cat: "task", Ph: "X", Ts: float64(a.StartTime) / 1e3,
				Dur: max(float64(end-a.StartTime)/1e3, 1), Pid: pid, Tid: tid, Args: args})
		}
	}
	slices.SortStableFunc(spans, func(a, b event) int {
		switch {
		case a.Ts < b.Ts:
			return -1
		case a.Ts > b.Ts:
			return 1
		}
		return 0
	})
	out := struct {
		TraceEvents     []event `json:"traceEvents"`
		DisplayTimeUnit string  `json:"displayTimeUnit"`
	}{append(meta, spans...), "ms"}
	if out.TraceEvents == nil {
		out.TraceEvents = []event{}
	}
	return json.NewEncoder(w).Encode(out)
}

// handleTimeline serves /api/v0/timeline: the Chrome trace of every task
// in the GCS's task table, as a download.
func (s *Server) handleTimeline(w http.ResponseWriter, r *http.Request) {
	var tasks []gcs.TaskInfo
	if err := s.readGCS(r.Context(), func(g *gcs.Server) { tasks, _ = g.Tasks(gcs.ListTasks{}) }); err != nil {
		writeError(w, http.StatusServiceUnavailable, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", `attachment; filename="gray-timeline.json"`)
	_ = Timeline(w, tasks, time.Now()) // a failed write means the client left
}
