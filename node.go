package gray

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/dashboard"
	"github.com/grayrt/gray/gcs"
	"github.com/grayrt/gray/internal/gcsaddr"
	"github.com/grayrt/gray/net"
	"github.com/grayrt/gray/raylet"
)

// NodeOptions configure StartNode. Zero fields take the defaults.
type NodeOptions struct {
	// Head starts the cluster's GCS on this node. Otherwise Join is
	// required.
	Head bool
	// Join is the GCS address of the cluster to join (what the head
	// printed): one address, or a replicated GCS's replicas joined by
	// commas.
	Join string
	// GCSReplicas, on a head, makes its GCS one replica of a replicated
	// GCS: the GCS addresses of every replica (this one's included, each
	// "<multiaddr>/p2p/<peer id>#gcs", as `grayd address` prints them),
	// the same list in the same order on each. Three or five replicas
	// survive one or two failures. Empty: a single GCS.
	GCSReplicas []string
	// Listen is the multiaddr to listen on; default net.DefaultListenAddr
	// (loopback, a port chosen by the system). Set e.g.
	// /ip4/0.0.0.0/tcp/6380 for other hosts to reach this one.
	Listen string
	// Advertise is the multiaddr other hosts reach this one at; default
	// see net.P2POptions.AdvertiseAddr.
	Advertise string
	// DataDir keeps the node's identity key (a stable peer id) and, on the
	// head, the GCS's store. Required.
	DataDir string
	// ClusterSecret is the cluster's shared secret (net.ReadSecretFile
	// reads the usual file). Required.
	ClusterSecret []byte
	// Resources are the node's schedulable resources; default CPU = the
	// machine's CPU count. The node runs max(CPU, 2) task workers.
	Resources map[string]float64
	// Labels are the node's labels (grayd --labels), for
	// WithLabelSelector: keys and values of letters, digits and -_.
	// (keys also /), at most 63 bytes each.
	Labels map[string]string
	// MaxWorkers bounds the worker processes the node starts on demand,
	// besides the max(CPU, 2) it starts with: every actor runs on a
	// worker of its own, and max(CPU, 2) of the MaxWorkers stay for
	// task workers, so the node hosts MaxWorkers - max(CPU, 2) actors;
	// one placed past that waits, and gray status shows why. Default:
	// max(CPU, 2) + DefaultMaxWorkers(WorkerMemoryBytes).
	MaxWorkers int
	// ObjectStoreBytes is the plasma store's capacity; default the
	// raylet's (256 MiB).
	ObjectStoreBytes int64
	// NoSharedMemory keeps the object store out of shared memory: the
	// node's workers and drivers then move objects in messages (slower
	// for large objects; for hosts whose /proc or memfd is restricted).
	NoSharedMemory bool
	// WorkerMemoryBytes kills a launched worker whose resident memory
	// passes it (checked four times a second, Linux only); its task
	// fails, or is retried, with an error that says so. 0: no limit.
	WorkerMemoryBytes int64
	// Logger receives the node's records; default slog.Default().
	Logger *slog.Logger
	// DashboardListen, on the head, starts the dashboard (state API, web
	// UI, /metrics; see docs/dashboard.md) on this TCP address, e.g.
	// 127.0.0.1:8265 or 127.0.0.1:0 for a free port. Empty: none.
	DashboardListen string
	// DashboardOptional: when DashboardListen's port is taken (another
	// head on this host), the head runs without a dashboard and warns,
	// instead of failing to start (grayd's default address).
	DashboardOptional bool
	// DashboardToken, when set, is the bearer token the dashboard
	// requires.
	DashboardToken string
	// NodeTimeout, on the head, is how long a node may go without a
	// heartbeat before the GCS declares it dead (Ray's health check
	// timeout); default 10s. Raise it on overloaded hosts, where a busy
	// raylet's heartbeats can wait behind its work.
	NodeTimeout time.Duration
	// BinaryRetention is how long a job binary no running job needs is
	// kept: on the head, the GCS's staged copy (after its last job
	// finished); on every node, its cached copy (after a worker of it
	// last started or exited). Default 1h, negative for ever.
	BinaryRetention time.Duration
	// GCSAcceptLoss, on the head, starts the GCS on a database that lost
	// acknowledged writes (fewer commits than its witness records), with
	// a warning, instead of refusing to start. An operator's decision,
	// for one start (docs/operations.md).
	GCSAcceptLoss bool
}

