package gcs

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
)

// Submitted jobs (Ray's job submission): a client submits a job (a
// staged binary, its arguments and environment, the resources its
// driver needs) and may go away; the GCS keeps the record, picks a node
// and has that node's raylet run the driver (proto.StartDriver, resent
// until the raylet reports), and follows the driver's state as its
// raylet reports it. A stop is recorded and sent to the raylet
// (proto.StopDriver) until the driver ended. When the node supervising a
// driver dies, its job fails, started or not: a driver never runs twice
// (the node may only be cut off, its driver still running). Once a
// submission ends, the numeric jobs its driver
// registered are finished (their non-detached actors and groups die with
// them), even when the driver was killed before it could say so.
//
// States: PENDING → RUNNING → SUCCEEDED | FAILED | STOPPED, and PENDING →
// FAILED | STOPPED; the last three are final.

// SubmissionState is the state of a submitted job.
type SubmissionState uint8

// Submission states, as Ray's JobStatus.
const (
	SubmissionPending SubmissionState = iota + 1
	SubmissionRunning
	SubmissionSucceeded
	SubmissionFailed
	SubmissionStopped
)

var submissionStateNames = [...]string{SubmissionPending: "PENDING", SubmissionRunning: "RUNNING",
	SubmissionSucceeded: "SUCCEEDED", SubmissionFailed: "FAILED", SubmissionStopped: "STOPPED"}

// String returns the state's name as Ray spells it.
func (s SubmissionState) String() string {
	if s >= SubmissionPending && s <= SubmissionStopped {
		return submissionStateNames[s]
	}
	return fmt.Sprintf("SubmissionState(%d)", uint8(s))
}

// Terminal reports whether s is final.
func (s SubmissionState) Terminal() bool { return s >= SubmissionSucceeded && s <= SubmissionStopped }

// Valid reports whether s is a known state.
func (s SubmissionState) Valid() bool { return s >= SubmissionPending && s <= SubmissionStopped }

// ParseSubmissionState parses a state name (any case).
func ParseSubmissionState(name string) (SubmissionState, bool) {
	for s := SubmissionPending; s <= SubmissionStopped; s++ {
		if strings.EqualFold(name, s.String()) {
			return s, true
		}
	}
	return 0, false
}

// Bounds of a submission.
const (
	// SubmissionMessageMax bounds a submission's message.
	SubmissionMessageMax = 4 << 10
	// SubmissionMetadataMax bounds a submission's metadata (all entries).
	SubmissionMetadataMax = 16 << 10
	// SubmissionsMax bounds the table: submitting more fails with
	// FailedPrecondition until old ones are deleted.
	SubmissionsMax = 10_000
)

// JobSubmission is a submitted job's record.
type JobSubmission struct {
	_msgpack struct{} `msgpack:",omitempty"`
	// Spec is what the driver runs (its ID is the submission id).
	Spec proto.DriverSpec
	// Resources are the entrypoint resources: the driver runs on a node
	// that has them (in total; they are not held while it runs).
	Resources core.Resources
	Metadata  map[string]string
	State     SubmissionState
	// Node is the node chosen to run the driver (nil while none is).
	Node core.NodeID
	// Started: the node reported the driver running (or ended).
	Started bool
	// StopRequested: a stop was asked for; the driver is being stopped.
	StopRequested bool
	// StopGrace is how long a stop waits between SIGTERM and SIGKILL.
	StopGrace time.Duration
	// Jobs are the numeric jobs the driver registered (usually one).
	Jobs []core.JobID
	// Message says why the job is in its state (the failure, or what a
	// PENDING job waits for).
	Message string
	// ExitCode is the driver's exit status once it ended (Exited); -1
	// when killed by a signal.
	ExitCode int32
	Exited   bool
	// SubmitTime, StartTime and EndTime are Unix nanoseconds of the
	// GCS's clock (0 when not yet).
	SubmitTime int64
	StartTime  int64
	EndTime    int64
	// Version increases with every change.
	Version int64
}

