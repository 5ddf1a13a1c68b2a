package sim

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Faults sets the network model and the fault rates of one run. Probabilities
// are per message; rates are mean events per simulated second (a Poisson
// process during the fault phase). The zero value is a reliable network with
// no latency; DefaultFaults adds realistic latency.
type Faults struct {
	LatencyBase   time.Duration // every message takes at least this long
	LatencyJitter time.Duration // plus uniform [0, jitter)
	TailProb      float64       // probability of a long-tail delay on top
	TailLatency   time.Duration // the tail delay is uniform [0, TailLatency)

	Drop      float64 // probability a message is lost
	Duplicate float64 // probability a message is delivered twice
	Reorder   float64 // probability a message skips FIFO order and gets extra delay
	// LateDup is the probability that a message also arrives once more,
	// 1–10 s later, after what was sent since and perhaps at a restarted
	// receiver.
	LateDup float64

	Partition float64 // partitions (symmetric or one-way) per second
	Clog      float64 // clogs of a node or link (delivery held back) per second
	Crash     float64 // crashes of a crashable process per second
	DiskError float64 // windows of failing WAL writes per second, on processes with disks
	// Pause is process pauses per second: a live process stops handling
	// messages, timers and its coroutines for up to PauseMax (a SIGSTOP, a
	// VM freeze, a long GC pause), then handles everything that queued up
	// in the order it became due. Its clock keeps running; its peers see
	// nothing but silence.
	Pause float64
	// PauseMax bounds a pause; 0 means DefaultPauseMax.
	PauseMax time.Duration
	// Corrupt is disk corruptions at rest per second: a process with a
	// disk is stopped cleanly (as an operator restarts it), one of its
	// files is damaged (bytes flipped, truncated, or removed) and it
	// starts again on that disk. It must either serve everything it
	// acknowledged or refuse the disk (core.ErrUnrecoverable), after which
	// the operator restores the copy taken before the damage.
	Corrupt float64
	// ClockJump is clock steps per second: a live process's clock jumps
	// forward or back by 0.1–5 s, as NTP steps a clock that drifted too
	// far (rates stay within DriftPPM). Its timers keep their durations;
	// only what it reads from Now moves.
	ClockJump float64
	// DiskLoss is disk losses per second: a live process whose disk may
	// be lost (ProcOptions.LosableDisk: a replica of replicated storage)
	// crashes and restarts on an empty disk, as after a disk replacement.
	// The workload may veto a loss (DiskLossGuard) that would take more
	// than its replication tolerates.
	DiskLoss float64
	// SendHold is how long a message may stay inside its sender after
	// Send: each waits a uniform [0, SendHold) (a user-space queue, a
	// transport's buffer) before it leaves, in order per link, and a
	// crash of the sender before then loses it. A message to another
	// process is only safe once it left (core.SendBarrier.AfterSent).
	SendHold time.Duration
	// ShmRefuse is the probability that creating or opening a shared
	// memory segment fails during the fault phase (a full /dev/shm, a
	// failed mmap): the components must then move the bytes in messages.
	ShmRefuse float64

	// UnsyncedKeepPct is the share (0–100) of unsynced disk data that
	// survives a crash; 0 keeps exactly the synced state.
	UnsyncedKeepPct int
	// DriftPPM bounds each process's clock drift, in parts per million.
	DriftPPM int
}

// DefaultPauseMax bounds a pause when Faults.PauseMax is zero: long
// enough to outlast every failure detector's timeout in the workloads
// (and the GCS's default of 10 s).
const DefaultPauseMax = 15 * time.Second

// DefaultFaults is the network of "none": reliable, with LAN-like latency
// and mild clock drift, so that timing-dependent code is still exercised.
func DefaultFaults() Faults {
	return Faults{LatencyBase: 500 * time.Microsecond, LatencyJitter: time.Millisecond, DriftPPM: 100}
}

// Any reports whether f injects any fault (beyond latency and drift).
func (f Faults) Any() bool {
	return f.Drop > 0 || f.Duplicate > 0 || f.Reorder > 0 || f.LateDup > 0 || f.TailProb > 0 || f.Partition > 0 ||
		f.Clog > 0 || f.Crash > 0 || f.DiskError > 0 || f.Pause > 0 || f.Corrupt > 0 || f.ClockJump > 0 || f.ShmRefuse > 0 || f.DiskLoss > 0 ||
		f.SendHold > 0
}

