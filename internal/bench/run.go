package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/grayrt/gray"
)

// Setting is where the cases run: how to get a runtime for one case. The
// cases only use the gray API through the runtime Start makes current,
// so a setting is nothing more.
type Setting struct {
	// Name is embedded or cluster.
	Name string
	// Start returns a fresh runtime on which actors live actors fit at
	// once; the case calls Shutdown when done.
	Start func(ctx context.Context, actors int) (*gray.Runtime, error)
	// Limit names the limit that bounds calls in this setting: the
	// channel round trip in one process, the libp2p round trip across
	// processes.
	Limit string
	// BytesLimit names the limit that bounds the gigabyte cases: memcpy
	// in one process (also when empty), one libp2p stream's throughput
	// across processes.
	BytesLimit string
	// Close releases what the setting started (the cluster's head
	// process); nil when there is nothing.
	Close func()
}

// ErrClusterNeedsNode: SettingNamed cannot make the cluster setting,
// which needs the command of its head process; use ClusterSetting.
var ErrClusterNeedsNode = errors.New("bench: the cluster setting needs a node command: use ClusterSetting")

// SettingNamed returns the setting called name: embedded (gray.Init
// with default options, room for every case's actors) or cluster (not supported yet).
func SettingNamed(name string) (Setting, error) {
	switch name {
	case "embedded":
		return Setting{Name: name, Limit: limitChan, BytesLimit: limitMemcpy, Start: func(ctx context.Context, actors int) (*gray.Runtime, error) {
			// Every actor gets a worker process of its own, within the
			// default cap (at least 16 workers).
			return gray.Init(ctx, gray.WithMaxWorkersPerNode(max(actors, gray.DefaultMaxWorkers(0))+max(runtime.NumCPU(), 2)))
		}}, nil
	case "cluster":
		return Setting{}, ErrClusterNeedsNode
	default:
		return Setting{}, fmt.Errorf("bench: unknown setting %q (embedded or cluster)", name)
	}
}

// Config is one run of the suite.
type Config struct {
	Setting Setting
	// Timing is how long each case is measured.
	Timing Timing
	// LimitTiming is how long each measurement of a limit is; it runs at
	// least limitRoundsMin rounds whatever it says.
	LimitTiming Timing
	// Shrink divides Ray's batch sizes; 1 runs Ray's.
	Shrink int
	// ShrinkBytes divides the sizes of large objects (down to 256 KiB,
	// still above the inline limit); 1 keeps them.
	ShrinkBytes int
	// Cases selects cases by name; nil runs all. Every limit and the
	// simulator figures are measured whatever it says: a limit that bounds
	// no selected case once, at the start.
	Cases *regexp.Regexp
	// Peer makes the command of the libp2p peer process (the gray binary
	// re-executed as `gray bench peer`); nil skips the libp2p limits.
	Peer func(ctx context.Context) *exec.Cmd
	// SimBudget is the wall-clock budget of each workload's campaign; 0
	// skips the simulator figures.
	SimBudget time.Duration
	// GCSWrites is how long sequential puts are timed against each
	// configuration of the GCS (single and replicated, after a warm-up);
	// 0 skips the GCS write figures.
	GCSWrites time.Duration
	// Log receives one line per finished measurement; nil discards.
	Log io.Writer
	// CPUProfile, when set, receives a CPU profile of the cases (not of
	// the limits or the simulator, which would drown them).
	CPUProfile io.Writer
}

// CaseResult is one case's figure.
type CaseResult struct {
	Name string  `json:"name"`
	Unit string  `json:"unit"`
	Mean float64 `json:"mean"`
	Std  float64 `json:"std"`
	// Limit names the limit the figure is compared with, and LimitBest
	// is the best round of that limit's measurement right before the
	// case's block of cases. Ratio is Mean divided by LimitBest; for a
	// case whose operation is a batch, Mean times the calls of a batch
	// divided by it.
	Limit     string  `json:"limit,omitempty"`
	LimitBest float64 `json:"limit_best,omitempty"`
	Ratio     float64 `json:"ratio_to_limit,omitempty"`
	// Ray is Ray's published mean for the case (RaySource), 0 if none.
	Ray float64 `json:"ray_published,omitempty"`
	// Note says how the case maps onto gray where it differs from Ray.
	Note string `json:"note,omitempty"`
	// Unavailable says why gray cannot run the case; Err why it failed.
	Unavailable string `json:"not_available,omitempty"`
	Err         string `json:"error,omitempty"`
	// Seconds is the case's wall time: runtime start, setup, timing.
	Seconds float64 `json:"seconds"`
}

