package gray

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	goruntime "runtime"
	"sync"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/worker"
	"github.com/grayrt/gray/gcs"
	"github.com/grayrt/gray/internal/process"
	"github.com/grayrt/gray/net"
	"github.com/grayrt/gray/raylet"
)

// InitOption configures Init.
type InitOption func(*initConfig)

type initConfig struct {
	address     string
	secretFile  string
	listen      string
	raylet      string
	timeout     time.Duration
	logOut      io.Writer
	logOutSet   bool
	nodes       int
	cpus        int
	gpus        int
	maxWorkers  int
	objectStore int64
	logger      *slog.Logger
	labels      []map[string]string
}

// WithAddress joins the cluster whose GCS is at addr (the address grayd
// --head printed) as a driver instead of starting an embedded cluster.
// The GRAY_ADDRESS environment variable has the same effect. The nodes
// that run the job's tasks must be built from this program (see
// StartNode): a stock grayd node knows no user function.
func WithAddress(addr string) InitOption { return func(c *initConfig) { c.address = addr } }

// WithSecretFile names the cluster secret file a driver joining with
// WithAddress reads (a copy of the head's, mode 0600). Default
// GRAY_SECRET_FILE, else ~/.gray/head/cluster-secret.
func WithSecretFile(path string) InitOption { return func(c *initConfig) { c.secretFile = path } }

// WithListen sets the multiaddr a joining driver listens on, which the
// cluster's workers reach it at (they return results to it and fetch the
// objects it owns). Default: loopback when the GCS address is loopback,
// else every interface, port chosen by the system.
func WithListen(multiaddr string) InitOption { return func(c *initConfig) { c.listen = multiaddr } }

// WithRaylet makes a joining driver submit through the raylet at addr (a
// node's address, as gray list nodes shows it). Default: the head node's
// raylet if it is alive, else the first alive node's. When that node dies
// the driver moves to another alive one.
func WithRaylet(addr string) InitOption { return func(c *initConfig) { c.raylet = addr } }

// WithWorkerOutput sends the stdout and stderr lines of the job's
// launched workers to w, each prefixed with "(pid=…, node=…)"; nil drops
// them. Default os.Stderr, as Ray streams worker output to the driver.
func WithWorkerOutput(w io.Writer) InitOption {
	return func(c *initConfig) { c.logOut, c.logOutSet = w, true }
}

// WithConnectTimeout bounds how long a joining driver waits to reach the
// cluster; default 10s.
func WithConnectTimeout(d time.Duration) InitOption { return func(c *initConfig) { c.timeout = d } }

// WithNodes sets the number of nodes (raylets) of the embedded cluster;
// default 1.
func WithNodes(n int) InitOption { return func(c *initConfig) { c.nodes = n } }

// WithNodeLabels gives the embedded cluster's nodes labels, for
// WithLabelSelector: node i (from 0) gets labels[i]; nodes past the list
// get none.
func WithNodeLabels(labels ...map[string]string) InitOption {
	return func(c *initConfig) { c.labels = labels }
}

// WithCPUsPerNode sets each node's CPU resource; default the machine's
// CPU count. 0 makes CPU-less nodes, as Ray allows (they run actors and
// tasks that ask for no CPU). Each node runs max(CPUs, 2) task workers.
func WithCPUsPerNode(n int) InitOption { return func(c *initConfig) { c.cpus = n } }

// WithGPUsPerNode sets each node's GPU resource (a label for scheduling;
// gray does not drive GPUs); default 0.
func WithGPUsPerNode(n int) InitOption { return func(c *initConfig) { c.gpus = n } }

// WithMaxWorkersPerNode bounds the worker processes each node starts on
// demand (one per actor; max(CPUs, 2) of them stay for tasks), so a node
// hosts n - max(CPUs, 2) actors; an actor placed past that waits, and
// gray status shows why. Default max(CPUs, 2) + DefaultMaxWorkers(0).
func WithMaxWorkersPerNode(n int) InitOption { return func(c *initConfig) { c.maxWorkers = n } }

// WithObjectStoreBytes sets each node's plasma store capacity; default
// 256 MiB.
func WithObjectStoreBytes(n int64) InitOption { return func(c *initConfig) { c.objectStore = n } }

// WithLogger sets the logger of the cluster's processes; default errors
// to stderr (a killed actor's worker fail-stops with a warning).
func WithLogger(l *slog.Logger) InitOption { return func(c *initConfig) { c.logger = l } }