// pauseMax is the longest pause of the mix.
func (f Faults) pauseMax() time.Duration {
	if f.PauseMax > 0 {
		return f.PauseMax
	}
	return DefaultPauseMax
}

// Swarm draws a random fault mix from r, as swarm testing does: each fault
// is switched on with probability one half and given a random rate, so that
// across seeds rare combinations (only duplication, only crashes…) get runs
// of their own instead of being drowned in every fault at once.
func Swarm(r *rand.Rand) Faults {
	f := DefaultFaults()
	on := func() bool { return r.IntN(2) == 0 }
	f.LatencyBase = time.Duration(100+r.IntN(2000)) * time.Microsecond
	f.LatencyJitter = time.Duration(r.IntN(5000)) * time.Microsecond
	if on() {
		f.TailProb = 0.001 + r.Float64()*0.02
		f.TailLatency = time.Duration(50+r.IntN(1000)) * time.Millisecond
	}
	if on() {
		f.Drop = r.Float64() * 0.1
	}
	if on() {
		f.Duplicate = r.Float64() * 0.05
	}
	if on() {
		f.Reorder = r.Float64() * 0.1
	}
	if on() {
		f.Partition = 0.05 + r.Float64()*0.5
	}
	if on() {
		f.Clog = 0.05 + r.Float64()*0.5
	}
	if on() {
		f.Crash = 0.05 + r.Float64()*0.4
	}
	if on() {
		f.DiskError = 0.02 + r.Float64()*0.2
	}
	if on() {
		f.UnsyncedKeepPct = r.IntN(101)
	}
	f.DriftPPM = r.IntN(500)
	// Faults added later are drawn after the older ones, so that the
	// older faults of a seed keep their values.
	if on() {
		f.Pause = 0.02 + r.Float64()*0.2
	}
	if on() {
		f.Corrupt = 0.02 + r.Float64()*0.2
	}
	if on() {
		f.LateDup = r.Float64() * 0.02
	}
	if on() {
		f.ClockJump = 0.02 + r.Float64()*0.2
	}
	if on() {
		f.ShmRefuse = r.Float64() * 0.3
	}
	if on() {
		f.DiskLoss = 0.02 + r.Float64()*0.1
	}
	if on() {
		f.SendHold = time.Duration(1+r.IntN(2000)) * time.Microsecond
	}
	return f
}

// ResolveFaults turns a fault spec into rates for one seed: "none", "swarm"
// (a mix drawn from the seed) or a comma-separated list such as
// "drop=0.05,dup=0.01,partition=0.2,crash=0.1" on top of DefaultFaults.
// Keys: latency, jitter, tail, tail_latency, drop, dup, reorder, partition,
// clog, crash, disk, pause, pause_max, corrupt, disk_loss, late_dup, clock_jump, shm_refuse, send_hold, unsynced, drift.
func ResolveFaults(spec string, seed uint64) (Faults, error) {
	switch spec {
	case "", "none":
		return DefaultFaults(), nil
	case "swarm":
		return Swarm(rand.New(rand.NewPCG(seed, streamSwarm))), nil
	}
	f := DefaultFaults()
	for _, kv := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return f, fmt.Errorf("sim: fault %q: want key=value (or none, swarm)", kv)
		}
		var err error
		switch k {
		case "latency":
			f.LatencyBase, err = time.ParseDuration(v)
		case "jitter":
			f.LatencyJitter, err = time.ParseDuration(v)
		case "tail":
			f.TailProb, err = parseProb(v)
			if f.TailLatency == 0 {
				f.TailLatency = 500 * time.Millisecond
			}
		case "tail_latency":
			f.TailLatency, err = time.ParseDuration(v)
		case "drop":
			f.Drop, err = parseProb(v)
		case "dup":
			f.Duplicate, err = parseProb(v)
		case "reorder":
			f.Reorder, err = parseProb(v)
		case "late_dup":
			f.LateDup, err = parseProb(v)
		case "partition":
			f.Partition, err = parseRate(v)
		case "clog":
			f.Clog, err = parseRate(v)
		case "crash":
			f.Crash, err = parseRate(v)
		case "disk":
			f.DiskError, err = parseRate(v)
		case "pause":
			f.Pause, err = parseRate(v)
		case "corrupt":
			f.Corrupt, err = parseRate(v)
		case "disk_loss":
			f.DiskLoss, err = parseRate(v)
		case "clock_jump":
			f.ClockJump, err = parseRate(v)
		case "shm_refuse":
			f.ShmRefuse, err = parseProb(v)
		case "pause_max":
			f.PauseMax, err = time.ParseDuration(v)
			if err == nil && (f.PauseMax < time.Millisecond || f.PauseMax > 10*time.Minute) {
				err = fmt.Errorf("want a duration from 1ms to 10m")
			}
		case "send_hold":
			f.SendHold, err = time.ParseDuration(v)
			if err == nil && (f.SendHold < 0 || f.SendHold > time.Second) {
				err = fmt.Errorf("want a duration from 0 to 1s")
			}
		case "unsynced":
			f.UnsyncedKeepPct, err = strconv.Atoi(v)
			if err == nil && (f.UnsyncedKeepPct < 0 || f.UnsyncedKeepPct > 100) {
				err = fmt.Errorf("want a percentage 0..100")
			}
		case "drift":
			f.DriftPPM, err = strconv.Atoi(v)
		default:
			return f, fmt.Errorf("sim: unknown fault %q (known: latency jitter tail tail_latency drop dup reorder partition clog crash disk pause pause_max corrupt disk_loss late_dup clock_jump shm_refuse unsynced drift)", k)
		}
		if err != nil {
			return f, fmt.Errorf("sim: fault %s=%s: %v", k, v, err)
		}
	}
	return f, nil
}