// DefaultMaxWorkers is how many actors a node hosts by default: the
// machine's memory divided by perWorker (WorkerMemoryBytes when set,
// else 64 MiB, about what a Go worker process with its actor's state
// takes), between 16 and 1024; 256 where the machine's memory is
// unknown. A node's default MaxWorkers is this plus its task workers.
func DefaultMaxWorkers(perWorker int64) int {
	if perWorker <= 0 {
		perWorker = 64 << 20
	}
	mem := hostMemoryBytes()
	if mem <= 0 {
		return 256
	}
	return int(min(max(mem/perWorker, 16), 1024))
}

// joinCheckTimeout bounds the up-front connection check of a joining
// node; the raylet keeps retrying afterwards.
const joinCheckTimeout = 10 * time.Second

// Node is a node of a multi-process cluster running in this program
// (StartNode): a raylet with its plasma store and a pool of worker
// processes that run the functions and actor classes registered in this
// program, and on the head the GCS too. grayd is such a program with no
// functions of its own.
type Node struct {
	tr       *net.P2P
	host     *net.Host
	pool     *pool
	launcher *launcher
	log      *slog.Logger
	gcsAddr  core.Addr
	// gcsLocal is the head's own GCS process (its replica, replicated).
	gcsLocal   core.Addr
	rayletAddr core.Addr
	dashboard  *dashboard.Server

	failed    chan error // the first node process that stopped on its own
	closeOnce sync.Once
	closeErr  error
}

