package workload

import "strings"

// Launched workers in the launch workload (the cluster workload with
// launch set): every other driver's job has a (pretend) staged binary, so its tasks and actors run on workers the
// raylets launch, as stock grayd hosts do. simlaunch.Launcher models the
// host's launcher: a start latency, launches that fail, and exits
// reported to the raylet; the nemesis crashes launched workers like any
// process.

// simBinary is the staged binary of the drivers that have one.
var simBinary = strings.Repeat("5e", 32)

// binaryOf returns the binary driver idx's job runs: in the launch
// workload, every other driver's.
func (c *cluster) binaryOf(idx int) string {
	if c.launch && idx%2 == 1 {
		return simBinary
	}
	return ""
}

// launchFailPct is the share of launches that fail to start.
const launchFailPct = 5