// Machine describes where the run happened.
type Machine struct {
	GOOS      string `json:"goos"`
	GOARCH    string `json:"goarch"`
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpu_model,omitempty"`
	GoVersion string `json:"go_version"`
}

// Report is the outcome of a run.
type Report struct {
	// Setting is where the cases ran; Machine where the run happened.
	Setting string  `json:"setting"`
	Machine Machine `json:"machine"`
	// Timing describes Config.Timing and LimitTiming Config.LimitTiming;
	// Shrink and ShrinkBytes are Config's (1: Ray's batches, gray's full
	// object sizes).
	Timing      string `json:"timing"`
	LimitTiming string `json:"limit_timing"`
	Shrink      int    `json:"shrink"`
	ShrinkBytes int    `json:"shrink_bytes"`
	// Cases, Limits, Sim and GCSWrites are the parts of the run (each limit
	// is measured right before the cases compared with it).
	Cases  []CaseResult `json:"cases"`
	Limits []Limit      `json:"limits"`
	Sim    []SimFigure  `json:"simulator"`
	// GCSWrites is the GCS's write latency, single and replicated (nil
	// when skipped).
	GCSWrites *GCSWrites `json:"gcs_writes,omitempty"`
	// Started and Seconds time the whole run.
	Started time.Time `json:"started"`
	Seconds float64   `json:"seconds"`
}

// CaseNames lists every case of the suite, Ray's names in ray_perf.py's
// order.
func CaseNames() []string {
	var names []string
	for _, c := range cases() {
		names = append(names, c.name)
	}
	return names
}

// Run measures the limits, the selected cases, the GCS's writes and the
// simulator. A case that fails is reported with its error and the run
// goes on; Run returns an error only for a bad Config or when ctx ends.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Setting.Start == nil {
		return nil, errors.New("bench: no setting")
	}
	cfg.Shrink, cfg.ShrinkBytes = max(cfg.Shrink, 1), max(cfg.ShrinkBytes, 1)
	cfg.LimitTiming.Rounds = max(cfg.LimitTiming.Rounds, limitRoundsMin)
	logw := cfg.Log
	if logw == nil {
		logw = io.Discard
	}
	start := time.Now()
	rep := &Report{Setting: cfg.Setting.Name, Machine: machine(), Shrink: cfg.Shrink, ShrinkBytes: cfg.ShrinkBytes, Started: start.UTC(),
		Timing: fmt.Sprintf("warm-up %v, %d rounds of %v", cfg.Timing.Warmup, cfg.Timing.Rounds, cfg.Timing.Round),
		LimitTiming: fmt.Sprintf("warm-up %v, %d rounds of %v, right before each block of cases a limit bounds",
			cfg.LimitTiming.Warmup, cfg.LimitTiming.Rounds, cfg.LimitTiming.Round)}
	if cfg.Timing.Budget > 0 {
		rep.Timing += fmt.Sprintf(" (at most %v of rounds)", cfg.Timing.Budget)
	}

	lim := newLimiter(cfg.LimitTiming, cfg.Peer, logw)
	defer lim.closePeer()
	steps := plan(cases(), cfg.Setting, cfg.Cases)
	for _, name := range contextLimits(limitDefs(), steps, cfg.Peer != nil) {
		lim.measure(ctx, name, "")
	}
	rep.Limits = lim.report()
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	if cfg.CPUProfile != nil {
		if err := pprof.StartCPUProfile(cfg.CPUProfile); err != nil {
			return rep, fmt.Errorf("bench: cpu profile: %w", err)
		}
	}
	rep.Cases = runCases(ctx, cfg, steps, lim, logw)
	if cfg.CPUProfile != nil {
		pprof.StopCPUProfile()
	}
	lim.closePeer()
	rep.Limits = lim.report()
	if err := ctx.Err(); err != nil {
		return rep, err
	}

	if cfg.GCSWrites > 0 {
		rep.GCSWrites = gcsWriteFigures(ctx, cfg.GCSWrites)
		for _, f := range []GCSWriteFigure{rep.GCSWrites.Single, rep.GCSWrites.Replicated} {
			fmt.Fprintf(logw, "gcs   %-12s %s\n", f.Config, gcsWriteText(f))
		}
		if err := ctx.Err(); err != nil {
			return rep, err
		}
	}
	if cfg.SimBudget > 0 {
		rep.Sim = simFigures(ctx, cfg.SimBudget)
		for _, f := range rep.Sim {
			fmt.Fprintf(logw, "sim   %-10s %.0f events/s, %.1f× simulated/wall, %.0f seeds/min\n", f.Workload, f.EventsPerSecond, f.SimToWall, f.SeedsPerMinute)
		}
	}
	rep.Seconds = time.Since(start).Seconds()
	return rep, ctx.Err()
}