// Runtime is a running gray cluster as seen from this program: an
// embedded one, or a remote one this program joined as a driver. Init
// starts it; Shutdown stops it.
type Runtime struct {
	host   *net.Host
	tr     *net.P2P // a joining driver's transport; nil when embedded
	pool   *pool    // the embedded cluster's workers; nil when joined
	driver *caller
	dproc  *process.Driver
	// within is set for the runtime of a driver program run as a driver
	// process's Go work (initWithin): it owns no host.
	within  bool
	gcsAddr core.Addr
	nodes   int
	// raylets are the embedded cluster's raylets, for tests that look at
	// their stores (on their loops, through host.Do).
	raylets []embeddedRaylet
	log     *slog.Logger

	closing  chan struct{}
	shutOnce sync.Once
}

// embeddedRaylet is a raylet of the embedded cluster and its address.
type embeddedRaylet struct {
	addr core.Addr
	r    *raylet.Raylet
}

var (
	defaultMu sync.Mutex
	defaultRT *Runtime
)

// Init makes a cluster the runtime API calls use. Without an address it
// starts an embedded cluster in this program (Ray's ray.init()): a GCS,
// WithNodes raylets each with a plasma store and a pool of worker
// processes, and a driver process, all on one net.Host over the
// in-memory transport; it returns once every node has registered with
// the GCS. With an address (WithAddress or GRAY_ADDRESS) it joins that
// cluster over libp2p as a driver with a job of its own: it returns once
// it reached the GCS, staged this program's executable as the job binary
// (so that raylets can start workers from it) and chose a raylet (see
// WithRaylet). Call Shutdown when done.
//
// In a process a raylet started as a worker of the job (IsWorker), Init
// does not return: it serves tasks and actors until the raylet lets the
// worker go, then exits the process. So register every function at
// package init and call Init before doing any driver work.
func Init(ctx context.Context, opts ...InitOption) (*Runtime, error) {
	if IsWorker() {
		runWorker() // never returns: see workermode.go
	}
	if c := process.CallerFrom(ctx); c != nil {
		return initWithin(c)
	}
	cfg := initConfig{address: os.Getenv("GRAY_ADDRESS"), secretFile: os.Getenv("GRAY_SECRET_FILE"),
		nodes: 1, cpus: goruntime.NumCPU(), timeout: 10 * time.Second}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.nodes < 1 || cfg.cpus < 0 || cfg.maxWorkers < 0 || cfg.gpus < 0 {
		return nil, fmt.Errorf("gray: bad options: %d nodes, %d CPUs, %d GPUs and at most %d workers per node; want at least one node and no negative amount", cfg.nodes, cfg.cpus, cfg.gpus, cfg.maxWorkers)
	}
	if cfg.maxWorkers == 0 {
		cfg.maxWorkers = max(cfg.cpus, 2) + DefaultMaxWorkers(0)
	}
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	}
	defaultMu.Lock()
	defer defaultMu.Unlock()
	if defaultRT != nil {
		return nil, ErrAlreadyInitialized
	}
	rt := &Runtime{closing: make(chan struct{}), nodes: cfg.nodes, log: cfg.logger}
	var err error
	if cfg.address != "" {
		err = rt.join(ctx, cfg)
	} else {
		err = rt.embed(ctx, cfg)
	}
	if err != nil {
		rt.close()
		return nil, err
	}
	defaultRT = rt
	return rt, nil
}

// initWithin returns the runtime of a driver program that already runs
// as a gray driver process's Go work, as the simulator runs users' driver
// functions (package simtest): ctx reaches the process, and Init's
// options, which describe a cluster to start or join, do not apply.
// Shutdown marks the driver's job finished.
func initWithin(c *caller) (*Runtime, error) {
	if c.Driver == nil {
		return nil, fmt.Errorf("%w: Init inside a task body or actor method (its ctx reaches the cluster already)", ErrNotSupported)
	}
	return &Runtime{driver: c, dproc: c.Driver, within: true, closing: make(chan struct{}), log: c.Env.Log()}, nil
}

// embed starts the embedded cluster.
func (rt *Runtime) embed(ctx context.Context, cfg initConfig) error {
	rt.pool = newPool("", cfg.logger)
	rt.host = net.NewHost(net.HostOptions{Logger: cfg.logger, OnExit: func(addr core.Addr, err error) { rt.pool.onExit(addr, err) }})
	rt.pool.host = rt.host
	if err := rt.start(cfg); err != nil {
		return err
	}
	return rt.waitNodes(ctx)
}

