package dashboard

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
	"github.com/grayrt/gray/gcs"
)

// Ray's job REST API (/api/jobs/, the routes of Ray's job_head.py) over
// the GCS's submitted jobs (gcs/submissions.go): list, get, logs, stop,
// delete and submit. Unlike the state API, answers are bare JSON as
// Ray's are; failures are the state API's {"result": false, "msg": …}
// with an HTTP error status. Reads go to the GCS's tables on its loop;
// changes are GCS requests made through Source.Call.

func (s *Server) jobRoutes(mux *http.ServeMux) {
	for _, p := range []string{"/api/jobs", "/api/jobs/{$}"} {
		mux.HandleFunc("GET "+p, s.handleListSubmissions)
		mux.HandleFunc("POST "+p, s.needsToken(s.handleSubmit))
	}
	mux.HandleFunc("GET /api/jobs/{id}", s.handleGetSubmission)
	mux.HandleFunc("GET /api/jobs/{id}/logs", s.handleSubmissionLogs)
	mux.HandleFunc("POST /api/jobs/{id}/stop", s.needsToken(s.handleStopSubmission))
	mux.HandleFunc("DELETE /api/jobs/{id}", s.needsToken(s.handleDeleteSubmission))
	mux.HandleFunc("GET /api/packages/{hash}", s.handleGetPackage)
	mux.HandleFunc("PUT /api/packages/{hash}", s.needsToken(s.handlePutPackage))
}

// needsToken refuses a route that runs code or changes state on a
// dashboard without a token: its address may be reachable by other
// users of the host (loopback is), and they must not run programs on
// the cluster. The token itself is checked by auth.
func (s *Server) needsToken(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.opts.Token == "" {
			writeError(w, http.StatusForbidden, errors.New("dashboard: submitting, stopping and deleting jobs and staging packages need a dashboard token: start the head with grayd --dashboard-token FILE (or use the gray CLI, which the cluster secret authorizes)"))
			return
		}
		h(w, r)
	}
}

const (
	// callTimeout bounds each GCS call the dashboard makes; the client's
	// own deadline usually ends it first.
	callTimeout = time.Minute
	// submitBodyMax bounds a submit request's body: its parts are
	// bounded far below (proto.DriverArgsMax, proto.DriverEnvMax,
	// gcs.SubmissionMetadataMax).
	submitBodyMax = 1 << 20
	// defaultStopGrace is how long a stop waits between SIGTERM and
	// SIGKILL when the submitter does not say: Ray's default, as gray
	// job submit's.
	defaultStopGrace = 3 * time.Second
	// driverLogMax bounds the driver log /api/jobs/{id}/logs returns: its
	// last bytes.
	driverLogMax = 1 << 20
)

var errNoCall = errors.New("dashboard: this head cannot make GCS calls; use the gray CLI")

// writeBare writes v as JSON without the state API's envelope.
func writeBare(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v) // a failed write means the client left
}

// call makes one GCS call through Source.Call, within callTimeout.
func (s *Server) call(ctx context.Context, start func(c *gcs.Client, cb func(gcs.Reply, error))) (gcs.Reply, error) {
	if s.opts.Source.Call == nil {
		return gcs.Reply{}, errNoCall
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	return s.opts.Source.Call(ctx, start)
}

// writeCallError answers a failed GCS call: the GCS's own message with
// the status its code means.
func writeCallError(w http.ResponseWriter, what string, err error) {
	var re *rpc.Error
	switch {
	case errors.Is(err, errNoCall):
		writeError(w, http.StatusNotImplemented, err)
	case errors.As(err, &re) && re.Code == rpc.CodeNotFound:
		writeError(w, http.StatusNotFound, errors.New(re.Msg))
	case errors.As(err, &re) && re.Code == rpc.CodeConflict:
		writeError(w, http.StatusConflict, errors.New(re.Msg))
	case errors.As(err, &re) && (re.Code == rpc.CodeInvalid || re.Code == rpc.CodeFailedPrecondition):
		writeError(w, http.StatusBadRequest, errors.New(re.Msg))
	case errors.Is(err, gcs.ErrTimeout) || errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusGatewayTimeout, fmt.Errorf("%s: the GCS did not answer in time; the outcome is unknown (read the job before retrying): %w", what, err))
	default:
		writeError(w, http.StatusServiceUnavailable, fmt.Errorf("%s: %w", what, err))
	}
}

