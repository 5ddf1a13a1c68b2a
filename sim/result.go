package sim

import (
	"encoding/binary"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/grayrt/gray/internal/invariants"
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
	args := []string{replayPrefix(), "--workload", r.Workload, "--seed", fmt.Sprint(r.Seed), "--faults", ShellQuote(r.FaultSpec)}
	args = append(args, r.ReplayArgs...)
	return strings.Join(args, " ")
}

// replayPrefix is gray sim replay's command line up to its flags. An
// invariants build replays with the tag: an invariant checked only in
// that build fails only in it.
func replayPrefix() string {
	if invariants.Enabled {
		return "go run -tags invariants ./cmd/gray sim replay"
	}
	return "go run ./cmd/gray sim replay"
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

// ShellQuote quotes s for a POSIX shell if it needs quoting: replay
// commands and the command lines of campaign reports use it.
func ShellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"$`\\;&|<>*?()[]{}#~") {
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

// digestBytes hashes every byte of b (a message's encoding, into the
// trace hash): four FNV-1a-style lanes of eight bytes each, so that the
// multiplications do not wait on each other (a 1 MiB plasma chunk is
// hashed ~3x faster than with one lane), folded into one value with the
// tail and the length.
func digestBytes(b []byte) uint64 {
	const prime = 1099511628211
	h0, h1, h2, h3 := uint64(14695981039346656037), uint64(0x9e3779b97f4a7c15), uint64(0xc2b2ae3d27d4eb4f), uint64(0x165667b19e3779f9)
	n := uint64(len(b))
	for len(b) >= 32 {
		h0 = (h0 ^ binary.LittleEndian.Uint64(b[0:])) * prime
		h1 = (h1 ^ binary.LittleEndian.Uint64(b[8:])) * prime
		h2 = (h2 ^ binary.LittleEndian.Uint64(b[16:])) * prime
		h3 = (h3 ^ binary.LittleEndian.Uint64(b[24:])) * prime
		b = b[32:]
	}
	h := h0
	for _, l := range [...]uint64{h1, h2, h3, n} {
		h = (h ^ l) * prime
		h ^= h >> 29
	}
	for _, c := range b {
		h = (h ^ uint64(c)) * prime
	}
	return h
}
