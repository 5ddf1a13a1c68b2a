// Package workload holds the simulation workloads that drive gray's real
// components (GCS, raylet, plasma, core worker) inside the simulator, with
// their invariants and test-only buggy variants. Each workload registers
// itself with package sim by name; import this package for its side effect
// to make them available:
//
//	import _ "github.com/grayrt/gray/sim/workload"
package workload
