// Package scenario runs scenario tests of the raylet and the core worker:
// text files of commands and their expected output side by side, in the
// style of etcd raft's interaction tests, read by
// github.com/cockroachdb/datadriven. It is a real package, not a _test
// file, so that the raylet's and the core worker's tests share it.
//
// A World is a small cluster on one manual clock and one captured
// network: a GCS (gcs.Server), nodes (a raylet.Raylet each, with its
// plasma store), worker processes of those nodes and drivers (a
// worker.Worker each), all the real components. Nothing moves on its own:
// a message waits in flight until a command delivers or drops it, and a
// timer fires only when a command advances the clock. Messages are
// encoded and decoded on send, as on every real network. What a command
// does prints as it happens: each delivered message as "from -> to
// description", each task body a worker starts, each answer to a get.
// Random ids print as the names the scenario gave: n1 for a node's id,
// n1/w1#1 for the first incarnation of worker n1/w1, t1 for a task, t1.r0
// for its first return, o1 for a put, L1, L2, … for lease ids in the
// order their requests were first sent. Traffic to and from the GCS
// (registration, heartbeats, pubsub) is delivered but not printed unless
// "trace gcs=on".
//
// Commands (arguments are key=value; lists are key=(a,b)):
//
//	gcs [node-timeout=10s]          configure and start the GCS (else it starts with the first node)
//	node id=n1 [cpu=1] [gpu=N] [res=(NAME:AMOUNT,…)] [store=256MiB] [workers=N] [actors=N]
//	                                start a raylet at address n1 and N worker processes
//	worker node=n1 [count=1]        start worker processes n1/w1, n1/w2, … of node n1
//	driver node=n1 [name=driver]    start a driver whose local raylet is n1's
//	submit task=t1 [fn=f] [driver=driver] [cpu=1] [gpu=N] [res=…] [deps=(o1,t0.r0)] [node=n2]
//	       [retries=N] [returns=1] [run=hold|return|fail] [size=8]
//	                                submit a task; node= is hard node affinity, retries=0
//	                                none; its body holds until finish, or returns size
//	                                bytes per return at once, or fails at once
//	finish task=t1 [size=N] [error] let the running body of t1 return (or fail)
//	put id=o1 size=N [driver=driver]
//	get id=t1.r0                    Get through the driver holding the reference
//	release id=t1.r0                drop the scenario's reference
//	cancel task=t1 [force] [no-recursive]
//	stabilize                       deliver messages and fire timers due now until none are left
//	deliver [from=…] [to=…] [type=…] [n=N]
//	                                deliver the matching messages in flight (type is the first
//	                                word of the description), then fire the timers due now
//	drop [from=…] [to=…] [type=…] [n=N]
//	inflight                        list the messages in flight
//	block from=a to=b [oneway] / unblock from=a to=b [oneway]
//	                                lose every message sent on the link (both ways by default)
//	tick 100ms                      advance the clock, firing timers in time order and
//	                                delivering everything after each
//	kill-worker id=n1/w1 / restart-worker id=n1/w1
//	kill-node id=n1                 crash the raylet and its workers
//	trace gcs=on|off
//	leases id=n1                    the raylet's DescribeLeases
//	objects id=n1                   the node's plasma store
//	state id=n1|driver|n1/w1        Describe of a raylet or a core worker
//	tasks [driver=driver]           the driver's DescribeWaits
//
// The node, worker, driver and gcs commands settle the world quietly
// (every message in flight is delivered) so that scenarios start from a
// registered cluster; use them before the interesting part.
package scenario
