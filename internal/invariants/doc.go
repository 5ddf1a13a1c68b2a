// Package invariants is the switch for expensive self-checks, after
// pebble's internal/invariants: Enabled is true only in builds with the
// `invariants` build tag (go run -tags invariants ./cmd/gray sim run …).
//
// Cheap assertions (a counter about to go negative, a map entry that must
// exist) panic in every build: they catch programmer errors, never
// operating errors, and a simulated run turns the panic into a failed seed
// with its replay command. Checks that cost more than the operation they
// guard — walking a whole table after every event — are written inside
// `if invariants.Enabled { … }`: Enabled is a constant, so without the tag
// the compiler drops them and they cost nothing.
//
// With the tag the simulator also calls CheckInvariants on every process
// that has it after every event delivered to it (sim.InvariantChecker),
// and fails the seed with kind "invariant" at the first violation. The
// GCS, the raylet (with its plasma store) and the core worker (in worker
// and driver processes) implement it.
package invariants