// runCases runs the planned cases, measuring each block's limit right
// before it, and gives each case its ratio to the best round of that
// measurement. The peer process stops once no later block needs it.
func runCases(ctx context.Context, cfg Config, steps []step, lim *limiter, logw io.Writer) []CaseResult {
	peerLast := -1 // the last step that measures a limit of the peer
	for i, st := range steps {
		if st.measure && lim.defs[st.limit].peer {
			peerLast = i
		}
	}
	if peerLast < 0 {
		lim.closePeer()
	}
	var out []CaseResult
	for i, st := range steps {
		if st.measure {
			lim.measure(ctx, st.limit, st.c.name)
			if i == peerLast {
				lim.closePeer()
			}
		}
		r := runCase(ctx, cfg, st.c)
		r.Limit = st.limit
		if best := lim.best(st.limit); st.limit != "" && best > 0 && r.Err == "" {
			r.LimitBest = best
			r.Ratio = ratio(r.Mean, st.c, best)
		}
		out = append(out, r)
		fmt.Fprintf(logw, "case  %-45s %s\n", r.Name, caseFigure(r))
		if ctx.Err() != nil {
			break
		}
	}
	return out
}

// ratio is a case's figure mean compared with its limit's best round:
// per call for a case whose operation is a batch of c.items calls.
func ratio(mean float64, c caseDef, best float64) float64 {
	return mean * float64(max(c.items, 1)) / best
}

// runCase runs one case on a fresh runtime.
func runCase(ctx context.Context, cfg Config, c caseDef) (r CaseResult) {
	r = CaseResult{Name: c.name, Unit: "ops/s", Ray: rayPublished[c.name], Note: c.note, Unavailable: c.unavailable}
	if c.gigabytes {
		r.Unit = "GB/s"
	}
	if c.unavailable != "" {
		return r
	}
	start := time.Now()
	defer func() { r.Seconds = time.Since(start).Seconds() }()
	ctx, cancel := context.WithTimeout(ctx, caseTimeout)
	defer cancel()
	rt, err := cfg.Setting.Start(ctx, c.actors)
	if err != nil {
		r.Err = fmt.Sprintf("starting the runtime: %v", err)
		return r
	}
	defer rt.Shutdown()
	b, err := c.setup(ctx, sizes{shrink: cfg.Shrink, shrinkBytes: cfg.ShrinkBytes})
	if err != nil {
		r.Err = fmt.Sprintf("setup: %v", err)
		return r
	}
	rates, err := timeit(ctx, cfg.Timing, b.mult, b.fn)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	s := meanStd(rates)
	r.Mean, r.Std = s.Mean, s.Std
	return r
}

func machine() Machine {
	m := Machine{GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}
