package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/rpc"
	"github.com/grayrt/gray/gcs"
	"github.com/grayrt/gray/internal/gcsaddr"
	gnet "github.com/grayrt/gray/net"
	"github.com/libp2p/go-libp2p/gologshim"
	ma "github.com/multiformats/go-multiaddr"
)

// defaultHeadDir is where grayd --head keeps its files without
// --data-dir; the cluster commands fall back on its address and secret
// files, so that they work on the head's host without flags.
func defaultHeadDir() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".gray", "head")
}

// clusterFlags are the flags every cluster command takes.
func clusterFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "address", EnvVars: []string{"GRAY_ADDRESS"}, Usage: "the GCS `ADDRESS` grayd --head printed", DefaultText: "the content of ~/.gray/head/address"},
		&cli.StringFlag{Name: "secret-file", EnvVars: []string{"GRAY_SECRET_FILE"}, Usage: "read the cluster secret from `FILE`", DefaultText: "~/.gray/head/cluster-secret"},
		&cli.DurationFlag{Name: "timeout", Value: 10 * time.Second, Usage: "give up on the cluster after `DURATION`"},
		&cli.StringFlag{Name: "log-level", Value: "error", Usage: "log the connection's records at `LEVEL` and above on stderr: debug, info, warn, error; libp2p's own records only with debug"},
	}
}

// clusterConn is a connection to a cluster's GCS: a libp2p transport
// that listens on loopback only (nobody dials a CLI; replies come back on
// the connection it opened) and a host running one process that embeds a
// gcs.Client.
type clusterConn struct {
	gcs     core.Addr
	timeout time.Duration
	tr      *gnet.P2P
	h       *gnet.Host
	addr    core.Addr
	p       *clientProc
}

// clientProc is the CLI's process: a GCS client, and an rpc client for
// the nodes' services (their log service).
type clientProc struct {
	gcs     core.Addr
	timeout time.Duration
	env     core.Env
	c       *gcs.Client
	rpc     *rpc.Client
	// at holds a client of each replica of a replicated GCS asked for
	// its own state (replicaClient).
	at map[core.Addr]*gcs.Client
}

func (p *clientProc) Start(env core.Env) {
	p.env = env
	p.c = gcs.NewClient(env, p.gcs, gcs.ClientOptions{Deadline: p.timeout})
	p.rpc = rpc.NewClient(env)
	p.at = map[core.Addr]*gcs.Client{}
}

// replicaClient returns a client that sends to the replica at a only.
func (p *clientProc) replicaClient(a core.Addr) *gcs.Client {
	c := p.at[a]
	if c == nil {
		c = gcs.NewClient(p.env, a, gcs.ClientOptions{Deadline: min(p.timeout, 3*time.Second)})
		p.at[a] = c
	}
	return c
}

func (p *clientProc) Receive(from core.Addr, m core.Message) {
	if p.c.Handle(from, m) {
		return
	}
	if c := p.at[from]; c != nil && c.Handle(from, m) {
		return
	}
	p.rpc.Handle(from, m)
}

// Stop implements core.Stopper: calls still in flight fail with
// gcs.ErrClosed.
func (p *clientProc) Stop() {
	p.c.Close()
	for _, a := range slices.Sorted(maps.Keys(p.at)) {
		p.at[a].Close()
	}
}

// errUnreachable heads the message of a failure to reach the cluster at
// all (as opposed to a definite answer or a timeout of one call).
var errUnreachable = errors.New("cannot reach the cluster")

// gcsAddress parses --address: a GCS address (<multiaddr>/p2p/<id>, with
// or without #gcs), or a multiaddr or IP:PORT without the peer id, which
// dialCluster learns from the host there (peerAt is "" then). Another
// process than the GCS is refused: the cluster commands talk to the GCS,
// and a raylet would never answer them.
func gcsAddress(address string) (full core.Addr, peerAt string, err error) {
	if strings.Contains(address, ",") {
		// A replicated GCS: every replica's full address.
		var out []core.Addr
		for _, a := range strings.Split(address, ",") {
			if a = strings.TrimSpace(a); a == "" {
				continue
			}
			one, at, err := gcsAddress(a)
			if err != nil {
				return "", "", err
			}
			if at != "" {
				return "", "", usageError("--address %s: a replicated GCS's address lists every replica's full address (<multiaddr>/p2p/<peer id>#gcs), as grayd --head printed it", address)
			}
			out = append(out, one)
		}
		return gcs.JoinAddrs(out), "", nil
	}
	host, proc, found := strings.Cut(address, "#")
	if found && proc != "gcs" {
		return "", "", usageError("--address %s names the process %q, but the cluster commands talk to the GCS: give the address grayd --head printed (ending in #gcs, or without #...), or the head's IP:PORT", address, proc)
	}
	if !strings.Contains(host, "/p2p/") {
		m, err := gnet.TCPMultiaddr(host)
		if err != nil {
			return "", "", usageError("--address: %v; or the address grayd --head printed (<multiaddr>/p2p/<peer id>#gcs)", err)
		}
		return "", m, nil
	}
	full = core.Addr(host + "#gcs")
	if _, err := gnet.ParseP2PAddr(full); err != nil {
		return "", "", usageError("--address: %v", err)
	}
	return full, "", nil
}

// cliLogger returns the logger of a cluster command at --log-level and
// routes libp2p's own records (e.g. "swarm listener accept error") to
// it at debug only: they are noise for a command's user.
func cliLogger(c *cli.Context, stderr io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.String("log-level"))); err != nil {
		return nil, usageError("--log-level %q: want debug, info, warn or error", c.String("log-level"))
	}
	h := slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})
	if level <= slog.LevelDebug {
		gologshim.SetDefaultHandler(h)
	} else {
		gologshim.SetDefaultHandler(slog.DiscardHandler)
	}
	return slog.New(h), nil
}