// ID returns the submission id.
func (j *JobSubmission) ID() string { return j.Spec.ID }

// SubmitJob adds a job to run. Only Spec, Resources, Metadata and
// StopGrace of Job are taken. A submission id in use fails with
// Conflict. Reply: Submissions (the new record).
type SubmitJob struct {
	Hdr Hdr
	Job JobSubmission
}

// StopJob asks for a job's driver to be stopped: a job whose driver has
// not started is STOPPED at once; a running driver gets SIGTERM, then
// SIGKILL after the job's StopGrace, and the job ends STOPPED. Stopping a
// finished job changes nothing. Reply: Submissions (the record).
type StopJob struct {
	Hdr Hdr
	ID  string
}

// DeleteJob forgets a finished job's record; a job not finished fails
// with FailedPrecondition. Reply: Submissions (the record as it was).
type DeleteJob struct {
	Hdr Hdr
	ID  string
}

// GetJobSubmission reads one record. Reply: Submissions.
type GetJobSubmission struct {
	Hdr Hdr
	ID  string
}

// ListJobSubmissions lists every record, sorted by id. Reply:
// Submissions.
type ListJobSubmissions struct {
	Hdr Hdr
}

// UpdateJobSubmission is a raylet's report about a driver it runs:
// RUNNING once started, then its end (SUCCEEDED, FAILED or STOPPED with
// ExitCode and Message). A report from a node the job is not assigned
// to, or one that contradicts a final state, fails with
// FailedPrecondition: that raylet must stop the driver. Reply:
// Submissions.
type UpdateJobSubmission struct {
	Hdr      Hdr
	ID       string
	Node     core.NodeID
	State    SubmissionState
	ExitCode int32
	Exited   bool
	Message  string
}

// Validate implements core.Validator.
func (m *SubmitJob) Validate() error {
	if err := m.Hdr.validate(); err != nil {
		return err
	}
	j := &m.Job
	if err := j.Spec.Validate(); err != nil {
		return err
	}
	if !j.Resources.Valid() || j.Resources.AnyNegative() {
		return fmt.Errorf("entrypoint resources %v: want none negative", j.Resources)
	}
	if j.StopGrace < 0 || j.StopGrace > proto.StopGraceMax {
		return fmt.Errorf("stop grace %v: want 0 to %v", j.StopGrace, proto.StopGraceMax)
	}
	n := 0
	for k, v := range j.Metadata { //gray:unordered a sum
		n += len(k) + len(v)
	}
	if n > SubmissionMetadataMax {
		return fmt.Errorf("metadata of %d bytes, limit %d", n, SubmissionMetadataMax)
	}
	return nil
}

// Validate implements core.Validator.
func (m *StopJob) Validate() error { return firstErr(m.Hdr.validate(), proto.ValidSubmissionID(m.ID)) }

// Validate implements core.Validator.
func (m *DeleteJob) Validate() error {
	return firstErr(m.Hdr.validate(), proto.ValidSubmissionID(m.ID))
}

// Validate implements core.Validator.
func (m *GetJobSubmission) Validate() error {
	return firstErr(m.Hdr.validate(), proto.ValidSubmissionID(m.ID))
}

// Validate implements core.Validator.
func (m *ListJobSubmissions) Validate() error { return m.Hdr.validate() }

// Validate implements core.Validator.
func (m *UpdateJobSubmission) Validate() error {
	if err := firstErr(m.Hdr.validate(), proto.ValidSubmissionID(m.ID)); err != nil {
		return err
	}
	switch {
	case m.Node.IsNil():
		return errors.New("update without a node")
	case m.State != SubmissionRunning && !m.State.Terminal():
		return fmt.Errorf("update to state %v: want RUNNING or a final state", m.State)
	case len(m.Message) > SubmissionMessageMax:
		return fmt.Errorf("message of %d bytes, limit %d", len(m.Message), SubmissionMessageMax)
	}
	return nil
}

