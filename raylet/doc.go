// Package raylet is gray's node manager, after Ray's raylet: one per node,
// it registers the node with the GCS, accounts for the node's resources,
// schedules lease requests, owns the node's plasma store and moves objects
// between nodes. Like every control-plane package it is sans-IO and
// deterministic.
//
// scheduling.go holds the scheduling policy as pure functions of a cluster
// view: Policy.Decide chooses, for one resource demand and one strategy
// (hybrid by default, spread, or node affinity), whether to place the work
// on a node now, wait for capacity, or report it infeasible. leases.go
// applies it to the queue of lease requests. A request spilled here once is
// run here when it fits and otherwise waits, but only for a while before it
// may be spilled again (resources held for long, such as an actor's, may
// never come back here). The cluster view comes from GCS pubsub and, every
// few heartbeats, from a snapshot, so that a missed publication cannot hide
// a node for good.
//
// Leases end when their holder returns them, when the leased worker dies
// (the holder gets LeaseFailed, a one-way message), or when the holder,
// asked periodically (LeaseCheck), says it no longer holds them: a worker
// that owned nested tasks may die with leases in hand, and its restarted
// process knows nothing of them.
//
// Primary copies (owners.go) are pinned for their owner until it frees
// them, or until the raylet knows the owner is gone: its node died, it
// was a worker of this node that died or exited, it was the driver of a
// job that finished, or, asked periodically (OwnsObjects), it says it no
// longer owns them. An owner that does not answer is asked about where
// its death would be known; silence alone frees nothing.
package raylet