func parseProb(v string) (float64, error) {
	p, err := strconv.ParseFloat(v, 64)
	if err != nil || !(p >= 0 && p <= 1) { // the negation also rejects NaN

		return 0, fmt.Errorf("want a probability in [0, 1]")
	}
	return p, nil
}

func parseRate(v string) (float64, error) {
	p, err := strconv.ParseFloat(strings.TrimSuffix(v, "/s"), 64)
	if err != nil || !(p >= 0 && p <= 1000) { // the negation also rejects NaN

		return 0, fmt.Errorf("want a rate per second in [0, 1000]")
	}
	return p, nil
}

// String prints the mix in the syntax ResolveFaults accepts, exactly:
// floats in the shortest form that parses back to the same value (%g) and
// durations in full (time.Duration.String), so that
// ResolveFaults(f.String(), seed) == f for every mix. A printed mix can be
// pasted back as --faults, and `gray sim shrink` relies on that to turn a
// swarm seed into an explicit list that replays the very same run.
func (f Faults) String() string {
	var parts []string
	add := func(s string, args ...any) { parts = append(parts, fmt.Sprintf(s, args...)) }
	add("latency=%v", f.LatencyBase)
	add("jitter=%v", f.LatencyJitter)
	if f.TailProb > 0 {
		add("tail=%g", f.TailProb)
	}
	// tail_latency goes after tail, which sets a default for it, and is
	// printed whenever it differs from what parsing the rest would give.
	if f.TailProb > 0 || f.TailLatency != 0 {
		add("tail_latency=%v", f.TailLatency)
	}
	for _, p := range []struct {
		k string
		v float64
	}{
		{"drop", f.Drop}, {"dup", f.Duplicate}, {"reorder", f.Reorder}, {"late_dup", f.LateDup},
		{"partition", f.Partition}, {"clog", f.Clog}, {"crash", f.Crash}, {"disk", f.DiskError},
		{"pause", f.Pause}, {"corrupt", f.Corrupt}, {"clock_jump", f.ClockJump}, {"disk_loss", f.DiskLoss},
	} {
		if p.v > 0 {
			add("%s=%g", p.k, p.v)
		}
	}
	if f.ShmRefuse > 0 {
		add("shm_refuse=%g", f.ShmRefuse)
	}
	if f.PauseMax != 0 {
		add("pause_max=%v", f.PauseMax)
	}
	if f.SendHold != 0 {
		add("send_hold=%v", f.SendHold)
	}
	if f.UnsyncedKeepPct > 0 {
		add("unsynced=%d", f.UnsyncedKeepPct)
	}
	add("drift=%d", f.DriftPPM)
	return strings.Join(parts, ",")
}