// StartNode starts a node of a multi-process cluster in this program, the
// library's node entry point: with opts.Head a new cluster's head (GCS,
// raylet, plasma, workers), otherwise a node joining the cluster at
// opts.Join. Because the workers run inside this program, tasks and
// actors registered here run on the node, which is how user code runs on
// a cluster until job binaries are staged (see docs/operations.md). It
// returns once the node's processes run; call Close to stop it.
func StartNode(ctx context.Context, opts NodeOptions) (*Node, error) {
	if !opts.Head && opts.Join == "" {
		return nil, fmt.Errorf("gray: StartNode needs Head or a Join address")
	}
	if opts.Head && opts.Join != "" {
		return nil, fmt.Errorf("gray: StartNode: Head and Join exclude each other")
	}
	if opts.DataDir == "" {
		return nil, fmt.Errorf("gray: StartNode needs a DataDir (the node's identity key and, on the head, the GCS store)")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	res := make(map[string]float64, len(opts.Resources)+2) // a copy: the caller's map stays as it was
	for k, v := range opts.Resources {                     //gray:unordered copied into a map
		res[k] = v
	}
	if _, ok := res[core.CPU]; !ok {
		res[core.CPU] = float64(goruntime.NumCPU())
	}
	maxWorkers := opts.MaxWorkers
	resources, err := toResources(res)
	if err != nil {
		return nil, err
	}
	labels, err := core.LabelsFrom(opts.Labels)
	if err != nil {
		return nil, fmt.Errorf("gray: node labels: %w", err)
	}
	cpus := resources.Get(core.CPU)
	workers := int(max(2, math.Ceil(float64(cpus)/core.QuantityScale)))
	if maxWorkers <= 0 {
		maxWorkers = workers + DefaultMaxWorkers(opts.WorkerMemoryBytes)
	}

	listen := opts.Listen
	if listen == "" {
		listen = net.DefaultListenAddr
	}
	tr, err := net.NewP2P(net.P2POptions{ListenAddrs: []string{listen}, AdvertiseAddr: opts.Advertise,
		ClusterSecret: opts.ClusterSecret, DataDir: opts.DataDir, Logger: opts.Logger})
	if err != nil {
		return nil, err
	}
	n := &Node{tr: tr, log: opts.Logger, failed: make(chan error, 1)}
	n.pool = newPool("", opts.Logger)
	n.host = net.NewHost(net.HostOptions{Transport: tr, DataDir: opts.DataDir, Logger: opts.Logger, NoSharedMemory: opts.NoSharedMemory,
		OnExit: func(addr core.Addr, err error) {
			if n.pool.onExit(addr, err) {
				return
			}
			if !errors.Is(err, core.ErrUnrecoverable) { // the process logged why, and grayd says it once more
				n.log.Error("node process stopped", "proc", string(addr), "err", err)
			}
			select {
			case n.failed <- fmt.Errorf("process %s stopped: %w", addr, err):
			default:
			}
		}})
	n.pool.host = n.host
	var gcsServer func() *gcs.Server
	var gcsReplica *gcs.Replica
	gcfg := gcs.Config{NodeTimeout: opts.NodeTimeout, AcceptLoss: opts.GCSAcceptLoss, BinaryRetention: opts.BinaryRetention}
	switch {
	case opts.Head && len(opts.GCSReplicas) > 0:
		if gcfg.Replicas, err = replicaAddrs(opts.GCSReplicas, tr.Addr("gcs")); err != nil {
			n.Close()
			return nil, err
		}
		rep := gcs.NewReplica(gcfg)
		gcsServer, gcsReplica = rep.Front, rep
		if n.gcsLocal, err = n.host.Add("gcs", rep); err != nil {
			n.Close()
			return nil, err
		}
		n.gcsAddr = gcs.JoinAddrs(gcfg.Replicas)
	case opts.Head:
		g := gcs.NewServer(gcfg)
		gcsServer = func() *gcs.Server { return g }
		if n.gcsAddr, err = n.host.Add("gcs", g); err != nil {
			n.Close()
			return nil, err
		}
		n.gcsLocal = n.gcsAddr
	default:
		if n.gcsAddr, _, err = parseGCSAddress(opts.Join); err != nil {
			n.Close()
			return nil, fmt.Errorf("gray: join address: %w", err)
		}
		cctx, cancel := context.WithTimeout(ctx, joinCheckTimeout)
		if _, err := connectGCS(cctx, tr, n.gcsAddr); err == nil {
			// One replica's address names the whole replicated GCS.
			n.gcsAddr = gcsaddr.Discover(cctx, n.host, n.gcsAddr)
		} else {
			// The raylet keeps retrying; the head may be starting.
			n.log.Error("cannot reach the GCS yet; retrying", "gcs", string(n.gcsAddr), "err", err, "hint", net.DialHint(err))
		}
		cancel()
	}
	n.pool.gcsAddr = n.gcsAddr
	// Tasks of this program's own binary run on the node's own workers;
	// other job binaries get workers from the launcher.
	_, own, _, err := selfBinary()
	if err != nil {
		n.log.Warn("cannot hash this program's executable; every job's tasks will run on launched workers", "err", err)
	}
	n.launcher = newLauncher(n.host, opts.Logger, opts.ClusterSecret, n.gcsAddr, listen, opts.DataDir)
	n.launcher.memLimit = opts.WorkerMemoryBytes
	if opts.BinaryRetention != 0 {
		n.launcher.retention = opts.BinaryRetention
	}
	n.launcher.startSweep()
	n.launcher.own = n.pool
	if _, err := n.host.Add("logs", &logsProc{dir: filepath.Join(opts.DataDir, "logs")}); err != nil {
		n.Close()
		return nil, err
	}
	n.launcher.fetcher = &fetchProc{gcsAddr: n.gcsAddr}
	if n.launcher.fetchAddr, err = n.host.Add("fetcher", n.launcher.fetcher); err != nil {
		n.Close()
		return nil, err
	}
	rl := raylet.New(raylet.Config{
		GCS: n.gcsAddr, Resources: resources, ObjectStoreBytes: opts.ObjectStoreBytes, Labels: labels,
		Binary: own, Launcher: n.launcher, WorkerPoolMax: workers, MaxWorkers: maxWorkers,
	})
	n.launcher.raylet, n.launcher.rayletAddr = rl, tr.Addr("raylet")
	if n.rayletAddr, err = n.host.Add("raylet", rl); err != nil {
		n.Close()
		return nil, err
	}
	_ = n.host.Do(n.rayletAddr, func() {
		id := rl.Node()
		n.launcher.mu.Lock()
		n.launcher.nodeID = id
		n.launcher.mu.Unlock()
	})
	if err := n.pool.add("worker", n.rayletAddr, workers); err != nil {
		n.Close()
		return nil, err
	}
	if opts.Head && opts.DashboardListen != "" {
		err := n.startDashboard(opts, gcsServer, gcsReplica, rl)
		if err != nil && opts.DashboardOptional && errors.Is(err, syscall.EADDRINUSE) {
			n.log.Warn("running without a dashboard: its address is taken; pass another HOST:PORT", "addr", opts.DashboardListen, "err", err)
			err = nil
		}
		if err != nil {
			n.Close()
			return nil, err
		}
	}
	return n, nil
}

// ErrGCSReplicas marks a NodeOptions.GCSReplicas list StartNode
// refuses: a configuration error, which a restart does not fix.
var ErrGCSReplicas = errors.New("bad GCS replica list")

// replicaAddrs checks the replicas' addresses of a replicated GCS and
// puts self, this head's GCS address, in the place of the one with its
// peer id (which may be written differently).
func replicaAddrs(list []string, self core.Addr) ([]core.Addr, error) {
	me, err := net.ParseP2PAddr(self)
	if err != nil {
		return nil, err
	}
	var out []core.Addr
	found := 0
	for _, s := range list {
		a, pas, err := parseGCSAddress(s)
		if err != nil || len(pas) != 1 {
			return nil, fmt.Errorf("%w: GCS replica %q: want <multiaddr>/p2p/<peer id>#gcs, as grayd address prints it (%v)", ErrGCSReplicas, s, err)
		}
		if pas[0].Process != "gcs" {
			return nil, fmt.Errorf("%w: GCS replica %q names the process %q, want gcs", ErrGCSReplicas, s, pas[0].Process)
		}
		if pas[0].Peer == me.Peer {
			a = self
			found++
		}
		if slices.Contains(out, a) {
			return nil, fmt.Errorf("%w: GCS replica %q is listed twice", ErrGCSReplicas, s)
		}
		out = append(out, a)
	}
	if found != 1 {
		return nil, fmt.Errorf("%w: the GCS replicas %v do not list this node (peer %s) once; list every replica, this one included (grayd address prints it)", ErrGCSReplicas, list, me.Peer)
	}
	if len(out) < 3 {
		return nil, fmt.Errorf("%w: a replicated GCS needs 3 or more replicas (3 or 5: a majority must live), got %d", ErrGCSReplicas, len(out))
	}
	return out, nil
}

// GCSAddress returns the cluster's GCS address: the one to pass to
// WithAddress, grayd --join and the gray CLI.
func (n *Node) GCSAddress() string { return string(n.gcsAddr) }

// Address returns the node's raylet address, as gray list nodes shows it.
func (n *Node) Address() string { return string(n.rayletAddr) }

// Failed delivers an error when one of the node's processes (the GCS or
// the raylet) stopped on its own, e.g. a raylet fenced by the GCS or a
// store that failed; the node is then useless and should be closed and
// started again, as grayd's supervisor does.
func (n *Node) Failed() <-chan error { return n.failed }

// Close stops the node's processes, then its transport. Later calls
// return the first call's result.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		if n.dashboard != nil {
			_ = n.dashboard.Close() // an unfinished request changes nothing
		}
		n.pool.close()
		if n.launcher != nil {
			n.launcher.close()
		}
		n.closeErr = n.host.Close()
		if err := n.tr.Close(); err != nil && n.closeErr == nil {
			n.closeErr = err
		}
	})
	return n.closeErr
}

// ServeNode runs a node (StartNode) until ctx ends, then closes it and
// returns nil; or until one of its processes stops, then returns that
// error. A program that is both driver and node picks the role from its
// command line and calls ServeNode for the node role.
func ServeNode(ctx context.Context, opts NodeOptions) error {
	n, err := StartNode(ctx, opts)
	if err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		return n.Close()
	case err := <-n.Failed():
		n.Close()
		return err
	}
}