func (rt *Runtime) start(cfg initConfig) error {
	var err error
	if rt.gcsAddr, err = rt.host.Add("gcs", gcs.NewServer(gcs.Config{})); err != nil {
		return err
	}
	rt.pool.gcsAddr = rt.gcsAddr
	var res []any
	if cfg.cpus > 0 {
		res = append(res, core.CPU, cfg.cpus)
	}
	if cfg.gpus > 0 {
		res = append(res, core.GPU, cfg.gpus)
	}
	workers := max(cfg.cpus, 2)
	var firstRaylet core.Addr
	for i := range cfg.nodes {
		var labels core.Labels
		if i < len(cfg.labels) {
			if labels, err = core.LabelsFrom(cfg.labels[i]); err != nil {
				return fmt.Errorf("gray: WithNodeLabels: node %d: %w", i, err)
			}
		}
		l := &embeddedLauncher{pool: rt.pool, host: rt.host, prefix: fmt.Sprintf("raylet-%d", i+1)}
		r := raylet.New(raylet.Config{
			GCS: rt.gcsAddr, Resources: core.MustResources(res...), ObjectStoreBytes: cfg.objectStore, Labels: labels,
			Launcher: l, WorkerPoolMax: workers, MaxWorkers: cfg.maxWorkers,
		})
		l.raylet = r
		ra, err := rt.host.Add(fmt.Sprintf("raylet-%d", i+1), r)
		if err != nil {
			return err
		}
		l.rayletAddr = ra
		rt.raylets = append(rt.raylets, embeddedRaylet{ra, r})
		if i == 0 {
			firstRaylet = ra
		}
		if err := rt.pool.add(fmt.Sprintf("raylet-%d", i+1), ra, workers); err != nil {
			return err
		}
	}
	_, err = rt.addDriver(process.NewDriver(process.DriverConfig{GCS: rt.gcsAddr, Raylet: firstRaylet, Job: core.JobIDFromInt(1), Log: cfg.logger}))
	return err
}

// addDriver adds the driver process d and waits until it started, so
// that its Caller may be read here.
func (rt *Runtime) addDriver(d *process.Driver) (core.Addr, error) {
	da, err := rt.host.Add("driver", d)
	if err != nil {
		return "", err
	}
	started := make(chan struct{})
	if err := rt.host.Do(da, func() { close(started) }); err != nil {
		return "", err
	}
	<-started // Start ran before Do's function: d.Caller() is set
	rt.dproc = d
	rt.driver = d.Caller()
	return da, nil
}

// waitNodes waits until every raylet has registered with the GCS, so that
// the first tasks see the whole cluster (and infeasibility is judged
// against all nodes).
func (rt *Runtime) waitNodes(ctx context.Context) error {
	d := rt.driver
	for {
		n, err := do(ctx, d, func(_ *worker.Worker, reply func(int, error)) {
			rt.driver.GCS().GetNodes(func(r gcs.Reply, err error) {
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

// Shutdown stops this program's processes and waits for their
// goroutines, task bodies included (their ctx is cancelled): the whole
// embedded cluster, or a joining driver (its job is marked finished
// first and the objects it owns are freed: the raylets holding their
// copies release them, and borrowers get ErrOwnerDied). Calls waiting on
// the runtime fail with ErrShutdown. Later calls do nothing.
func (rt *Runtime) Shutdown() {
	rt.shutOnce.Do(func() {
		switch {
		case rt.within:
			// No deadline: the simulator runs on its own clock, and the
			// GCS client's own deadline bounds the call.
			rt.finishJob(context.Background())
			rt.freeOwned(context.Background())
		case rt.tr != nil:
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			rt.finishJob(ctx)
			rt.freeOwned(ctx)
			cancel()
		}
		rt.close()
		defaultMu.Lock()
		if defaultRT == rt {
			defaultRT = nil
		}
		defaultMu.Unlock()
	})
}

// close stops the processes, then the transport.
func (rt *Runtime) close() {
	select {
	case <-rt.closing:
		return
	default:
	}
	close(rt.closing)
	if rt.pool != nil {
		rt.pool.close()
	}
	if rt.host != nil {
		if err := rt.host.Close(); err != nil {
			rt.log.Warn("gray: closing the host", "err", err)
		}
	}
	if rt.tr != nil {
		if err := rt.tr.Close(); err != nil {
			rt.log.Warn("gray: closing the transport", "err", err)
		}
	}
}
