// Package gcs is gray's Global Control Store: the cluster's source of truth
// for nodes, jobs, actors and a namespaced key-value store, with Ray-style
// long-polling pubsub, health checks and fencing of dead nodes.
//
// # Server
//
// Server is a sans-IO core.Process. Every mutation is applied in one pebble
// batch together with the dedup record of its request (client id, sequence
// number → encoded reply) and committed with pebble.Sync before the reply is
// sent; the in-memory tables that serve reads are updated only after the
// commit succeeded. A failed write panics with core.FailStop: the driver
// restarts the process, which recovers every table from its synced disk. A
// retried request (same client, same sequence number) is applied at most
// once and answered with its original reply, also across restarts. The
// server rotates pebble's WAL itself, only on a disk it has just seen work,
// because pebble cannot survive a failed write during a rotation (wal.go).
//
// Nodes register and heartbeat. The server checks every HealthCheckPeriod
// and declares DEAD a node whose last heartbeat is older than NodeTimeout.
// DEAD is final and persisted: a dead NodeID never registers again, and its
// heartbeats are answered with Dead=true so that its raylet stops (fencing).
// After a restart every live node gets a fresh grace period. When a node
// dies, every ALIVE actor on it goes to RESTARTING (or DEAD once its
// restarts are exhausted), as Ray's GcsActorManager does.
//
// Named actors are registered with get-or-create semantics: the first
// registration of (namespace, name) wins, later ones get the winner's id.
// The name is released when the actor becomes DEAD.
//
// Actors registered with a creation spec (ActorSpec; Client.CreateActor)
// are managed by the server's actor scheduler, Ray's GCS actor scheduler
// (actor_sched.go): it leases a worker from a raylet, following spillback,
// pushes the creation task, records the actor ALIVE at that worker,
// restarts it after worker or node death while MaxRestarts allows, kills
// it when its owner is gone (OwnerCheck) unless it is detached, and after
// a restart places PENDING_CREATION and RESTARTING actors again from the
// persisted spec. The scheduler talks to raylets, workers and owners
// through a core/rpc client and serves the raylets' LeaseChecks. Actors
// registered without a spec are driven by their registrant (UpdateActor).
//
// Pubsub is per subscriber: each subscriber has a bounded queue of
// PubMessages with consecutive sequence numbers. A Poll acknowledges what
// the subscriber has processed and is held until a message arrives or
// PollTimeout passes. When a queue overflows it is dropped, and the next Poll
// reports a gap, after which the subscriber re-reads snapshots (GetNodes,
// ListActors). Subscriptions live in memory only; the epoch (a persisted
// boot counter, carried by every reply) tells subscribers that the server
// restarted and that they must resubscribe and resync. Published NodeInfo and
// ActorInfo carry a Version: a host that mixes snapshots with messages keeps,
// per entity, the value with the highest Version.
//
// # Client
//
// Client is the sans-IO client embedded in a host process (raylet, core
// worker, simulated client); the host forwards every message to
// Client.Handle. Calls are asynchronous with a callback. The client is a
// typed layer over rpc.Client, the project's one retrying client: a call
// is resent with the same (client, sequence number) with exponential
// backoff and jitter until its deadline, so retries are idempotent and a
// GCS restart needs nothing from callers. ErrTimeout means the outcome is
// unknown; a definite failure is an *rpc.Error matching ErrInvalid,
// ErrNotFound, ErrConflict or ErrFailedPrecondition with errors.Is.
//
// # Test-only faulty variants
//
// Config.Bug plants a known bug (see the Bug* constants) so that tests can
// prove their checks catch it. Production code leaves it empty.
package gcs
