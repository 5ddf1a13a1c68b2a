package gray

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/worker"
	"github.com/grayrt/gray/gcs"
	"github.com/grayrt/gray/internal/gcsaddr"
	"github.com/grayrt/gray/internal/process"
	"github.com/grayrt/gray/net"
)

// Joining a remote cluster as a driver: a libp2p transport keyed by the
// cluster secret, one driver process with a GCS client and a core worker,
// a job of its own from the GCS, and a raylet of the cluster to submit
// through.

// gcsAddress completes a GCS address given without its process name: one
// address, or a replicated GCS's replicas joined by commas.
func gcsAddress(s string) core.Addr {
	var out []core.Addr
	for _, a := range strings.Split(s, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if !strings.Contains(a, "#") {
			a += "#gcs"
		}
		out = append(out, core.Addr(a))
	}
	return gcs.JoinAddrs(out)
}

// parseGCSAddress completes and parses a GCS address (gcsAddress): every
// replica's address must be a libp2p process address.
func parseGCSAddress(s string) (core.Addr, []net.P2PAddr, error) {
	a := gcsAddress(s)
	var pas []net.P2PAddr
	for _, r := range gcs.SplitAddr(a) {
		pa, err := net.ParseP2PAddr(r)
		if err != nil {
			return "", nil, err
		}
		pas = append(pas, pa)
	}
	if len(pas) == 0 {
		return "", nil, fmt.Errorf("%w: empty", net.ErrBadAddr)
	}
	return a, pas, nil
}

// connectGCS connects to the replicas of the GCS at a at once (one is
// enough: clients find the leader) and returns a with the first that
// answered first, where this program's clients start.
func connectGCS(ctx context.Context, tr *net.P2P, a core.Addr) (core.Addr, error) {
	addrs := gcs.SplitAddr(a)
	first, err := tr.ConnectAny(ctx, addrs)
	if err != nil {
		return a, err
	}
	out := []core.Addr{first}
	for _, r := range addrs {
		if r != first {
			out = append(out, r)
		}
	}
	return gcs.JoinAddrs(out), nil
}

// joinSecret reads the cluster secret of a joining driver: from the
// descriptor a node's supervisor passes a submitted job's driver
// (GRAY_SECRET_FD), else from its file (secretPath).
func joinSecret(opt string) ([]byte, error) {
	if fd := os.Getenv(envSecretFD); fd != "" && opt == "" {
		n, err := strconv.Atoi(fd)
		if err != nil || n < 3 {
			return nil, fmt.Errorf("gray: %s=%q: want a descriptor number from 3", envSecretFD, fd)
		}
		f := os.NewFile(uintptr(n), "cluster-secret")
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, 1<<16))
		if err != nil {
			return nil, fmt.Errorf("gray: reading the cluster secret from descriptor %d: %w", n, err)
		}
		s := bytes.TrimSpace(b)
		if len(s) == 0 {
			return nil, fmt.Errorf("gray: descriptor %d (%s) gave no cluster secret", n, envSecretFD)
		}
		return s, nil
	}
	path, err := secretPath(opt)
	if err != nil {
		return nil, err
	}
	secret, err := net.ReadSecretFile(path)
	if err != nil {
		return nil, fmt.Errorf("gray: %w", err)
	}
	return secret, nil
}

