package bench

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/gcs"
	gnet "github.com/grayrt/gray/net"
)

// GCSWrites is the write latency of the GCS: sequential KVPuts (one in
// flight, a small value, overwrite) against a single GCS (gcs.NewServer)
// and a replicated one of three replicas (gcs.NewReplica), measured in
// the same run over the same transport, each on the real disk in a
// temporary directory of its own. Every put is acknowledged only once it
// is durable: synced by the single GCS, committed by a quorum of replicas
// (each syncing its own pebble) and confirmed by a read index.
type GCSWrites struct {
	// Transport carries the messages between the client and the GCS
	// processes, each on its own loop of one net.Host; Dir is the parent
	// of the temporary data dirs (the disk measured: $TMPDIR or the
	// system's default).
	Transport string `json:"transport"`
	Dir       string `json:"dir"`
	// ValueBytes is the size of each value; the keys cycle over
	// gcsWriteKeys keys of one namespace.
	ValueBytes int `json:"value_bytes"`
	// FsyncMs and FsyncP50Ms are the mean and the median of an
	// overwrite of ValueBytes in a file of Dir and its fsync, in
	// milliseconds (fsyncLatencies): the disk's floor under every put.
	FsyncMs    float64 `json:"fsync_mean_ms"`
	FsyncP50Ms float64 `json:"fsync_p50_ms"`
	// Single and Replicated are the two configurations.
	Single     GCSWriteFigure `json:"single"`
	Replicated GCSWriteFigure `json:"replicated"`
	// Ratio is the replicated mean latency over the single one's.
	Ratio float64 `json:"replicated_over_single_mean,omitempty"`
}

// GCSWriteFigure is one configuration's figures.
type GCSWriteFigure struct {
	// Config is single or replicated-3.
	Config string `json:"config"`
	// Puts were timed within Seconds of wall time, after a warm-up.
	Puts    int     `json:"puts"`
	Seconds float64 `json:"seconds"`
	// PutsPerSecond is Puts over Seconds; the latencies are from the
	// client's call to its callback, in milliseconds.
	PutsPerSecond float64 `json:"puts_per_second"`
	MeanMs        float64 `json:"mean_ms"`
	P50Ms         float64 `json:"p50_ms"`
	P99Ms         float64 `json:"p99_ms"`
	// CommitMs is, for the replicated GCS, the leader's mean time from
	// proposing a timed put's entry to finding it committed
	// (gcs.ReplicaStats.CommitTime): the leader's log sync, a follower's
	// and the raft round between; not the leader's synced apply that
	// follows, nor the read index.
	CommitMs float64 `json:"commit_ms,omitempty"`
	// ServeSeconds is how long the replicated GCS took from its start to
	// its first acknowledged put (an election and the leader's first
	// entry).
	ServeSeconds float64 `json:"serve_seconds,omitempty"`
	Err          string  `json:"error,omitempty"`
}

const (
	gcsWriteValueBytes = 64
	gcsWriteKeys       = 1000
	gcsWriteNamespace  = "bench"
	// gcsWriteWarmup is how long each configuration is written to before
	// the timed puts (the client's first calls, pebble's first flushes).
	gcsWriteWarmup = 200 * time.Millisecond
	// gcsServeTimeout bounds the wait for the replicated GCS to serve.
	gcsServeTimeout = 30 * time.Second
	gcsFsyncs       = 200
)

// gcsWriteFigures measures both configurations for d each (at least one
// put each) and the disk's fsync.
func gcsWriteFigures(ctx context.Context, d time.Duration) *GCSWrites {
	w := &GCSWrites{Transport: "in-memory (net.Mem)", Dir: os.TempDir(), ValueBytes: gcsWriteValueBytes}
	if lat, err := fsyncLatencies(gcsFsyncs, gcsWriteValueBytes); err == nil {
		w.FsyncMs, w.FsyncP50Ms, _ = latencyStats(lat)
	}
	w.Single = measureGCSWrites(ctx, false, d, 0)
	w.Replicated = measureGCSWrites(ctx, true, d, 0)
	if w.Single.MeanMs > 0 && w.Replicated.MeanMs > 0 {
		w.Ratio = w.Replicated.MeanMs / w.Single.MeanMs
	}
	return w
}

