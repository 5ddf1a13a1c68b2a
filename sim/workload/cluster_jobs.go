package workload

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/grayrt/gray"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/worker"
	"github.com/grayrt/gray/gcs"
	"github.com/grayrt/gray/internal/process"
)

// Submitted jobs (gcs/submissions.go): every other round the first
// driver submits two jobs, as `gray job submit` does: "job.add X", whose
// driver runs add(X, 5) and checks it, and "job.sleep", whose driver
// waits until it is stopped; it stops the second after a pause and waits
// until both ended. Checked: a job's driver program starts at most once
// (never on two nodes, never again after a node death); add's job
// SUCCEEDED exactly when its program returned its checked result, and
// fails only by a death (of its node or its process), never by its own
// error; sleep's job ends STOPPED, or FAILED by a death; a job that
// ended has finished the job its driver registered.

const (
	progAdd   = "job.add"
	progSleep = "job.sleep"
	// jobWaitPoll is how often the driver reads a job's state.
	jobWaitPoll = 200 * time.Millisecond
)

// jobProgramHash stands for the staged binary of the programs (the
// simulator starts programs by name; nothing is fetched).
var jobProgramHash = func() string {
	s := sha256.Sum256([]byte("workload job programs"))
	return hex.EncodeToString(s[:])
}()

// submitted is what the workload knows of a job it submitted.
type submitted struct {
	prog    string
	x       int64
	stopped bool // the workload asked for a stop
	starts  int  // the driver program started
	ok      bool // the program returned its checked result
}

// program returns the driver program of a submitted job, for the
// simulated launcher.
func (c *cluster) program(spec proto.DriverSpec) func(ctx context.Context) error {
	s := c.subs[spec.ID]
	if s == nil || s.prog != spec.Args[0] {
		return nil
	}
	return func(ctx context.Context) error {
		s.starts++
		if s.starts > 1 {
			c.w.Fail("invariant", fmt.Sprintf("submitted job %s: its driver program started %d times", spec.ID, s.starts))
		}
		switch s.prog {
		case progAdd:
			x, err := strconv.ParseInt(spec.Args[1], 10, 64)
			if err != nil {
				return err
			}
			r := addTask.Options(retried).Remote(ctx, gray.V(x), gray.V(int64(5)))
			defer r.Release()
			v, err := r.Get(ctx)
			if err != nil {
				return err
			}
			if v != x+5 {
				c.w.Fail("invariant", fmt.Sprintf("submitted job %s: add(%d, 5) = %d", spec.ID, x, v))
				return errors.New("wrong sum")
			}
			s.ok = true
			c.w.Sometimes("submitted job's program ran to its end")
			return nil
		default:
			for { // until the stop cancels ctx
				if err := pause(ctx, time.Second); err != nil {
					c.w.Sometimes("submitted job's program stopped by SIGTERM")
					return err
				}
			}
		}
	}
}