// submissionID reads the path's {id}; it answers 400 and returns false
// when the id is malformed.
func submissionID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("id")
	if err := proto.ValidSubmissionID(id); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return "", false
	}
	return id, true
}

// submission reads one submitted job and, if it has one, its node.
// submission reads the job the request's path names and its node's
// record (if it has a node), or answers the request with the error.
func (s *Server) submission(w http.ResponseWriter, r *http.Request) (j gcs.JobSubmission, node gcs.NodeInfo, ok bool) {
	id, ok := submissionID(w, r)
	if !ok {
		return j, node, false
	}
	found := false
	err := s.readGCS(r.Context(), func(g *gcs.Server) {
		if j, found = g.Submission(id); found && !j.Node.IsNil() {
			node, _ = g.Node(j.Node)
		}
	})
	switch {
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, err)
		return j, node, false
	case !found:
		writeError(w, http.StatusNotFound, fmt.Errorf("no job %s", id))
		return j, node, false
	}
	return j, node, true
}

func (s *Server) handleListSubmissions(w http.ResponseWriter, r *http.Request) {
	var subs []gcs.JobSubmission
	if err := s.readGCS(r.Context(), func(g *gcs.Server) { subs = g.Submissions() }); err != nil {
		writeError(w, http.StatusServiceUnavailable, err)
		return
	}
	out := make([]SubmissionView, 0, len(subs))
	for _, j := range subs {
		out = append(out, ViewSubmission(j))
	}
	writeBare(w, out)
}

func (s *Server) handleGetSubmission(w http.ResponseWriter, r *http.Request) {
	if j, _, ok := s.submission(w, r); ok {
		writeBare(w, ViewSubmission(j))
	}
}

// StopReply is POST /api/jobs/{id}/stop's answer, as Ray's.
type StopReply struct {
	// Stopped is false when the job had already ended.
	Stopped bool `json:"stopped"`
}

func (s *Server) handleStopSubmission(w http.ResponseWriter, r *http.Request) {
	before, _, ok := s.submission(w, r)
	switch {
	case !ok:
		return
	case before.State.Terminal():
		writeBare(w, StopReply{Stopped: false})
		return
	}
	id := before.ID()
	rep, err := s.call(r.Context(), func(c *gcs.Client, cb func(gcs.Reply, error)) { c.StopJob(id, cb) })
	if err != nil {
		writeCallError(w, "stopping job "+id, err)
		return
	}
	// The stop took unless the job ended on its own meanwhile.
	after := rep.Submissions[0]
	writeBare(w, StopReply{Stopped: after.StopRequested || after.State == gcs.SubmissionStopped})
}

// DeleteReply is DELETE /api/jobs/{id}'s answer, as Ray's.
type DeleteReply struct {
	Deleted bool `json:"deleted"`
}

func (s *Server) handleDeleteSubmission(w http.ResponseWriter, r *http.Request) {
	id, ok := submissionID(w, r)
	if !ok {
		return
	}
	if _, err := s.call(r.Context(), func(c *gcs.Client, cb func(gcs.Reply, error)) { c.DeleteJob(id, cb) }); err != nil {
		writeCallError(w, "deleting job "+id, err)
		return
	}
	writeBare(w, DeleteReply{Deleted: true})
}

