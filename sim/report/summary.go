package report

import (
	"github.com/grayrt/gray/sim"
)

// Summary is the machine-readable campaign summary: the last line of
// stdout of `gray sim run --json`, and summary.json in a report folder.
type Summary struct {
	Workload         string  `json:"workload"`
	FaultSpec        string  `json:"fault_spec"`
	Seeds            int     `json:"seeds"`
	Total            int     `json:"total"`
	Passed           int     `json:"passed"`
	Failed           int     `json:"failed"`
	Events           int64   `json:"events"`
	SimSeconds       float64 `json:"sim_seconds"`
	WallSeconds      float64 `json:"wall_seconds"`
	EventsPerSecond  float64 `json:"events_per_second"`
	CheckDeterminism bool    `json:"check_determinism"`
	// BudgetSeconds is --for, 0 without; OutOfTime says it was spent
	// before every seed ran.
	BudgetSeconds float64 `json:"budget_seconds,omitempty"`
	OutOfTime     bool    `json:"out_of_time,omitempty"`
	// CodeVersion and CommandLine say how to get the same runs again.
	CodeVersion string        `json:"code_version"`
	CommandLine string        `json:"command_line"`
	Failures    []Failure     `json:"failures"`
	Sometimes   []sim.Counter `json:"sometimes"`
	// Coverage lists the paths the workload declares with their counts,
	// NotReached those with none.
	Coverage   []sim.Counter `json:"coverage"`
	NotReached []string      `json:"not_reached"`
}

// Failure is one failing seed.
type Failure struct {
	Seed   uint64 `json:"seed"`
	Kind   string `json:"kind"`
	Reason string `json:"reason"`
	Faults string `json:"faults"`
	Replay string `json:"replay"`
	Hash   string `json:"hash"`
	Events int64  `json:"events"`
	// With --out: the seed's folder, the files in it, and what the re-run
	// that wrote the traces found.
	Dir   string   `json:"dir,omitempty"`
	Files []string `json:"files,omitempty"`
	Note  string   `json:"note,omitempty"`
}

// NewSummary is the summary of campaign c's run s; cmdline is the command
// that ran it, quoted for a shell (see sim.ShellQuote).
func NewSummary(c sim.Campaign, s sim.Summary, cmdline string) Summary {
	js := Summary{
		Workload: s.Workload, FaultSpec: s.FaultSpec, Seeds: s.Seeds, Total: s.Total, Passed: s.Passed, Failed: s.Failed,
		Events: s.Events, SimSeconds: s.SimSeconds, WallSeconds: s.WallSeconds, EventsPerSecond: s.EventsPerSecond,
		CheckDeterminism: c.CheckDeterminism, BudgetSeconds: c.For.Seconds(), OutOfTime: s.OutOfTime,
		CodeVersion: sim.CodeVersion(), CommandLine: cmdline,
		// Empty lists rather than null, so that consumers need no special case.
		Failures:   []Failure{},
		Sometimes:  append([]sim.Counter{}, s.Sometimes...),
		Coverage:   append([]sim.Counter{}, s.Coverage...),
		NotReached: append([]string{}, s.NotReached...),
	}
	for _, f := range s.Failures {
		js.Failures = append(js.Failures, Failure{
			Seed: f.Seed, Kind: f.Kind, Reason: f.Reason, Faults: f.Faults, Replay: f.ReplayCommand(), Hash: f.HashString(), Events: f.Events,
		})
	}
	return js
}