const (
	msgSubmitJob           core.MsgType = 1060
	msgStopJob             core.MsgType = 1061
	msgGetJobSubmission    core.MsgType = 1062
	msgListJobSubmissions  core.MsgType = 1063
	msgUpdateJobSubmission core.MsgType = 1064
	msgDeleteJob           core.MsgType = 1065
)

func (*SubmitJob) MsgType() core.MsgType           { return msgSubmitJob }
func (*StopJob) MsgType() core.MsgType             { return msgStopJob }
func (*DeleteJob) MsgType() core.MsgType           { return msgDeleteJob }
func (*GetJobSubmission) MsgType() core.MsgType    { return msgGetJobSubmission }
func (*ListJobSubmissions) MsgType() core.MsgType  { return msgListJobSubmissions }
func (*UpdateJobSubmission) MsgType() core.MsgType { return msgUpdateJobSubmission }

func (m *SubmitJob) header() Hdr           { return m.Hdr }
func (m *StopJob) header() Hdr             { return m.Hdr }
func (m *DeleteJob) header() Hdr           { return m.Hdr }
func (m *GetJobSubmission) header() Hdr    { return m.Hdr }
func (m *ListJobSubmissions) header() Hdr  { return m.Hdr }
func (m *UpdateJobSubmission) header() Hdr { return m.Hdr }

func (m *SubmitJob) withHeader(h Hdr) request           { c := *m; c.Hdr = h; return &c }
func (m *StopJob) withHeader(h Hdr) request             { c := *m; c.Hdr = h; return &c }
func (m *DeleteJob) withHeader(h Hdr) request           { c := *m; c.Hdr = h; return &c }
func (m *GetJobSubmission) withHeader(h Hdr) request    { c := *m; c.Hdr = h; return &c }
func (m *ListJobSubmissions) withHeader(h Hdr) request  { c := *m; c.Hdr = h; return &c }
func (m *UpdateJobSubmission) withHeader(h Hdr) request { c := *m; c.Hdr = h; return &c }

func init() {
	reg := func(t core.MsgType, name string, f func() core.Message) { core.RegisterMessage(t, 1, "gcs."+name, f) }
	reg(msgSubmitJob, "SubmitJob", func() core.Message { return new(SubmitJob) })
	reg(msgStopJob, "StopJob", func() core.Message { return new(StopJob) })
	reg(msgDeleteJob, "DeleteJob", func() core.Message { return new(DeleteJob) })
	reg(msgGetJobSubmission, "GetJobSubmission", func() core.Message { return new(GetJobSubmission) })
	reg(msgListJobSubmissions, "ListJobSubmissions", func() core.Message { return new(ListJobSubmissions) })
	reg(msgUpdateJobSubmission, "UpdateJobSubmission", func() core.Message { return new(UpdateJobSubmission) })
}

func submissionKey(id string) []byte { return append([]byte{tableSubmission}, id...) }

const (
	// driverRPCTimeout bounds a raylet's answer to StartDriver/StopDriver.
	driverRPCTimeout = 5 * time.Second
	// driverResend is the pause between resends of StartDriver and
	// StopDriver, and between passes over jobs waiting for a node.
	driverResend = time.Second
)

// --- the table ---

// Submissions returns every submitted job, sorted by id.
func (s *Server) Submissions() []JobSubmission {
	out := make([]JobSubmission, 0, len(s.jobSubOrder))
	for _, id := range s.jobSubOrder {
		out = append(out, s.jobSubs[id])
	}
	return out
}

// Submission returns one submitted job's record.
func (s *Server) Submission(id string) (JobSubmission, bool) {
	j, ok := s.jobSubs[id]
	return j, ok
}

func (s *Server) putSubmission(t *txn, j JobSubmission) {
	t.set(submissionKey(j.ID()), encode(&j))
	t.then(func() {
		if _, ok := s.jobSubs[j.ID()]; !ok {
			s.jobSubOrder = insertSorted(s.jobSubOrder, j.ID(), strings.Compare)
		}
		s.jobSubs[j.ID()] = j
	})
}

