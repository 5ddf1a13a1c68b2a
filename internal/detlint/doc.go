// Package detlint defines the determinism linter for gray's sans-IO
// packages.
//
// gray's control plane (packages core, core/worker, gcs, raylet and plasma)
// is written as deterministic state machines: a driver feeds each process
// messages and timer callbacks one at a time on a single event loop, and the
// process touches the world only through the injected core.Env. The
// simulator relies on this to replay any run bit for bit from its seed, so a
// single goroutine, wall-clock read or map iteration that leaks into behavior
// makes failures unreproducible. Analyzer reports the constructs that break
// this contract:
//
//   - go statements (use env.Go);
//   - channel sends, receives, select statements, range over a channel,
//     make(chan ...) and channel types;
//   - any use of package sync or sync/atomic;
//   - time.Now, time.Since, time.Until, time.Sleep, time.After, time.Tick,
//     time.NewTimer, time.NewTicker and time.AfterFunc (use env.Now and
//     env.AfterFunc); time.Duration, time.Time and pure helpers such as
//     time.Unix stay allowed;
//   - top-level functions of math/rand and math/rand/v2 that draw from the
//     global source (use env.Rand); constructors such as rand.New and
//     rand.NewPCG and methods of *rand.Rand stay allowed;
//   - imports of crypto/rand, os, os/..., net, net/..., syscall, io/ioutil,
//     github.com/libp2p/... and github.com/multiformats/...;
//   - range over a map, or over maps.Keys, maps.Values or maps.All of one,
//     unless the loop is marked as order-independent.
//
// # Marking unordered map iteration
//
// A map range whose result cannot depend on iteration order (a sum, a
// collection that is sorted right after the loop) is allowed when a
// directive with a reason sits on the line of the for statement or on the
// line right above it:
//
//	for name, q := range m { //gray:unordered sorted right after the loop
//
// A directive without a reason is itself reported: the reason is what a
// reviewer checks.
//
// # Which packages are checked
//
// Only non-test files (not ending in _test.go) of sans-IO packages are
// checked. A package is sans-IO if its import path equals or lies under one
// of the prefixes given by the -packages flag (comma-separated; by default
// github.com/grayrt/gray/core, .../gcs, .../raylet and .../plasma), or if
// the doc comment of any of its non-test files contains the line
//
//	//gray:sansio
//
// Packages under github.com/grayrt/gray/internal/detlint/testdata are
// fixtures for this package's tests and are never checked in place.
//
// The command cmd/graylint runs Analyzer over the module.
package detlint