// secretPath resolves the secret file of a joining driver: the option or
// GRAY_SECRET_FILE, else the head's own file on the head's host.
func secretPath(opt string) (string, error) {
	if opt != "" {
		return opt, nil
	}
	if home, err := os.UserHomeDir(); err == nil {
		p := filepath.Join(home, ".gray", "head", "cluster-secret")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("gray: joining a cluster needs its secret: pass WithSecretFile or set GRAY_SECRET_FILE to a copy of the head's cluster-secret file (mode 0600)")
}

// defaultListen picks the driver's listen address: loopback for a
// loopback cluster, every interface otherwise (workers on other hosts
// must reach the driver).
func defaultListen(gcsAddr net.P2PAddr) string {
	if strings.HasPrefix(gcsAddr.Host, "/ip4/127.") || strings.HasPrefix(gcsAddr.Host, "/ip6/::1/") {
		return net.DefaultListenAddr
	}
	return "/ip4/0.0.0.0/tcp/0"
}

// join connects this program to the cluster at cfg.address as a driver.
func (rt *Runtime) join(ctx context.Context, cfg initConfig) error {
	var pas []net.P2PAddr
	var err error
	rt.gcsAddr, pas, err = parseGCSAddress(cfg.address)
	if err != nil {
		return fmt.Errorf("gray: cluster address: %w (use the address grayd --head printed)", err)
	}
	pa := pas[0]
	secret, err := joinSecret(cfg.secretFile)
	if err != nil {
		return err
	}
	listen := cfg.listen
	if listen == "" {
		listen = defaultListen(pa)
	}
	if rt.tr, err = net.NewP2P(net.P2POptions{ListenAddrs: []string{listen}, ClusterSecret: secret, Logger: cfg.logger, DialTimeout: cfg.timeout}); err != nil {
		return fmt.Errorf("gray: %w", err)
	}
	rt.host = net.NewHost(net.HostOptions{Transport: rt.tr, Logger: cfg.logger, OnExit: func(addr core.Addr, err error) {
		rt.log.Error("gray: driver process stopped", "proc", string(addr), "err", err)
	}})
	cctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	if rt.gcsAddr, err = connectGCS(cctx, rt.tr, rt.gcsAddr); err != nil {
		return fmt.Errorf("gray: cannot reach the cluster at %s%s: %w", rt.gcsAddr, net.DialHint(err), err)
	}
	rt.gcsAddr = gcsaddr.Discover(cctx, rt.host, rt.gcsAddr)
	dcfg := process.DriverConfig{GCS: rt.gcsAddr, Log: cfg.logger, LogOut: os.Stderr}
	if cfg.logOutSet {
		dcfg.LogOut = cfg.logOut
	}
	d := process.NewDriver(dcfg)
	da, err := rt.addDriver(d)
	if err != nil {
		return err
	}

	// Choose a raylet and register the job, both on the driver's loop.
	nodes, err := do(cctx, rt.driver, func(_ *worker.Worker, reply func([]gcs.NodeInfo, error)) {
		d.GCS().GetNodes(func(r gcs.Reply, err error) { reply(r.Nodes, err) })
	})
	if err != nil {
		return fmt.Errorf("gray: reading the cluster's nodes from %s: %w", rt.gcsAddr, err)
	}
	raylet, err := chooseRaylet(nodes, pa, cfg.raylet)
	if err != nil {
		return err
	}
	binary, err := rt.stageBinary(ctx)
	if err != nil {
		return err
	}
	// Uploading a binary may take longer than the connect timeout (tens
	// of megabytes to a loaded GCS): the steps after it get their own.
	cctx, cancel = context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	meta, _ := json.Marshal(jobMetadata{Program: filepath.Base(os.Args[0]), Binary: binary})
	job, err := do(cctx, rt.driver, func(_ *worker.Worker, reply func(core.JobID, error)) {
		d.GCS().AddJobOfSubmission(da, meta, binary, os.Getenv(envSubmissionID), func(r gcs.Reply, err error) { reply(r.Job, err) })
	})
	if err != nil {
		return fmt.Errorf("gray: registering the job with the GCS: %w", err)
	}
	_, err = do(cctx, rt.driver, func(_ *worker.Worker, reply func(struct{}, error)) {
		d.Attach(raylet, job, binary, nodes)
		reply(struct{}{}, nil)
	})
	return err
}

// jobMetadata is what a joined driver records with its job.
type jobMetadata struct {
	Program string `json:"program"`
	// Binary is the hash of the staged job binary the job's workers run.
	Binary string `json:"binary"`
}

// chooseRaylet picks the raylet a joining driver submits through: the
// one named by prefer, else the head's (the node sharing the GCS's peer),
// else the first alive node by address.
func chooseRaylet(nodes []gcs.NodeInfo, gcsAddr net.P2PAddr, prefer string) (core.Addr, error) {
	var alive []core.Addr
	for _, n := range nodes {
		if n.State == gcs.NodeAlive {
			alive = append(alive, n.Addr)
		}
	}
	slices.Sort(alive)
	if len(alive) == 0 {
		return "", fmt.Errorf("gray: the cluster at %s has no alive node to run tasks; start one with grayd --join or gray.StartNode", gcsAddr.Addr())
	}
	if prefer != "" {
		want := core.Addr(prefer)
		if !strings.Contains(prefer, "#") {
			want += "#raylet"
		}
		if slices.Contains(alive, want) {
			return want, nil
		}
		return "", fmt.Errorf("gray: WithRaylet(%q): no alive node has that address; alive nodes: %v", prefer, alive)
	}
	for _, a := range alive {
		if pa, err := net.ParseP2PAddr(a); err == nil && pa.Peer == gcsAddr.Peer {
			return a, nil
		}
	}
	return alive[0], nil
}

// freeOwned frees the objects the driver owns (worker.FreeOwned) as its
// program ends, best effort: the cluster may be gone already, and the
// raylets free them anyway once they see the job finished.
func (rt *Runtime) freeOwned(ctx context.Context) {
	if rt.dproc == nil || rt.dproc.Job().IsNil() {
		return
	}
	if _, err := do(ctx, rt.driver, func(cw *worker.Worker, reply func(struct{}, error)) {
		if cw == nil {
			reply(struct{}{}, nil)
			return
		}
		// Until the messages are out: the transport closes next.
		cw.FreeOwnedThen(func() { reply(struct{}{}, nil) })
	}); err != nil {
		rt.log.Warn("gray: freeing the driver's objects", "err", err)
	}
}

// finishJob marks a joining driver's job finished, best effort: the
// cluster may be gone already.
func (rt *Runtime) finishJob(ctx context.Context) {
	d := rt.dproc
	if d == nil || d.Job().IsNil() {
		return
	}
	// The driver's tasks' last transitions first: events wait up to a
	// second in its buffer.
	if _, err := do(ctx, rt.driver, func(w *worker.Worker, reply func(struct{}, error)) {
		w.FlushEvents(func() { reply(struct{}{}, nil) })
	}); err != nil {
		rt.log.Warn("gray: sending the last task events", "err", err)
	}
	if _, err := do(ctx, rt.driver, func(_ *worker.Worker, reply func(struct{}, error)) {
		d.GCS().FinishJob(d.Job(), func(_ gcs.Reply, err error) { reply(struct{}{}, err) })
	}); err != nil {
		rt.log.Warn("gray: marking the job finished", "job", d.Job().String(), "err", err)
	}
}