func (s *Server) submitJob(t *txn, m *SubmitJob) Reply {
	id := m.Job.ID()
	if _, ok := s.jobSubs[id]; ok {
		return fail(rpc.CodeConflict, "job %s: the submission id is in use", id)
	}
	if len(s.jobSubs) >= SubmissionsMax {
		return fail(rpc.CodeFailedPrecondition, "%d submitted jobs are kept; delete finished ones first (gray job delete)", SubmissionsMax)
	}
	j := JobSubmission{Spec: m.Job.Spec, Resources: m.Job.Resources, Metadata: m.Job.Metadata, StopGrace: m.Job.StopGrace,
		State: SubmissionPending, SubmitTime: s.env.Now().UnixNano(), Version: 1}
	s.assignDriver(&j)
	s.putSubmission(t, j)
	t.then(func() {
		s.touchBinary(j.Spec.Binary)
		if j.Spec.WorkingDir != "" {
			s.touchBinary(j.Spec.WorkingDir)
		}
		s.env.AfterFunc(0, func() { s.driveSubmission(id) })
	})
	return Reply{Submissions: []JobSubmission{j}}
}

// assignDriver chooses the node of a PENDING job without one, or says in
// its Message why none fits.
func (s *Server) assignDriver(j *JobSubmission) {
	n, why := s.chooseDriverNode(j.Resources)
	if n.IsNil() {
		j.Message = why
		return
	}
	j.Node, j.Message = n, ""
}

// chooseDriverNode picks the node to run a driver needing res: the
// head's node (the raylet in the GCS's own process) when it has res,
// else the alive node with res running the fewest drivers, by id.
func (s *Server) chooseDriverNode(res core.Resources) (core.NodeID, string) {
	running := map[core.NodeID]int{}
	for _, id := range s.jobSubOrder {
		if j := s.jobSubs[id]; !j.State.Terminal() && !j.Node.IsNil() {
			running[j.Node]++
		}
	}
	var best core.NodeID
	alive := 0
	for _, id := range s.nodeOrder {
		n := s.nodes[id]
		if n.info.State != NodeAlive {
			continue
		}
		alive++
		if !res.FitsIn(n.info.Resources) {
			continue
		}
		if sameProcess(n.info.Addr, s.env.Self()) {
			return id, ""
		}
		if best.IsNil() || running[id] < running[best] {
			best = id
		}
	}
	switch {
	case !best.IsNil():
		return best, ""
	case alive == 0:
		return core.NodeID{}, "waiting for an alive node"
	default:
		return core.NodeID{}, fmt.Sprintf("waiting for a node with %v: none of the %d alive nodes has it", res, alive)
	}
}

// sameProcess reports whether two addresses name processes of one host
// process ("PEER#name" addresses sharing PEER).
func sameProcess(a, b core.Addr) bool {
	pa, _, okA := strings.Cut(string(a), "#")
	pb, _, okB := strings.Cut(string(b), "#")
	return okA && okB && pa == pb
}

// driveSubmission sends what job id needs next: its StartDriver until
// the driver started, its StopDriver until it ended.
func (s *Server) driveSubmission(id string) {
	if s.stopped {
		return
	}
	j, ok := s.jobSubs[id]
	if !ok || j.State.Terminal() || j.Node.IsNil() {
		return
	}
	node := s.nodes[j.Node]
	if node == nil || node.info.State == NodeDead {
		return // the node's death moves or fails the job
	}
	version := j.Version
	again := func() {
		s.env.AfterFunc(driverResend, func() {
			if cur, ok := s.jobSubs[id]; ok && cur.Version == version {
				s.driveSubmission(id)
			}
		})
	}
	if j.StopRequested {
		s.cli.Call(node.info.Addr, &proto.StopDriver{Node: j.Node, ID: id, Grace: j.StopGrace}, rpc.Options{Timeout: driverRPCTimeout}, func(_ core.Message, err error) {
			cur, ok := s.jobSubs[id]
			if !ok || cur.Version != version || s.stopped {
				return
			}
			var re *rpc.Error
			if errors.As(err, &re) && re.Code == rpc.CodeNotFound {
				// The raylet never ran it (or is a later incarnation,
				// whose node record replaces the dead one's).
				t := s.newTxn()
				s.endSubmission(t, cur, SubmissionStopped, fmt.Sprintf("stopped; its driver was not running on node %v", cur.Node), 0, false)
				s.commit(t)
				return
			}
			again() // resent until the raylet reports the end
		})
		return
	}
	if j.Started {
		return
	}
	s.cli.Call(node.info.Addr, &proto.StartDriver{Node: j.Node, Spec: j.Spec}, rpc.Options{Timeout: driverRPCTimeout}, func(_ core.Message, err error) {
		cur, ok := s.jobSubs[id]
		if !ok || cur.Version != version || s.stopped {
			return
		}
		// Resent until the raylet reports the start. A NotFound comes
		// from a later incarnation at the node's address: the node the
		// job was given to is gone, and its death fails the job (the
		// driver may have started there: it is never run twice).
		again()
	})
}

