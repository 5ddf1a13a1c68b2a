package gray

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	goruntime "runtime"
	"sync"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/worker"
	"github.com/grayrt/gray/gcs"
	"github.com/grayrt/gray/net"
	"github.com/grayrt/gray/raylet"
)

// actorResource is the resource each node has one unit of per actor slot
// and each actor holds for its lifetime. A node's worker pool has one
// worker per CPU plus one per actor slot, so actors never take the
// workers tasks need (the pool is fixed; Ray would start more workers).
const actorResource = "gray_actor_slot"

// InitOption configures Init.
type InitOption func(*initConfig)

type initConfig struct {
	address     string
	nodes       int
	cpus        int
	gpus        int
	actorSlots  int
	objectStore int64
	logger      *slog.Logger
}

// WithAddress joins an existing cluster at addr instead of starting an
// embedded one. Not supported yet: Init fails with ErrNotSupported. The
// GRAY_ADDRESS environment variable has the same effect.
func WithAddress(addr string) InitOption { return func(c *initConfig) { c.address = addr } }

// WithNodes sets the number of nodes (raylets) of the embedded cluster;
// default 1.
func WithNodes(n int) InitOption { return func(c *initConfig) { c.nodes = n } }

// WithCPUsPerNode sets each node's CPU resource; default the machine's
// CPU count. Each node runs max(CPUs, 2) task workers.
func WithCPUsPerNode(n int) InitOption { return func(c *initConfig) { c.cpus = n } }

// WithGPUsPerNode sets each node's GPU resource (a label for scheduling;
// gray does not drive GPUs); default 0.
func WithGPUsPerNode(n int) InitOption { return func(c *initConfig) { c.gpus = n } }

// WithActorSlotsPerNode sets how many actors a node hosts at once (each
// has a worker process of its own); default 4.
func WithActorSlotsPerNode(n int) InitOption { return func(c *initConfig) { c.actorSlots = n } }

// WithObjectStoreBytes sets each node's plasma store capacity; default
// 256 MiB.
func WithObjectStoreBytes(n int64) InitOption { return func(c *initConfig) { c.objectStore = n } }

// WithLogger sets the logger of the cluster's processes; default errors
// to stderr (a killed actor's worker fail-stops with a warning).
func WithLogger(l *slog.Logger) InitOption { return func(c *initConfig) { c.logger = l } }

// Runtime is a running gray cluster as seen from this program: for now an
// embedded one, started by Init and stopped by Shutdown.
type Runtime struct {
	host    *net.Host
	driver  *caller
	workers map[string]core.Addr // worker process name -> its raylet
	gcsAddr core.Addr
	nodes   int

	closing  chan struct{}
	shutOnce sync.Once
}

var (
	defaultMu sync.Mutex
	defaultRT *Runtime
)

// Init starts an embedded cluster in this program and makes it the
// runtime API calls use (Ray's ray.init()): a GCS, WithNodes raylets each
// with a plasma store and a pool of worker processes, and a driver
// process, all on one net.Host over the in-memory transport. It returns
// once every node has registered with the GCS. Call Shutdown when done.
//
// Joining an existing cluster (WithAddress or GRAY_ADDRESS) is not
// supported yet.
func Init(ctx context.Context, opts ...InitOption) (*Runtime, error) {
	cfg := initConfig{address: os.Getenv("GRAY_ADDRESS"), nodes: 1, cpus: goruntime.NumCPU(), actorSlots: 4}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.address != "" {
		return nil, fmt.Errorf("%w: joining the cluster at %q (only the embedded cluster is; unset GRAY_ADDRESS)", ErrNotSupported, cfg.address)
	}
	if cfg.nodes < 1 || cfg.cpus < 1 || cfg.actorSlots < 0 || cfg.gpus < 0 {
		return nil, fmt.Errorf("gray: bad options: %d nodes, %d CPUs, %d GPUs and %d actor slots per node; want at least one node and one CPU", cfg.nodes, cfg.cpus, cfg.gpus, cfg.actorSlots)
	}
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	}
	defaultMu.Lock()
	defer defaultMu.Unlock()
	if defaultRT != nil {
		return nil, ErrAlreadyInitialized
	}
	rt := &Runtime{workers: map[string]core.Addr{}, closing: make(chan struct{}), nodes: cfg.nodes}
	rt.host = net.NewHost(net.HostOptions{Logger: cfg.logger, OnExit: rt.onExit})
	if err := rt.start(cfg); err != nil {
		rt.host.Close()
		return nil, err
	}
	if err := rt.waitNodes(ctx); err != nil {
		rt.host.Close()
		return nil, err
	}
	defaultRT = rt
	return rt, nil
}

