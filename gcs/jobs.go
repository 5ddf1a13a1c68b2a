package gcs

import (
	"encoding/binary"
	"math"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/rpc"
)

// Jobs: ids from a persisted counter, as Ray assigns them.

func (s *Server) addJob(t *txn, m *AddJob) Reply {
	if s.jobCounter == math.MaxUint32 {
		return fail(rpc.CodeFailedPrecondition, "all %d job ids are used", uint64(math.MaxUint32))
	}
	if m.Submission != "" {
		// A driver of a job that ended (stopped while it started, say)
		// may not register: nothing would finish its job.
		j, ok := s.jobSubs[m.Submission]
		switch {
		case !ok:
			return fail(rpc.CodeNotFound, "no submitted job %s to register a driver for", m.Submission)
		case j.State.Terminal():
			return fail(rpc.CodeFailedPrecondition, "submitted job %s has ended (%v): its driver may not register", m.Submission, j.State)
		}
	}
	n := s.jobCounter + 1
	info := JobInfo{ID: core.JobIDFromInt(n), DriverAddr: m.DriverAddr, Metadata: m.Metadata, Binary: m.Binary, Submission: m.Submission, StartTime: s.env.Now().UnixNano()}
	t.set(keyJobCounter, binary.BigEndian.AppendUint32(nil, n))
	s.putJob(t, info)
	if m.Submission != "" {
		s.linkJob(t, m.Submission, info.ID)
	}
	t.then(func() {
		s.jobCounter = n
		s.touchBinary(m.Binary)
	})
	return Reply{Job: info.ID}
}

func (s *Server) finishJob(t *txn, m *FinishJob) Reply {
	j, ok := s.jobs[m.Job]
	if !ok {
		return fail(rpc.CodeNotFound, "unknown job %v", m.Job)
	}
	if j.Finished {
		return Reply{Jobs: []JobInfo{j}}
	}
	j.Finished = true
	// A clock stepped back (NTP) since the start, in this process or
	// before a restart, must not make the job end before it began.
	j.EndTime = s.env.Now().UnixNano()
	if j.EndTime < j.StartTime && s.cfg.Bug != BugWallClockStamps {
		j.EndTime = j.StartTime
	}
	s.putJob(t, j)
	job := m.Job
	t.then(func() {
		s.env.AfterFunc(s.cfg.TaskJobDoneGrace, func() {
			if !s.stopped {
				s.tasks.endJob(job, s.env.Now().UnixNano())
			}
		})
	})
	// As in Ray, the job's actors die with it, detached ones excepted.
	// Only those the actor scheduler manages: a registrant-managed actor
	// is its registrant's to end.
	for _, id := range s.actorOrder {
		a := s.actors[id]
		if a.Job != m.Job || a.State == ActorDead || !s.managed(id) || s.scheds[id].Spec.Detached {
			continue
		}
		next := a
		next.State, next.Node, next.Addr = ActorDead, core.NodeID{}, ""
		next.DeathCause = "its job finished"
		next.Version = a.Version + 1
		s.putActor(t, next)
	}
	// So do its placement groups, detached ones excepted.
	for _, id := range s.pgOrder {
		p := s.pgs[id]
		if id.Job() != m.Job || p.Detached || p.State == PlacementRemoved {
			continue
		}
		s.removeGroup(t, p, "its job finished")
	}
	return Reply{Jobs: []JobInfo{j}}
}

func (s *Server) putJob(t *txn, info JobInfo) {
	t.set(jobKey(info.ID), encode(&info))
	t.then(func() {
		if _, ok := s.jobs[info.ID]; !ok {
			s.jobOrder = insertSorted(s.jobOrder, info.ID, cmpJob)
		}
		s.jobs[info.ID] = info
	})
}