// SubmitRequest is the body of POST /api/jobs/: Ray's JobSubmitRequest
// with gray's runtime_env and stop grace. Unknown fields are refused, as
// Ray refuses them.
type SubmitRequest struct {
	// Entrypoint is split into arguments on white space (no shell, no
	// quoting); its first word only names the program in listings: what
	// runs is RuntimeEnv.Binary.
	Entrypoint   string `json:"entrypoint"`
	SubmissionID string `json:"submission_id,omitempty"`
	// JobID is Ray's deprecated name of SubmissionID.
	JobID      string            `json:"job_id,omitempty"`
	RuntimeEnv map[string]any    `json:"runtime_env,omitempty"`
	Metadata   map[string]string `json:"metadata,omitempty"`
	// NumCPUs, NumGPUs and Memory (bytes) add CPU, GPU and memory to
	// Resources, as Ray's.
	NumCPUs   *float64           `json:"entrypoint_num_cpus,omitempty"`
	NumGPUs   *float64           `json:"entrypoint_num_gpus,omitempty"`
	Memory    *float64           `json:"entrypoint_memory,omitempty"`
	Resources map[string]float64 `json:"entrypoint_resources,omitempty"`
	// StopGraceS is how long a stop waits between SIGTERM and SIGKILL, in
	// seconds (default 3).
	StopGraceS *float64 `json:"stop_grace_s,omitempty"`
}

// SubmitReply is POST /api/jobs/'s answer, as Ray's JobSubmitResponse.
type SubmitReply struct {
	SubmissionID string `json:"submission_id"`
	// JobID repeats SubmissionID, as Ray's deprecated field does (Ray's
	// client expects it).
	JobID string `json:"job_id"`
}

func (s *Server) handleSubmit(w http.ResponseWriter, r *http.Request) {
	if s.opts.Source.Call == nil {
		writeError(w, http.StatusNotImplemented, errNoCall)
		return
	}
	var req SubmitRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, submitBodyMax))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("the body is no job submission (JSON with entrypoint and runtime_env.binary): %w", err))
		return
	}
	sub, err := submissionOf(req)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	if err := s.checkStaged(r.Context(), sub.Spec); err != nil {
		var bad badRequest
		code := http.StatusServiceUnavailable
		if errors.As(err, &bad) {
			code = http.StatusBadRequest
		}
		writeError(w, code, err)
		return
	}
	rep, err := s.call(r.Context(), func(c *gcs.Client, cb func(gcs.Reply, error)) { c.SubmitJob(sub, cb) })
	if err != nil {
		writeCallError(w, "submitting job "+sub.ID(), err)
		return
	}
	id := rep.Submissions[0].ID()
	writeBare(w, SubmitReply{SubmissionID: id, JobID: id})
}

// badRequest marks an error that is the client's.
type badRequest struct{ error }

func (b badRequest) Unwrap() error { return b.error }

// submissionOf turns a submit request into the GCS's record, checking
// what the GCS would refuse.
func submissionOf(req SubmitRequest) (gcs.JobSubmission, error) {
	var j gcs.JobSubmission
	spec := &j.Spec
	spec.Args = strings.Fields(req.Entrypoint)
	if len(spec.Args) == 0 {
		return j, errors.New("entrypoint is empty: give the program's name and its arguments, e.g. \"train --epochs 3\"")
	}
	spec.ID = req.SubmissionID
	switch {
	case spec.ID == "":
		spec.ID = req.JobID
	case req.JobID != "" && req.JobID != spec.ID:
		return j, fmt.Errorf("submission_id %q and job_id %q differ: job_id is its deprecated name; give one", spec.ID, req.JobID)
	}
	if spec.ID == "" {
		var b [8]byte
		_, _ = rand.Read(b[:]) // never fails
		spec.ID = "graysubmit_" + hex.EncodeToString(b[:])
	}
	if err := proto.ValidSubmissionID(spec.ID); err != nil {
		return j, err
	}
	if err := runtimeEnv(spec, req.RuntimeEnv); err != nil {
		return j, err
	}
	var err error
	if j.Resources, err = entrypointResources(req); err != nil {
		return j, err
	}
	j.Metadata = req.Metadata
	j.StopGrace = defaultStopGrace
	if g := req.StopGraceS; g != nil {
		if !(*g >= 0 && *g <= proto.StopGraceMax.Seconds()) {
			return j, fmt.Errorf("stop_grace_s %v: want 0 to %v seconds", *g, proto.StopGraceMax.Seconds())
		}
		j.StopGrace = time.Duration(*g * float64(time.Second))
	}
	if err := spec.Validate(); err != nil {
		return j, err
	}
	return j, nil
}

