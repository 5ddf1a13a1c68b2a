// Package sim is gray's deterministic simulator: it drives sans-IO
// processes (core.Process) through a virtual clock, a modelled network and
// crashable disks, all decided by one seed.
//
// A World holds processes with addresses, one event queue ordered by
// (virtual time, sequence), per-process clocks with drift, cancellable
// timers and a PRNG stream per process derived from the seed. Every message
// is encoded with the production codec when sent and decoded when delivered.
// The network model adds latency (base, jitter, rare long tail), loss,
// duplication, reordering, symmetric and one-way partitions and clogging; a
// nemesis crashes and restarts processes (their disks fall back to the
// synced state, pebble's crashable MemFS) and fails WAL writes. "swarm"
// picks a random fault mix per seed.
//
// A run has a fault phase, then heals everything and enters a liveness
// phase in which every pending operation of the workload must finish within
// a bound. Each dispatched event is folded into a running trace hash: one
// seed gives one hash, bit for bit. A panic in a process, a failed invariant
// or an exhausted budget ends the run with a Result that names its seed and
// the command that replays it.
//
// Tooling around runs: a Campaign runs many seeds in parallel (for a list
// or a wall-clock budget), in this process or each in a child process
// (Isolation, ServeSeeds) so that a seed that crashes its process, hangs
// or runs out of memory fails alone as "crash", and reports the coverage
// of the "sometimes" paths a workload declares (PathDeclarer);
// Config.Observer receives every event as a TraceEvent, and ChromeTrace
// turns those into a Chrome trace; World.Attach lets a failing run offer
// files for its report; Shrink searches for a smaller configuration of a
// failing seed that fails the same way.
//
// The simulator itself runs on one goroutine and reads neither the wall
// clock nor global randomness. The only goroutines near it are pebble's
// background workers inside processes' databases, which do not influence
// what reads return.
package sim