func (rt *Runtime) start(cfg initConfig) error {
	var err error
	if rt.gcsAddr, err = rt.host.Add("gcs", gcs.NewServer(gcs.Config{})); err != nil {
		return err
	}
	res := []any{core.CPU, cfg.cpus}
	if cfg.gpus > 0 {
		res = append(res, core.GPU, cfg.gpus)
	}
	if cfg.actorSlots > 0 {
		res = append(res, actorResource, cfg.actorSlots)
	}
	workers := max(cfg.cpus, 2) + cfg.actorSlots
	var firstRaylet core.Addr
	for i := range cfg.nodes {
		ra, err := rt.host.Add(fmt.Sprintf("raylet-%d", i+1), raylet.New(raylet.Config{
			GCS: rt.gcsAddr, Resources: core.MustResources(res...), ObjectStoreBytes: cfg.objectStore,
		}))
		if err != nil {
			return err
		}
		if i == 0 {
			firstRaylet = ra
		}
		for j := range workers {
			name := fmt.Sprintf("raylet-%d-w%d", i+1, j+1)
			rt.workers[name] = ra
			if _, err := rt.host.Add(name, &workerProc{rt: rt, raylet: ra, gcsAddr: rt.gcsAddr}); err != nil {
				return err
			}
		}
	}
	d := &driverProc{raylet: firstRaylet, gcsAddr: rt.gcsAddr, job: core.JobIDFromInt(1)}
	da, err := rt.host.Add("driver", d)
	if err != nil {
		return err
	}
	rt.driver = &caller{rt: rt, addr: da, cw: func() *worker.Worker { return d.cw },
		gcs: func() *gcs.Client { return d.gcs }, done: rt.closing}
	return nil
}

// onExit restarts a worker process that exited (a killed actor's worker
// fail-stops), so that the node's pool stays full.
func (rt *Runtime) onExit(addr core.Addr, err error) {
	ra, ok := rt.workers[string(addr)]
	if !ok {
		return
	}
	select {
	case <-rt.closing:
		return
	default:
	}
	if _, aerr := rt.host.Add(string(addr), &workerProc{rt: rt, raylet: ra, gcsAddr: rt.gcsAddr}); aerr != nil && !errors.Is(aerr, net.ErrClosed) {
		slog.Default().Error("gray: restarting worker", "worker", string(addr), "exit", err, "err", aerr)
	}
}

// waitNodes waits until every raylet has registered with the GCS, so that
// the first tasks see the whole cluster (and infeasibility is judged
// against all nodes).
func (rt *Runtime) waitNodes(ctx context.Context) error {
	d := rt.driver
	for {
		n, err := do(ctx, d, func(_ *worker.Worker, reply func(int, error)) {
			rt.driver.gcs().GetNodes(func(r gcs.Reply, err error) {
				alive := 0
				for _, n := range r.Nodes {
					if n.State == gcs.NodeAlive {
						alive++
					}
				}
				reply(alive, err)
			})
		})
		if err == nil && n >= rt.nodes {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("gray: waiting for %d nodes to register: %w", rt.nodes, ctx.Err())
		}
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// Shutdown stops every process of the embedded cluster and waits for
// their goroutines, task bodies included (their ctx is cancelled). Calls
// waiting on the runtime fail with ErrShutdown. Later calls do nothing.
func (rt *Runtime) Shutdown() {
	rt.shutOnce.Do(func() {
		close(rt.closing)
		rt.host.Close()
		defaultMu.Lock()
		if defaultRT == rt {
			defaultRT = nil
		}
		defaultMu.Unlock()
	})
}
