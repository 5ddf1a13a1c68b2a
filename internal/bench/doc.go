// Package bench is `gray bench`: Ray's microbenchmark suite
// (python/ray/_private/ray_perf.py) rebuilt on gray's Go API, run next to
// the physical limits of the machine it runs on, and the simulator's own
// speed, so that a figure means something on any machine.
//
// A run has four parts:
//
//   - Cases: each of Ray's microbenchmark cases, under Ray's name, timed
//     the way Ray's timeit does (a warm-up, then rounds of a fixed
//     duration, each counting whole steps of calls) and reported as
//     [mean, std] operations (or gigabytes) per second. A case runs on a
//     fresh runtime that its Setting provides.
//   - Limits: a Go channel round trip between two goroutines, memcpy
//     bandwidth, a raw libp2p stream (round trip, pipelined rate and bulk
//     throughput) between this process and a peer process, and gray's
//     transport over the same link. Each is measured in short rounds
//     right before every block of consecutive cases it bounds, and every
//     case is printed with its ratio to the best round of that
//     measurement.
//   - GCS writes: the latency of sequential KVPuts against a single GCS
//     and against a replicated GCS of three raft replicas, on the real
//     disk, over the in-memory transport (GCSWrites).
//   - Simulator: events per second, simulated-to-wall time ratio and seeds
//     per minute of a short campaign per registered workload.
//
// Results are written in the shape of Ray's microbenchmark.json (a
// [mean, std] pair per case and a perf_metrics list), with gray's extra
// figures under the key "gray". docs/performance.md explains each case's
// mapping onto gray and what dominates its cost.
//
// The package registers its tasks and actor classes (names prefixed
// "bench.") at init, as gray's worker contract requires.
package bench
