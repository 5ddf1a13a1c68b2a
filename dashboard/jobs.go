package dashboard

import (
	"strings"

	"github.com/grayrt/gray/gcs"
)

// SubmissionView is a submitted job as Ray's job REST API (/api/jobs/)
// returns it, with Ray's field names where the concepts match; times are
// Unix milliseconds. The CLI's `gray job list --json` prints the same.
type SubmissionView struct {
	Type          string             `json:"type"` // always "SUBMISSION"
	SubmissionID  string             `json:"submission_id"`
	JobID         string             `json:"job_id,omitempty"` // the driver's first registered job
	JobIDs        []string           `json:"job_ids,omitempty"`
	Status        string             `json:"status"`
	Entrypoint    string             `json:"entrypoint"`
	Message       string             `json:"message,omitempty"`
	ErrorType     string             `json:"error_type,omitempty"`
	StartTime     int64              `json:"start_time,omitempty"`
	EndTime       int64              `json:"end_time,omitempty"`
	SubmitTime    int64              `json:"submit_time"`
	Metadata      map[string]string  `json:"metadata,omitempty"`
	RuntimeEnv    map[string]any     `json:"runtime_env,omitempty"`
	Resources     map[string]float64 `json:"entrypoint_resources,omitempty"`
	NodeID        string             `json:"driver_node_id,omitempty"`
	ExitCode      *int32             `json:"driver_exit_code,omitempty"`
	StopRequested bool               `json:"stop_requested,omitempty"`
}

// ViewSubmission renders a submitted job's record.
func ViewSubmission(j gcs.JobSubmission) SubmissionView {
	v := SubmissionView{Type: "SUBMISSION", SubmissionID: j.ID(), Status: j.State.String(),
		Entrypoint: strings.Join(j.Spec.Args, " "), Message: j.Message,
		StartTime: ms(j.StartTime), EndTime: ms(j.EndTime), SubmitTime: ms(j.SubmitTime),
		Metadata: j.Metadata, StopRequested: j.StopRequested && !j.State.Terminal()}
	for _, id := range j.Jobs {
		v.JobIDs = append(v.JobIDs, id.String())
	}
	if len(v.JobIDs) > 0 {
		v.JobID = v.JobIDs[0]
	}
	if j.State == gcs.SubmissionFailed {
		v.ErrorType = "JOB_FAILED"
		if !j.Exited {
			v.ErrorType = "JOB_SUPERVISOR_FAILED"
		}
	}
	env := map[string]any{"binary": j.Spec.Binary}
	if j.Spec.WorkingDir != "" {
		env["working_dir"] = j.Spec.WorkingDir
	}
	if len(j.Spec.Env) > 0 {
		// Names only: values often hold credentials.
		names := make([]string, 0, len(j.Spec.Env))
		for _, e := range j.Spec.Env {
			k, _, _ := strings.Cut(e, "=")
			names = append(names, k)
		}
		env["env_var_names"] = names
	}
	v.RuntimeEnv = env
	if !j.Resources.IsEmpty() {
		v.Resources = resources(j.Resources)
	}
	if !j.Node.IsNil() {
		v.NodeID = nodeID(j.Node)
	}
	if j.Exited {
		c := j.ExitCode
		v.ExitCode = &c
	}
	return v
}

// ms converts Unix nanoseconds to milliseconds (0 stays 0).
func ms(ns int64) int64 { return ns / 1e6 }