// runtimeEnv reads gray's runtime_env: binary (required), working_dir
// and env_vars; Ray's other keys (pip, conda, py_modules, …) are refused.
func runtimeEnv(spec *proto.DriverSpec, env map[string]any) error {
	keys := make([]string, 0, len(env))
	for k := range env { //gray:unordered sorted right after the loop
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := env[k]
		switch k {
		case "binary", "working_dir":
			h, ok := v.(string)
			if !ok || !proto.ValidHash(h) {
				return fmt.Errorf("runtime_env.%s %v: want the SHA-256 (64 lowercase hex digits) of a file staged with PUT /api/packages/SHA256", k, v)
			}
			if k == "binary" {
				spec.Binary = h
			} else {
				spec.WorkingDir = h
			}
		case "env_vars":
			vars, ok := v.(map[string]any)
			if !ok {
				return fmt.Errorf("runtime_env.env_vars: want an object of strings, got %T", v)
			}
			names := make([]string, 0, len(vars))
			for name := range vars { //gray:unordered sorted right after the loop
				names = append(names, name)
			}
			slices.Sort(names)
			for _, name := range names {
				val, ok := vars[name].(string)
				if !ok || name == "" || strings.ContainsAny(name, "=\x00") || strings.ContainsRune(val, 0) {
					return fmt.Errorf("runtime_env.env_vars[%q]: want a name without '=' and a string value", name)
				}
				spec.Env = append(spec.Env, name+"="+val)
			}
		default:
			return fmt.Errorf("runtime_env.%s: gray does not support it; a job's runtime_env takes binary, working_dir and env_vars", k)
		}
	}
	if spec.Binary == "" {
		return errors.New("runtime_env.binary is required: the SHA-256 of the program, staged with PUT /api/packages/SHA256")
	}
	return nil
}

// entrypointResources adds Ray's entrypoint_num_cpus, _num_gpus and
// _memory to entrypoint_resources.
func entrypointResources(req SubmitRequest) (core.Resources, error) {
	amounts := make(map[string]float64, len(req.Resources)+3)
	for name, v := range req.Resources { //gray:unordered copied into a map
		amounts[name] = v
	}
	for _, e := range []struct {
		field, name string
		v           *float64
	}{{"entrypoint_num_cpus", core.CPU, req.NumCPUs}, {"entrypoint_num_gpus", core.GPU, req.NumGPUs}, {"entrypoint_memory", core.Memory, req.Memory}} {
		if e.v == nil {
			continue
		}
		if _, dup := amounts[e.name]; dup {
			return nil, fmt.Errorf("%s and entrypoint_resources[%q] are both set: give one", e.field, e.name)
		}
		amounts[e.name] = *e.v
	}
	names := make([]string, 0, len(amounts))
	for name := range amounts { //gray:unordered sorted right after the loop
		names = append(names, name)
	}
	slices.Sort(names)
	q := make(map[string]core.Quantity, len(amounts))
	for _, name := range names {
		v := amounts[name]
		scaled := v * core.QuantityScale
		units := math.Round(scaled)
		switch {
		case name == "":
			return nil, errors.New("entrypoint_resources: a resource without a name")
		case !(v >= 0) || scaled > math.MaxInt64/2:
			return nil, fmt.Errorf("entrypoint resource %s = %v: want a non-negative amount", name, v)
		case math.Abs(scaled-units) > 1e-3:
			return nil, fmt.Errorf("entrypoint resource %s = %v: amounts are counted in steps of %v", name, v, 1.0/core.QuantityScale)
		}
		q[name] = core.Quantity(units)
	}
	return core.NewResources(q)
}
