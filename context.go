package gray

import (
	"context"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/worker"
)

// RuntimeContext says where the code that holds a ctx runs, as Ray's
// ray.get_runtime_context() does: the job, node and worker process, and
// in a task body or actor method the task and actor. Ids are the strings
// the state API, the dashboard and `gray list` show; an empty string
// means "none here".
type RuntimeContext struct {
	// JobID is the job the code works for: the driver's job, or the job
	// of the task or actor call being run.
	JobID string
	// NodeID is the node whose raylet the process is attached to (a
	// driver moves to another node when its node dies).
	NodeID string
	// WorkerID is the worker process's id; empty in a driver (drivers
	// are not workers of a raylet: JobID names one).
	WorkerID string
	// TaskID is the running task, actor method call or actor constructor;
	// empty in a driver.
	TaskID string
	// Attempt counts the running task's retries: 0 for its first run.
	Attempt int
	// ActorID is the actor whose constructor or method runs; empty
	// otherwise.
	ActorID string
	// ActorRestarts is how many times that actor has restarted (its
	// incarnation): 0 for its first life. Ray's
	// was_current_actor_reconstructed is ActorRestarts > 0.
	ActorRestarts int
}

// IsDriver reports whether the context is a driver's (no task runs).
func (c RuntimeContext) IsDriver() bool { return c.TaskID == "" }

// GetRuntimeContext returns the runtime context of ctx: the task body's
// or actor method's ctx names its task, otherwise the caller is the
// driver. It fails with ErrNotInitialized outside a runtime and with
// ErrShutdown after Shutdown.
func GetRuntimeContext(ctx context.Context) (RuntimeContext, error) {
	cl, err := callerFor(ctx)
	if err != nil {
		return RuntimeContext{}, err
	}
	rc, err := do(ctx, cl, func(cw *worker.Worker, reply func(RuntimeContext, error)) {
		var rc RuntimeContext
		if cw == nil {
			reply(rc, nil)
			return
		}
		wid, node, job := cw.Identity()
		if !wid.IsNil() {
			rc.WorkerID = wid.String()
		}
		if !job.IsNil() {
			rc.JobID = job.String()
		}
		if cl.Driver == nil {
			if !node.IsNil() {
				rc.NodeID = nodeString(node)
			}
			reply(rc, nil)
			return
		}
		cl.Driver.NodeThen(func(n core.NodeID) {
			if !n.IsNil() {
				rc.NodeID = nodeString(n)
			}
			reply(rc, nil)
		})
	})
	if err != nil {
		return RuntimeContext{}, err
	}
	if p := cl.Parent; p != nil {
		rc.JobID = p.Job.String()
		rc.TaskID = p.TaskID.String()
		rc.Attempt = int(p.Attempt)
		if !p.ActorID.IsNil() {
			rc.ActorID = p.ActorID.String()
			rc.ActorRestarts = int(p.ActorIncarnation)
		}
	}
	return rc, nil
}