// fsyncLatencies times n overwrites of size bytes, each followed by an
// fsync, in a file of the temporary directory written and synced
// beforehand: no write changes the file's size or its allocation, so
// each sync writes the data alone (the cheapest durable write).
func fsyncLatencies(n, size int) ([]time.Duration, error) {
	f, err := os.CreateTemp("", "gray-bench-fsync-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	b := make([]byte, size)
	if _, err := f.Write(make([]byte, n*size)); err != nil {
		return nil, err
	}
	if err := f.Sync(); err != nil {
		return nil, err
	}
	lat := make([]time.Duration, 0, n)
	for i := range n {
		t := time.Now()
		if _, err := f.WriteAt(b, int64(i*size)); err != nil {
			return nil, err
		}
		if err := f.Sync(); err != nil {
			return nil, err
		}
		lat = append(lat, time.Since(t))
	}
	return lat, nil
}

// measureGCSWrites starts one configuration on a host of its own (a new
// in-memory transport, a temporary data dir removed afterwards), waits
// until it serves, writes for the warm-up, then times sequential puts
// for d, or for puts puts when puts > 0.
func measureGCSWrites(ctx context.Context, replicated bool, d time.Duration, puts int) (f GCSWriteFigure) {
	f.Config = "single"
	if replicated {
		f.Config = "replicated-3"
	}
	if err := runGCSWrites(ctx, replicated, d, puts, &f); err != nil {
		f.Err = err.Error()
	}
	return f
}

func runGCSWrites(ctx context.Context, replicated bool, d time.Duration, puts int, f *GCSWriteFigure) error {
	dir, err := os.MkdirTemp("", "gray-bench-gcs-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	logger := slog.New(slog.DiscardHandler)
	mem := gnet.NewMem()
	exited := make(chan error, 4)
	h := gnet.NewHost(gnet.HostOptions{Transport: mem, DataDir: filepath.Join(dir, "data"), Logger: logger, NoSharedMemory: true,
		OnExit: func(addr core.Addr, err error) {
			select {
			case exited <- fmt.Errorf("%s exited: %w", addr, err):
			default:
			}
		}})
	defer h.Close()

	start := time.Now()
	var target core.Addr
	var replicas []core.Addr
	procs := map[core.Addr]*gcs.Replica{}
	if replicated {
		names := []string{"gcs-1", "gcs-2", "gcs-3"}
		for _, n := range names {
			replicas = append(replicas, core.Addr(n)) // the in-memory transport's address of n is n
		}
		for _, n := range names {
			r := gcs.NewReplica(gcs.Config{Replicas: replicas})
			addr, err := h.Add(n, r)
			if err != nil {
				return err
			}
			if addr != core.Addr(n) {
				return fmt.Errorf("replica %s got address %s", n, addr)
			}
			procs[addr] = r
		}
		target = gcs.JoinAddrs(replicas)
	} else {
		if target, err = h.Add("gcs", gcs.NewServer(gcs.Config{})); err != nil {
			return err
		}
	}
	cp := &gcsWriter{gcs: target}
	caddr, err := h.Add("client", cp)
	if err != nil {
		return err
	}
	run := func(n int, until time.Time) ([]time.Duration, error) {
		done := make(chan writerResult, 1)
		if err := h.Do(caddr, func() { cp.run(n, until, done) }); err != nil {
			return nil, err
		}
		select {
		case r := <-done:
			return r.lat, r.err
		case err := <-exited:
			return nil, err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	// The first put waits until the GCS serves (the client retries
	// Unavailable and follows the leader a replica names).
	if _, err := run(1, time.Time{}); err != nil {
		return fmt.Errorf("first put: %w", err)
	}
	if replicated {
		f.ServeSeconds = time.Since(start).Seconds()
	}
	if _, err := run(0, time.Now().Add(gcsWriteWarmup)); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	var leader core.Addr
	var before gcs.ReplicaStats
	if replicated {
		leader = onLoop(h, caddr, func() core.Addr { return cp.c.Leader() })
		before = replicaStats(h, leader, procs[leader])
	}
	t0 := time.Now()
	until := time.Time{}
	if puts <= 0 {
		until = t0.Add(d)
	}
	lat, err := run(puts, until)
	elapsed := time.Since(t0)
	if err != nil {
		return err
	}
	if replicated {
		after := replicaStats(h, leader, procs[leader])
		if n := after.Committed - before.Committed; n > 0 {
			f.CommitMs = float64((after.CommitTime - before.CommitTime).Microseconds()) / 1000 / float64(n)
		}
	}
	f.Puts, f.Seconds = len(lat), elapsed.Seconds()
	f.PutsPerSecond = float64(len(lat)) / elapsed.Seconds()
	f.MeanMs, f.P50Ms, f.P99Ms = latencyStats(lat)
	return nil
}

// onLoop runs get on the loop of the process at addr and returns its
// result (the zero value if the process is gone).
func onLoop[T any](h *gnet.Host, addr core.Addr, get func() T) T {
	ch := make(chan T, 1)
	if err := h.Do(addr, func() { ch <- get() }); err != nil {
		var zero T
		return zero
	}
	return <-ch
}

// replicaStats returns the stats of the replica r at addr, read on its
// loop (zero if r is nil or gone).
func replicaStats(h *gnet.Host, addr core.Addr, r *gcs.Replica) gcs.ReplicaStats {
	if r == nil {
		return gcs.ReplicaStats{}
	}
	return onLoop(h, addr, r.Stats)
}

// latencyStats returns the mean, median and 99th percentile of lat in
// milliseconds.
func latencyStats(lat []time.Duration) (mean, p50, p99 float64) {
	if len(lat) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	var sum time.Duration
	for _, l := range s {
		sum += l
	}
	ms := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }
	at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return ms(sum) / float64(len(s)), ms(at(0.50)), ms(at(0.99))
}

// gcsWriter is the process of the benchmark's GCS client. Its puts run
// one after another on its loop: each callback starts the next put.
type gcsWriter struct {
	gcs   core.Addr
	c     *gcs.Client
	value []byte
	key   int
}

type writerResult struct {
	lat []time.Duration
	err error
}

func (p *gcsWriter) Start(env core.Env) {
	p.c = gcs.NewClient(env, p.gcs, gcs.ClientOptions{Deadline: gcsServeTimeout})
	p.value = make([]byte, gcsWriteValueBytes)
}

func (p *gcsWriter) Receive(from core.Addr, m core.Message) { p.c.Handle(from, m) }

func (p *gcsWriter) Stop() { p.c.Close() }

// run writes sequentially until n puts are acknowledged (n > 0) or until
// the first acknowledgement at or after until (n ≤ 0), then sends their
// latencies on done. It runs on the process's loop.
func (p *gcsWriter) run(n int, until time.Time, done chan<- writerResult) {
	var lat []time.Duration
	if n > 0 {
		lat = make([]time.Duration, 0, n)
	}
	var put func()
	put = func() {
		key := fmt.Sprintf("k%04d", p.key%gcsWriteKeys)
		p.key++
		t := time.Now()
		p.c.KVPut(gcsWriteNamespace, key, p.value, true, func(_ gcs.Reply, err error) {
			now := time.Now()
			if err != nil {
				done <- writerResult{lat, err}
				return
			}
			lat = append(lat, now.Sub(t))
			if (n > 0 && len(lat) >= n) || (n <= 0 && !now.Before(until)) {
				done <- writerResult{lat, nil}
				return
			}
			put()
		})
	}
	put()
}
