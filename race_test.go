//go:build race

package gray_test

// raceEnabled: the test binary runs under the race detector, which slows
// the in-process cluster by about ten times.
const raceEnabled = true
