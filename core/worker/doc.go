// Package worker is the core worker: the library inside every driver and
// worker process that submits tasks, owns their results, counts references,
// resolves objects, retries failed tasks, rebuilds lost objects from
// lineage, creates and calls actors, and executes the tasks pushed to it.
//
// It follows Ray's ownership model. The submitter of a task owns its return
// objects: it records where they live (inline in its memory, or in some
// node's plasma store), counts the references to them (held by user code,
// by pending tasks that take them as arguments, and by borrowers), and
// frees every copy when the last reference goes. Other processes that get a
// reference are borrowers: they ask the owner for the value and tell it
// when they drop the reference. A task body may submit tasks itself
// (SubmitNested): the executing worker then owns the children's returns,
// and if that worker dies, a Get of them by another process fails with
// OwnerDied once the owner stops answering.
//
// # Actors
//
// CreateActor registers the actor with the GCS together with its creation
// spec (named actors are get-or-create); the GCS then drives its lifecycle,
// as in Ray:
//
//  1. Placement is the GCS's. Its actor scheduler leases a worker for the
//     creation task from a raylet (the owner's first; spillback and
//     infeasibility as for tasks), pushes the creation task, and holds the
//     lease for the actor's lifetime. The leased worker runs the
//     constructor through the Executor and keeps the actor's state; the
//     GCS records the incarnation ALIVE with its node and address. The
//     owner keeps the objects the constructor arguments reference alive
//     until the actor is DEAD, and answers the GCS's OwnerCheck: a
//     non-detached actor dies with its owner.
//  2. Incarnations are numbered by the GCS's restart count. When the
//     actor's worker dies (LeaseFailed from the raylet, a failed ActorPing
//     from the GCS) or its node dies, the GCS moves it to RESTARTING,
//     counting the restart, or to DEAD once max_restarts is exhausted; a
//     restart leases a new worker and runs the constructor again.
//  3. Callers (the owner included) send calls straight to the actor's
//     worker, numbered per caller and incarnation; the worker runs each
//     caller's calls in that order, buffers early arrivals, answers
//     duplicates from a bounded reply cache, and refuses calls addressed
//     to another incarnation. Callers read the actor's record from the GCS
//     (GetActor, every second while calls are in flight, and at once after
//     a refusal); when a new incarnation appears, calls that were in flight
//     to the old one are resent while the handle's MaxTaskRetries allows
//     (at-least-once, as in Ray) and fail with ActorDied otherwise; when
//     the actor is DEAD they all fail with ActorDied.
//  4. KillActor goes through the GCS: with noRestart the actor is DEAD and
//     its worker is told to exit (a worker exits by fail-stopping); without
//     noRestart the worker exits and the actor restarts like after any
//     failure. The GCS's KillActor names the incarnation and the lease of
//     the creation push: a worker that hosts the incarnation under another
//     lease (a later creation attempt) ignores it.
//
// # Cancellation
//
// Cancel (cancel.go) fails an owned task with Cancelled at once. A task
// already pushed is interrupted where it runs: the owner sends CancelTask,
// and the executing worker asks its Executor to stop the body (the
// optional Interrupter interface) or, with Force, exits; with Recursive it
// also cancels the tasks it owns that the body submitted. The owner holds
// the lease until the push is answered, so a worker whose body still runs
// is not handed out again.
//
// The worker is sans-IO: its host process forwards messages to Handle,
// forwards the GCS's node-death news to NodeDied, forwards GCS replies to
// the gcs.Client given in Config, and provides an Executor that runs task
// bodies, actor constructors and actor methods.
package worker
