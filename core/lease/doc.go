// Package lease is the one client of the worker-lease protocol, shared by
// the core worker (leases for its tasks) and the GCS's actor scheduler
// (leases for actor creation tasks).
//
// A Request asks a raylet for a worker lease (proto.RequestLease) and
// follows spillback replies to other raylets, each attempt under a lease id
// of its own, until a raylet grants a lease, finds the demand infeasible,
// refuses or drops the request, or does not answer in time. Every attempt
// that ends without a lease is given back to its raylet (ReturnLease), so
// a request the raylet still queues, or a grant that crosses the give-up
// on the network, never holds a worker for nobody. A grant from a node
// the caller knows to be dead is given back with Disconnect (its worker
// may never answer). Cancel ends a request at any point and gives back
// whatever it holds.
//
// The callers' intended differences are Options: the deadline of one
// raylet's answer, whether a timed-out request is made again at the same
// raylet (the core worker) or ends (the actor scheduler, which then
// places the actor anew), how dead nodes are known, and a hook for
// spillbacks. What a caller does with an ended request (fail a task, ask
// the local raylet again, place an actor elsewhere) stays the caller's.
//
// Like every component, a Client is sans-IO and driven by its owner's
// event loop; its calls go through the owner's rpc.Client.
package lease
