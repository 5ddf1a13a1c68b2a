// Package raylet is gray's node manager, after Ray's raylet: one per node,
// it registers the node with the GCS, accounts for the node's resources,
// schedules lease requests, owns the node's plasma store and moves objects
// between nodes. Like every control-plane package it is sans-IO and
// deterministic.
//
// The package is being built. scheduling.go holds the scheduling policy as
// pure functions of a cluster view: Policy.Decide chooses, for one resource
// demand and one strategy (hybrid by default, spread, or node affinity),
// whether to place the work on a node now, wait for capacity, or report it
// infeasible.
package raylet