// endSubmission records a job's end and finishes the numeric jobs its
// driver registered.
func (s *Server) endSubmission(t *txn, j JobSubmission, state SubmissionState, msg string, code int32, exited bool) JobSubmission {
	j.State, j.Message, j.ExitCode, j.Exited = state, msg, code, exited
	j.EndTime = max(s.env.Now().UnixNano(), j.StartTime)
	j.Version++
	s.putSubmission(t, j)
	for _, job := range j.Jobs {
		if info, ok := s.jobs[job]; ok && !info.Finished {
			s.finishJob(t, &FinishJob{Job: job})
		}
	}
	return j
}

func (s *Server) stopJob(t *txn, m *StopJob) Reply {
	j, ok := s.jobSubs[m.ID]
	if !ok {
		return fail(rpc.CodeNotFound, "no job %s", m.ID)
	}
	switch {
	case j.State.Terminal() || j.StopRequested:
		return Reply{Submissions: []JobSubmission{j}}
	case j.Node.IsNil():
		j = s.endSubmission(t, j, SubmissionStopped, "stopped before its driver started", 0, false)
		return Reply{Submissions: []JobSubmission{j}}
	}
	j.StopRequested = true
	j.Version++
	s.putSubmission(t, j)
	id := m.ID
	t.then(func() { s.env.AfterFunc(0, func() { s.driveSubmission(id) }) })
	return Reply{Submissions: []JobSubmission{j}}
}

func (s *Server) deleteJob(t *txn, m *DeleteJob) Reply {
	j, ok := s.jobSubs[m.ID]
	if !ok {
		return fail(rpc.CodeNotFound, "no job %s", m.ID)
	}
	if !j.State.Terminal() {
		return fail(rpc.CodeFailedPrecondition, "job %s is %v; stop it first", m.ID, j.State)
	}
	t.del(submissionKey(m.ID))
	t.then(func() {
		delete(s.jobSubs, m.ID)
		if i, found := slices.BinarySearch(s.jobSubOrder, m.ID); found {
			s.jobSubOrder = slices.Delete(s.jobSubOrder, i, i+1)
		}
	})
	return Reply{Submissions: []JobSubmission{j}}
}

func (s *Server) getJobSubmission(m *GetJobSubmission) Reply {
	j, ok := s.jobSubs[m.ID]
	if !ok {
		return fail(rpc.CodeNotFound, "no job %s", m.ID)
	}
	return Reply{Submissions: []JobSubmission{j}}
}