// jobRound submits, stops and waits for the round's two jobs.
func (d *driver) jobRound(ctx context.Context, x int64) error {
	c := d.cl
	caller := process.CallerFrom(ctx)
	call := func(start func(g *gcs.Client, cb func(gcs.Reply, error))) (gcs.Reply, error) {
		return process.Do(ctx, caller, func(_ *worker.Worker, reply func(gcs.Reply, error)) { start(caller.GCS(), reply) })
	}
	ids := []string{fmt.Sprintf("add-%d-%d", d.idx, d.round), fmt.Sprintf("sleep-%d-%d", d.idx, d.round)}
	progs := []string{progAdd, progSleep}
	for i, id := range ids {
		c.subs[id] = &submitted{prog: progs[i], x: x}
		spec := proto.DriverSpec{ID: id, Binary: jobProgramHash, Args: []string{progs[i], strconv.FormatInt(x, 10)}}
		for {
			_, err := call(func(g *gcs.Client, cb func(gcs.Reply, error)) {
				g.SubmitJob(gcs.JobSubmission{Spec: spec, StopGrace: 500 * time.Millisecond}, cb)
			})
			if err == nil || errors.Is(err, gcs.ErrConflict) { // a retry of one that went through
				break
			}
			if !errors.Is(err, gcs.ErrTimeout) {
				return fmt.Errorf("submitting job %s: %w", id, err)
			}
		}
	}
	if err := pause(ctx, time.Duration(d.rnd.IntN(1500))*time.Millisecond); err != nil {
		return err
	}
	c.subs[ids[1]].stopped = true
	for {
		_, err := call(func(g *gcs.Client, cb func(gcs.Reply, error)) { g.StopJob(ids[1], cb) })
		if err == nil {
			break
		}
		if !errors.Is(err, gcs.ErrTimeout) {
			return fmt.Errorf("stopping job %s: %w", ids[1], err)
		}
	}
	for _, id := range ids {
		var j gcs.JobSubmission
		for {
			r, err := call(func(g *gcs.Client, cb func(gcs.Reply, error)) { g.GetJobSubmission(id, cb) })
			if err != nil && !errors.Is(err, gcs.ErrTimeout) {
				return fmt.Errorf("reading job %s: %w", id, err)
			}
			if err == nil && r.Submissions[0].State.Terminal() {
				j = r.Submissions[0]
				break
			}
			if err := pause(ctx, jobWaitPoll); err != nil {
				return err
			}
		}
		if err := c.checkSubmission(j); err != nil {
			return err
		}
		if len(j.Jobs) > 0 {
			if err := c.checkJobsFinished(call, j); err != nil {
				return err
			}
		}
	}
	return nil
}

// byDeath reports whether a job's message says a death ended it (its
// node's, or its driver process's), not its program.
func byDeath(msg string) bool {
	return strings.Contains(msg, ") died") || strings.HasPrefix(msg, "the driver process died")
}

// checkSubmission checks a job's final state against what its program
// did.
func (c *cluster) checkSubmission(j gcs.JobSubmission) error {
	s := c.subs[j.ID()]
	bad := func(why string) error {
		return fmt.Errorf("submitted job %s (%s): %v with message %q: %s", j.ID(), s.prog, j.State, j.Message, why)
	}
	switch j.State {
	case gcs.SubmissionSucceeded:
		if !s.ok {
			return bad("SUCCEEDED, but its program did not return its result")
		}
		c.w.Sometimes("submitted job SUCCEEDED")
	case gcs.SubmissionStopped:
		if !s.stopped {
			return bad("STOPPED, but nobody stopped it")
		}
		c.w.Sometimes("submitted job STOPPED")
	case gcs.SubmissionFailed:
		if !byDeath(j.Message) {
			return bad("FAILED, and not by a death")
		}
		c.w.Sometimes("submitted job FAILED by a death")
	}
	if s.prog == progSleep && j.State == gcs.SubmissionSucceeded {
		return bad("the sleeper cannot succeed")
	}
	if s.prog == progAdd && j.State == gcs.SubmissionStopped {
		return bad("nobody stops add's job")
	}
	return nil
}

// checkJobsFinished checks that the jobs a submitted job's driver
// registered are finished once it ended.
func (c *cluster) checkJobsFinished(call func(func(g *gcs.Client, cb func(gcs.Reply, error))) (gcs.Reply, error), j gcs.JobSubmission) error {
	for {
		r, err := call(func(g *gcs.Client, cb func(gcs.Reply, error)) { g.ListJobs(cb) })
		if errors.Is(err, gcs.ErrTimeout) {
			continue
		}
		if err != nil {
			return fmt.Errorf("listing jobs: %w", err)
		}
		for _, info := range r.Jobs {
			for _, id := range j.Jobs {
				if info.ID == id && !info.Finished {
					return fmt.Errorf("submitted job %s ended %v, but its driver's job %v is not finished", j.ID(), j.State, id)
				}
			}
		}
		return nil
	}
}
