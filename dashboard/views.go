package dashboard

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/gcs"
)

// The JSON records of the state API. Field names follow Ray's state API
// where Ray has the field; times are Unix milliseconds.

// NodeView is a node as /api/v0/nodes returns it.
type NodeView struct {
	NodeID     string             `json:"node_id"`
	State      string             `json:"state"`
	Address    string             `json:"node_ip"`
	Total      map[string]float64 `json:"resources_total"`
	Available  map[string]float64 `json:"resources_available"`
	Labels     map[string]string  `json:"labels,omitempty"`
	DeathCause string             `json:"death_cause,omitempty"`
	// Demand is the work queued at the node's raylet, by shape.
	Demand []DemandView `json:"pending_demand,omitempty"`
}

// DemandView is one shape of queued work on a node.
type DemandView struct {
	Resources  map[string]float64 `json:"resources"`
	Count      int64              `json:"count"`
	Infeasible bool               `json:"infeasible,omitempty"`
	Reason     string             `json:"reason,omitempty"`
}

// ActorView is an actor as /api/v0/actors returns it.
type ActorView struct {
	ActorID     string `json:"actor_id"`
	State       string `json:"state"`
	JobID       string `json:"job_id"`
	Namespace   string `json:"ray_namespace"`
	Name        string `json:"name"`
	NodeID      string `json:"node_id,omitempty"`
	Address     string `json:"address,omitempty"`
	NumRestarts int64  `json:"num_restarts"`
	MaxRestarts int64  `json:"max_restarts"`
	DeathCause  string `json:"death_cause,omitempty"`
}

// JobView is a job as /api/v0/jobs returns it.
type JobView struct {
	JobID     string `json:"job_id"`
	Status    string `json:"status"`
	Driver    string `json:"driver_address"`
	StartTime int64  `json:"start_time"`
	EndTime   int64  `json:"end_time,omitempty"`
}

// TaskView is a task as /api/v0/tasks returns it: its latest attempt.
type TaskView struct {
	TaskID       string `json:"task_id"`
	Name         string `json:"name"`
	JobID        string `json:"job_id"`
	State        string `json:"state"`
	Attempt      uint32 `json:"attempt_number"`
	NodeID       string `json:"node_id,omitempty"`
	Worker       string `json:"worker_address,omitempty"`
	ErrorType    string `json:"error_type,omitempty"`
	ErrorMessage string `json:"error_message,omitempty"`
	SubmitTime   int64  `json:"creation_time_ms"`
	StartTime    int64  `json:"start_time_ms,omitempty"`
	EndTime      int64  `json:"end_time_ms,omitempty"`
}

func resources(r core.Resources) map[string]float64 {
	m := make(map[string]float64, len(r))
	for _, e := range r {
		m[e.Name] = float64(e.Amount) / core.QuantityScale
	}
	return m
}

func nodeID(n core.NodeID) string {
	if n.IsNil() {
		return ""
	}
	return hex.EncodeToString(n[:])
}

func viewNode(n gcs.NodeInfo) NodeView {
	v := NodeView{NodeID: nodeID(n.ID), State: n.State.String(), Address: string(n.Addr),
		Total: resources(n.Resources), Available: resources(n.Available), Labels: n.Labels.Map(), DeathCause: n.DeathCause}
	for _, d := range n.Demand {
		v.Demand = append(v.Demand, DemandView{Resources: resources(d.Resources), Count: d.Count, Infeasible: d.Infeasible, Reason: d.Reason})
	}
	return v
}

func viewActor(a gcs.ActorInfo) ActorView {
	return ActorView{ActorID: hex.EncodeToString(a.ID[:]), State: a.State.String(), JobID: hex.EncodeToString(a.Job[:]),
		Namespace: a.Namespace, Name: a.Name, NodeID: nodeID(a.Node), Address: string(a.Addr),
		NumRestarts: a.NumRestarts, MaxRestarts: a.MaxRestarts, DeathCause: a.DeathCause}
}

func viewJob(j gcs.JobInfo) JobView {
	status := "RUNNING"
	if j.Finished {
		status = "SUCCEEDED"
	}
	return JobView{JobID: hex.EncodeToString(j.ID[:]), Status: status, Driver: string(j.DriverAddr),
		StartTime: j.StartTime / 1e6, EndTime: j.EndTime / 1e6}
}

func viewTask(t gcs.TaskInfo) TaskView {
	l := t.Latest()
	return TaskView{TaskID: hex.EncodeToString(t.ID[:]), Name: t.Name, JobID: hex.EncodeToString(t.Job[:]),
		State: l.State.String(), Attempt: l.Attempt, NodeID: nodeID(l.Node), Worker: string(l.Worker),
		ErrorType: l.ErrorKind, ErrorMessage: l.Error,
		SubmitTime: t.SubmitTime / 1e6, StartTime: l.StartTime / 1e6, EndTime: l.EndTime / 1e6}
}

// parseJob reads a job id as the API prints it (hex), with or without
// core's "job:" prefix, or as a decimal job number.
func parseJob(s string) (core.JobID, error) {
	s = strings.TrimPrefix(s, "job:")
	var j core.JobID
	if n, err := strconv.ParseUint(s, 10, 32); err == nil && len(s) < 2*len(j) {
		return core.JobIDFromInt(uint32(n)), nil
	}
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(j) {
		return j, fmt.Errorf("job %q: want %d hex digits or a job number", s, 2*len(j))
	}
	copy(j[:], b)
	return j, nil
}
