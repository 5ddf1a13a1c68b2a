// Package core holds gray's shared vocabulary: typed IDs derived as Ray
// derives them, fixed-point resources, the message codec (msgpack in a
// versioned envelope), and the Env/Process seam through which every sans-IO
// component (GCS, raylet, plasma, core worker) touches the world.
//
// Nothing in this package does IO. Drivers of the Env live elsewhere: the
// deterministic simulator in package sim and the real process host in
// package net. The determinism linter (cmd/graylint) enforces the rules in
// this package and in every component package: no goroutines, channels,
// locks, wall clock, global randomness, os or network, and map iteration
// only where order cannot matter.
package core
