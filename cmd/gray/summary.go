package main

import (
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/grayrt/gray/sim"
)

// jsonSummary is the machine-readable campaign summary: the last line of
// stdout with --json, and summary.json with --out.
type jsonSummary struct {
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
	Failures    []jsonFailure `json:"failures"`
	Sometimes   []sim.Counter `json:"sometimes"`
	// Coverage lists the paths the workload declares with their counts,
	// NotReached those with none.
	Coverage   []sim.Counter `json:"coverage"`
	NotReached []string      `json:"not_reached"`
}

// jsonFailure is one failing seed.
type jsonFailure struct {
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

func newJSONSummary(c sim.Campaign, s sim.Summary, cmdline string) jsonSummary {
	js := jsonSummary{
		Workload: s.Workload, FaultSpec: s.FaultSpec, Seeds: s.Seeds, Total: s.Total, Passed: s.Passed, Failed: s.Failed,
		Events: s.Events, SimSeconds: s.SimSeconds, WallSeconds: s.WallSeconds, EventsPerSecond: s.EventsPerSecond,
		CheckDeterminism: c.CheckDeterminism, BudgetSeconds: c.For.Seconds(), OutOfTime: s.OutOfTime,
		CodeVersion: sim.CodeVersion(), CommandLine: cmdline,
		// Empty lists rather than null, so that consumers need no special case.
		Failures:   []jsonFailure{},
		Sometimes:  append([]sim.Counter{}, s.Sometimes...),
		Coverage:   append([]sim.Counter{}, s.Coverage...),
		NotReached: append([]string{}, s.NotReached...),
	}
	for _, f := range s.Failures {
		js.Failures = append(js.Failures, jsonFailure{
			Seed: f.Seed, Kind: f.Kind, Reason: f.Reason, Faults: f.Faults, Replay: f.ReplayCommand(), Hash: f.HashString(), Events: f.Events,
		})
	}
	return js
}

// commandLine is the command the user ran, as "gray" and its arguments
// quoted for a shell.
func commandLine(c *cli.Context) string {
	args, _ := c.App.Metadata[metaArgs].([]string)
	parts := []string{"gray"}
	for _, a := range args {
		parts = append(parts, shellQuote(a))
	}
	return strings.Join(parts, " ")
}

// shellQuote quotes s for a POSIX shell if it needs quoting, the way
// sim.Result.ReplayCommand does.
func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"$`\\;&|<>*?()[]{}#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
