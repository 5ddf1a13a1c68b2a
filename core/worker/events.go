package worker

import (
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/gcs"
)

// Task events, as Ray's TaskEventBuffer: the owner records every state
// transition of the tasks it submitted (pending arguments, pending a
// node, running with node and worker, finished, failed with the error;
// a retry starts the next attempt; a cancel is a failure of kind
// Cancelled) and sends them to the GCS in batches. The buffer is bounded:
// when it is full the oldest event is dropped and counted, and the count
// travels with the next batch. A batch the GCS did not take (the call
// failed) is dropped and counted too: events are for observation, never
// worth blocking or growing for. The flush timer runs only while events
// wait, so an idle worker has no timer.

// Defaults of Config.TaskEventsMax and Config.TaskEventsFlush.
const (
	DefaultTaskEventsMax   = 10_000
	DefaultTaskEventsFlush = time.Second
)

// eventBuffer holds task events not yet sent.
type eventBuffer struct {
	buf      []gcs.TaskEvent
	dropped  uint64 // since the last batch was sent
	timer    core.Timer
	inflight bool
	// flushing are FlushEvents callers waiting for the buffer to empty.
	flushing []func()
}

// EventStats counts the task events of a worker.
type EventStats struct {
	Recorded, Sent, Dropped int64
}

// TaskEventStats returns the worker's task-event counters.
func (w *Worker) TaskEventStats() EventStats { return w.evStats }

// stamp returns the time of a task event: the wall clock, unless it was
// stepped back below an earlier stamp.
func (w *Worker) stamp() int64 {
	w.lastStamp = max(w.lastStamp, w.env.Now().UnixNano())
	return w.lastStamp
}

// record buffers a transition of t's current attempt.
func (w *Worker) record(t *pendingTask, st gcs.TaskState, terr *proto.TaskError) {
	if w.cfg.GCS == nil || w.cfg.TaskEventsMax < 0 {
		return
	}
	e := gcs.TaskEvent{
		Task: t.spec.TaskID, Attempt: t.spec.Attempt, Job: t.spec.Job, Name: truncate(t.spec.Function, gcs.NameSizeMax),
		State: st, Time: w.stamp(),
	}
	if st == gcs.TaskRunning {
		e.Node, e.Worker = t.node, t.worker
	}
	if terr != nil {
		e.ErrorKind = truncate(terr.Kind.String(), gcs.NameSizeMax)
		msg := terr.Message
		if terr.Stack != "" {
			msg += "\n" + terr.Stack
		}
		e.Error = truncate(msg, gcs.TaskErrorSizeMax)
	}
	w.evStats.Recorded++
	b := &w.events
	if len(b.buf) >= w.cfg.TaskEventsMax {
		b.buf = b.buf[1:]
		b.dropped++
		w.evStats.Dropped++
	}
	b.buf = append(b.buf, e)
	w.armFlush()
}

func (w *Worker) armFlush() {
	b := &w.events
	if b.timer != nil || b.inflight || len(b.buf) == 0 {
		return
	}
	b.timer = w.env.AfterFunc(w.cfg.TaskEventsFlush, w.flushEvents)
}

// flushEvents sends one batch; the next waits for its answer.
func (w *Worker) flushEvents() {
	b := &w.events
	b.timer = nil
	n := min(len(b.buf), gcs.TaskEventsPerBatchMax)
	batch := append([]gcs.TaskEvent(nil), b.buf[:n]...)
	b.buf = append(b.buf[:0], b.buf[n:]...)
	dropped := b.dropped
	b.dropped = 0
	b.inflight = true
	w.cfg.GCS.AddTaskEvents(batch, dropped, func(_ gcs.Reply, err error) {
		b.inflight = false
		if err != nil {
			b.dropped += dropped + uint64(len(batch))
			w.evStats.Dropped += int64(len(batch))
		} else {
			w.evStats.Sent += int64(len(batch))
		}
		if len(b.flushing) > 0 {
			if len(b.buf) > 0 {
				w.flushEvents() // at once: someone waits
				return
			}
			waiting := b.flushing
			b.flushing = nil
			for _, f := range waiting {
				f()
			}
			return
		}
		w.armFlush()
	})
}

// FlushEvents sends every task event buffered now, in as many batches as
// it takes, and calls done once the GCS answered them all (or their
// calls failed: events are dropped then, as always): a driver flushes
// before it marks its job finished, so that its tasks' last transitions
// reach the task table rather than die with the process.
func (w *Worker) FlushEvents(done func()) {
	b := &w.events
	if w.cfg.GCS == nil || len(b.buf) == 0 && !b.inflight {
		done()
		return
	}
	b.flushing = append(b.flushing, done)
	if b.inflight {
		return // the rest goes when the batch out is answered
	}
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
	w.flushEvents()
}

// truncate cuts s to at most n bytes.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
