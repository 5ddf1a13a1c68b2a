// Package simtest runs a program written against package gray on a
// simulated cluster, from an ordinary go test, for many seeds and with
// faults: gray's seeded simulator, applied to your own tasks, actors and
// driver code.
//
//	func TestSimulated(t *testing.T) {
//		simtest.Run(t, func(ctx context.Context) error {
//			return run(ctx) // the program's own code, calling gray with ctx
//		}, simtest.Options{Seeds: "1..200", Faults: "swarm", Repeat: true})
//	}
//
// The cluster is the real thing: the GCS on a crashable disk, raylets with
// plasma stores, worker processes running the program's registered
// functions, and a driver process running the driver function — the same
// code as gray.Init's embedded cluster and grayd, driven by the simulator's
// clock, network and disks. Task bodies, actor methods and the driver run
// as coroutines the simulator schedules at its events, so one seed decides
// the whole run, bit for bit. A failing seed fails the test with its fault
// mix and a command that replays it:
//
//	go test -run '^TestSimulated$' ./pkg -args -gray.seed=17 -gray.faults=swarm
//
// which writes the run's text trace and Chrome trace. Flags of the test
// binary: -gray.seeds, -gray.faults, -gray.check-determinism, -gray.seed,
// -gray.trace. Under go test -short a campaign runs only its first
// Options.ShortSeeds seeds (10 by default) unless -gray.seeds names them.
//
// What a driver may see under faults, what a run without faults must not
// see, and what user code must avoid in a simulated run (goroutines that
// call gray, wall-clock deadlines, global randomness, blocking outside
// gray) are in docs/simulation.md, "Simulate your own program".
package simtest