// dialCluster reads the cluster flags and connects to the GCS. Errors
// are exit errors: usage (2) for missing or malformed flags, unreachable
// (4) when no connection could be made, failure (1) otherwise.
func dialCluster(c *cli.Context, stderr io.Writer) (*clusterConn, error) {
	address := strings.TrimSpace(c.String("address"))
	secretFile := c.String("secret-file")
	if dir := defaultHeadDir(); dir != "" {
		if address == "" {
			if b, err := os.ReadFile(filepath.Join(dir, "address")); err == nil {
				address = strings.TrimSpace(string(b))
			}
		}
		if secretFile == "" {
			if p := filepath.Join(dir, "cluster-secret"); fileExists(p) {
				secretFile = p
			}
		}
	}
	if address == "" {
		return nil, usageError("--address (or GRAY_ADDRESS) is required: the GCS address grayd --head printed, or the head's IP:PORT")
	}
	if secretFile == "" {
		return nil, usageError("--secret-file (or GRAY_SECRET_FILE) is required: a copy of the head's cluster secret")
	}
	timeout := c.Duration("timeout")
	if timeout <= 0 {
		return nil, usageError("--timeout must be positive")
	}
	gcsAddr, peerAt, err := gcsAddress(address)
	if err != nil {
		return nil, err
	}
	log, err := cliLogger(c, stderr)
	if err != nil {
		return nil, err
	}
	secret, err := gnet.ReadSecretFile(secretFile)
	if err != nil {
		return nil, cli.Exit(err.Error(), exitFailed)
	}
	tr, err := gnet.NewP2P(gnet.P2POptions{
		ClusterSecret: secret,
		Logger:        log,
		DialTimeout:   timeout,
		// Nobody dials a CLI: replies come back on the connection it
		// opened, and once it exited the head has nothing to redial.
		NoListen: true,
	})
	if err != nil {
		return nil, cli.Exit(err.Error(), exitFailed)
	}
	ctx, cancel := context.WithTimeout(c.Context, timeout)
	defer cancel()
	unreachable := func(err error) error {
		_ = tr.Close()
		return cli.Exit(fmt.Sprintf("%v at %s: %v%s", errUnreachable, address, err, gnet.DialHint(err)), exitUnreachable)
	}
	if peerAt != "" {
		m, err := ma.NewMultiaddr(peerAt)
		if err != nil {
			_ = tr.Close()
			return nil, usageError("--address: %v", err)
		}
		id, err := tr.PeerAt(ctx, m)
		if err != nil {
			return nil, unreachable(err)
		}
		gcsAddr = core.Addr(peerAt + "/p2p/" + id.String() + "#gcs")
	}
	// The replicas of a replicated GCS at once; the client starts at the
	// first that answered.
	replicas := gcs.SplitAddr(gcsAddr)
	first, cerr := tr.ConnectAny(ctx, replicas)
	if cerr != nil {
		_ = tr.Close()
		return nil, unreachable(cerr)
	}
	order := []core.Addr{first}
	for _, r := range replicas {
		if r != first {
			order = append(order, r)
		}
	}
	gcsAddr = gcs.JoinAddrs(order)
	cc := &clusterConn{tr: tr, timeout: timeout}
	cc.h = gnet.NewHost(gnet.HostOptions{Transport: tr, Logger: log})
	// One replica's address names the whole replicated GCS.
	gcsAddr = gcsaddr.Discover(ctx, cc.h, gcsAddr)
	cc.gcs = gcsAddr
	cc.p = &clientProc{gcs: gcsAddr, timeout: timeout}
	if cc.addr, err = cc.h.Add("cli", cc.p); err != nil {
		cc.close()
		return nil, cli.Exit(err.Error(), exitFailed)
	}
	return cc, nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// close shuts the host, then the transport.
func (cc *clusterConn) close() {
	_ = cc.h.Close()
	_ = cc.tr.Close()
}

// call runs start on the client process's loop and waits for the
// callback it is given. The client's deadline bounds the wait; ctx ends
// it early (an interrupt).
func (cc *clusterConn) call(ctx context.Context, start func(c *gcs.Client, cb func(gcs.Reply, error))) (gcs.Reply, error) {
	return gcsaddr.CallOn(ctx, cc.h, cc.addr, func() *gcs.Client { return cc.p.c }, start)
}

// request sends m to the process at to and waits for its reply, within
// the cluster timeout.
func (cc *clusterConn) request(ctx context.Context, to core.Addr, m core.Message) (core.Message, error) {
	type result struct {
		m   core.Message
		err error
	}
	done := make(chan result, 1)
	if err := cc.h.Do(cc.addr, func() {
		cc.p.rpc.Call(to, m, rpc.Options{Timeout: cc.timeout}, func(r core.Message, err error) { done <- result{r, err} })
	}); err != nil {
		return nil, err
	}
	select {
	case r := <-done:
		return r.m, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// callError turns a failed call into an exit error that says what the
// operator can do.
func (cc *clusterConn) callError(what string, err error) error {
	if errors.Is(err, gcs.ErrTimeout) {
		return cli.Exit(fmt.Sprintf("%s: the GCS at %s did not answer within %v; the outcome is unknown (re-read before retrying a write)", what, cc.gcs, cc.timeout), exitUnknown)
	}
	return cli.Exit(fmt.Sprintf("%s: %v", what, err), exitFailed)
}
