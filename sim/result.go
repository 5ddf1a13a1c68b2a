package sim

import (
	"fmt"
	"runtime/debug"
	"strings"
	"time"
)

// Counter is how often one named "sometimes" path ran.
type Counter struct {
	Name  string `json:"name"`
	Count int64  `json:"count"`
	// Seeds is, in a campaign's summary, how many seeds reached it.
	Seeds int `json:"seeds,omitempty"`
}

// Result is the outcome of one run.
type Result struct {
	Workload  string `json:"workload"`
	Seed      uint64 `json:"seed"`
	Passed    bool   `json:"passed"`
	Stopped   bool   `json:"stopped,omitempty"` // stopped early by UntilEvent
	Kind      string `json:"kind,omitempty"`    // failure kind: invariant, liveness, panic, budget, codec, linearizability…
	Reason    string `json:"reason,omitempty"`
	FaultSpec string `json:"fault_spec"`
	// Faults is the resolved mix of this seed.
	Faults     string        `json:"faults"`
	Hash       uint64        `json:"hash"`
	Events     int64         `json:"events"`
	Messages   int64         `json:"messages"`
	Dropped    int64         `json:"dropped"`
	SimTime    time.Duration `json:"sim_time_ns"`
	Sometimes  []Counter     `json:"sometimes,omitempty"`
	ReplayArgs []string      `json:"replay_args,omitempty"`
	// Replay is the replay command when it is not gray sim replay's
	// (Config.Replay).
	Replay string `json:"replay,omitempty"`
	// States holds every process's state when the run stopped early
	// (Config.UntilEvent).
	States []ProcState `json:"states,omitempty"`
	// Attachments are the files a failing run offered for its report
	// (World.Attach); nil for passing runs. They are not part of the JSON
	// form: reports save them as files.
	Attachments []Attachment `json:"-"`
	// Wall is the wall-clock time the run took, set by Campaign (both runs
	// with CheckDeterminism). It is the one field that differs between
	// runs of a seed.
	Wall time.Duration `json:"wall_ns,omitempty"`
}

// HashString formats the trace hash as 16 hex digits.
func (r Result) HashString() string { return fmt.Sprintf("%016x", r.Hash) }

// ReplayCommand is the one command that reproduces this run exactly.
func (r Result) ReplayCommand() string {
	if r.Replay != "" {
		return r.Replay
	}
	args := []string{"go run ./cmd/gray sim replay", "--workload", r.Workload, "--seed", fmt.Sprint(r.Seed), "--faults", shellQuote(r.FaultSpec)}
	args = append(args, r.ReplayArgs...)
	return strings.Join(args, " ")
}

// String is the one-line summary printed per run; failures carry the seed
// and the replay command.
func (r Result) String() string {
	if r.Stopped {
		return fmt.Sprintf("STOP %s seed=%d hash=%s events=%d sim=%v (stopped early; end-of-run checks did not run)", r.Workload, r.Seed, r.HashString(), r.Events, r.SimTime)
	}
	if r.Passed {
		return fmt.Sprintf("PASS %s seed=%d hash=%s events=%d sim=%v", r.Workload, r.Seed, r.HashString(), r.Events, r.SimTime)
	}
	if r.Kind == KindCrash {
		// The worker died with the run: there is no hash or count to show.
		return fmt.Sprintf("FAIL %s seed=%d %s: %s\n  faults: %s\n  replay: %s", r.Workload, r.Seed, r.Kind, r.Reason, r.Faults, r.ReplayCommand())
	}
	return fmt.Sprintf("FAIL %s seed=%d hash=%s events=%d sim=%v %s: %s\n  faults: %s\n  replay: %s",
		r.Workload, r.Seed, r.HashString(), r.Events, r.SimTime, r.Kind, r.Reason, r.Faults, r.ReplayCommand())
}

func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t'\"$`\\;&|<>*?()[]{}") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func shortStack() string {
	lines := strings.Split(string(debug.Stack()), "\n")
	if len(lines) > 40 {
		lines = lines[:40]
	}
	return strings.Join(lines, "\n")
}

// mix64 is MurmurHash3's 64-bit finaliser, used to fold events into the
// trace hash.
func mix64(k uint64) uint64 {
	k ^= k >> 33
	k *= 0xff51afd7ed558ccd
	k ^= k >> 33
	k *= 0xc4ceb9fe1a85ec53
	k ^= k >> 33
	return k
}

// hashString is FNV-1a over s.
func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * 1099511628211
	}
	return h
}

// digestBytes is FNV-1a over b, eight bytes at a time where possible.
func digestBytes(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for len(b) >= 8 {
		v := uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
			uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
		h = (h ^ v) * 1099511628211
		b = b[8:]
	}
	for _, c := range b {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return h
}