func (s *Server) updateJobSubmission(t *txn, m *UpdateJobSubmission) Reply {
	j, ok := s.jobSubs[m.ID]
	if !ok {
		return fail(rpc.CodeNotFound, "no job %s", m.ID)
	}
	if j.Node != m.Node {
		return fail(rpc.CodeFailedPrecondition, "job %s is assigned to node %v, not %v", m.ID, j.Node, m.Node)
	}
	if j.State.Terminal() {
		if j.State == m.State || m.State == SubmissionRunning && j.Started {
			return Reply{Submissions: []JobSubmission{j}} // a resent report
		}
		return fail(rpc.CodeFailedPrecondition, "job %s is already %v", m.ID, j.State)
	}
	if m.State == SubmissionRunning {
		if j.Started {
			return Reply{Submissions: []JobSubmission{j}}
		}
		j.State, j.Started, j.Message = SubmissionRunning, true, ""
		j.StartTime = s.env.Now().UnixNano()
		j.Version++
		s.putSubmission(t, j)
		return Reply{Submissions: []JobSubmission{j}}
	}
	state := m.State
	if j.StopRequested && state != SubmissionSucceeded {
		state = SubmissionStopped
	}
	if !j.Started {
		j.Started = true
		j.StartTime = s.env.Now().UnixNano()
	}
	j = s.endSubmission(t, j, state, m.Message, m.ExitCode, m.Exited)
	return Reply{Submissions: []JobSubmission{j}}
}

// linkJob records, in the AddJob's batch, a numeric job registered by
// a submitted job's driver.
func (s *Server) linkJob(t *txn, sub string, job core.JobID) {
	j, ok := s.jobSubs[sub]
	if !ok {
		return
	}
	j.Jobs = append(slices.Clone(j.Jobs), job)
	j.Version++
	s.putSubmission(t, j)
}

// startSubmissions resumes, after a restart, the messages of the jobs
// not finished.
func (s *Server) startSubmissions() {
	for _, id := range s.jobSubOrder {
		s.driveSubmission(id)
	}
	s.armSubmissionRetry()
}

// onNodeDeadSubmissions ends the jobs given to a dead node: FAILED (or
// STOPPED when a stop was asked for). A job whose start was not reported
// is not placed again either: the driver may run there still (a node
// declared dead may only be cut off until it learns it is fenced), and a
// job's driver never runs twice.
func (s *Server) onNodeDeadSubmissions(node core.NodeID, cause string) {
	t := s.newTxn()
	for _, id := range s.jobSubOrder {
		j := s.jobSubs[id]
		if j.State.Terminal() || j.Node != node {
			continue
		}
		state, msg := SubmissionFailed, fmt.Sprintf("the node running the driver (%v) died: %s", node, cause)
		if !j.Started {
			msg = fmt.Sprintf("the node chosen to run the driver (%v) died before it reported the start: %s", node, cause)
		}
		if j.StopRequested {
			state = SubmissionStopped
		}
		s.endSubmission(t, j, state, msg, 0, false)
	}
	if !t.empty() {
		s.commit(t)
	}
}

// placeSubmissions assigns a node to each PENDING job without one that
// now fits somewhere, and arms the retry for the rest.
func (s *Server) placeSubmissions() {
	if s.stopped {
		return
	}
	t := s.newTxn()
	var placed []string
	for _, id := range s.jobSubOrder {
		j := s.jobSubs[id]
		if j.State != SubmissionPending || !j.Node.IsNil() {
			continue
		}
		next := j
		s.assignDriver(&next)
		if next.Node.IsNil() && next.Message == j.Message {
			continue
		}
		next.Version++
		s.putSubmission(t, next)
		if !next.Node.IsNil() {
			placed = append(placed, id)
		}
	}
	if !t.empty() {
		s.commit(t)
	}
	for _, id := range placed {
		s.driveSubmission(id)
	}
	s.armSubmissionRetry()
}

// armSubmissionRetry schedules another placement pass while a job waits
// for a node.
func (s *Server) armSubmissionRetry() {
	if s.jobSubTimer != nil || s.stopped {
		return
	}
	waiting := false
	for _, id := range s.jobSubOrder {
		if j := s.jobSubs[id]; j.State == SubmissionPending && j.Node.IsNil() {
			waiting = true
			break
		}
	}
	if !waiting {
		return
	}
	s.jobSubTimer = s.env.AfterFunc(driverResend, func() {
		s.jobSubTimer = nil
		defer s.flushPolls()
		s.placeSubmissions()
	})
}
