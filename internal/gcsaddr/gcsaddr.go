// Package gcsaddr completes a GCS address on hosts: given the address of
// one replica of a replicated GCS, it asks that replica for the members
// and returns every replica's address, so that clients can follow the
// leader whichever replica an operator named. It is host code (it blocks
// on a reply), for the join paths of grayd, drivers and the CLI; its
// Client serves other host code that makes blocking GCS calls (tests).
package gcsaddr

import (
	"context"
	"slices"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/gcs"
	gnet "github.com/grayrt/gray/net"
)

// Client is a GCS client hosted as a process of a host, for goroutines
// that make blocking calls (host code: joins, tests).
type Client struct {
	h    *gnet.Host
	addr core.Addr
	p    *clientProc
}

type clientProc struct {
	gcs  core.Addr
	opts gcs.ClientOptions
	c    *gcs.Client
}

func (p *clientProc) Start(env core.Env)                     { p.c = gcs.NewClient(env, p.gcs, p.opts) }
func (p *clientProc) Receive(from core.Addr, m core.Message) { p.c.Handle(from, m) }
func (p *clientProc) Stop()                                  { p.c.Close() }

// NewClient adds a process named name to h with a client of the GCS at
// addr (gcs.NewClient's address and options).
func NewClient(h *gnet.Host, name string, addr core.Addr, opts gcs.ClientOptions) (*Client, error) {
	c := &Client{h: h, p: &clientProc{gcs: addr, opts: opts}}
	var err error
	if c.addr, err = h.Add(name, c.p); err != nil {
		return nil, err
	}
	return c, nil
}

// Call makes one GCS call and waits for its outcome (the client's
// deadline bounds it) or ctx.
func (c *Client) Call(ctx context.Context, start func(g *gcs.Client, cb func(gcs.Reply, error))) (gcs.Reply, error) {
	return CallOn(ctx, c.h, c.addr, func() *gcs.Client { return c.p.c }, start)
}

// CallOn makes one GCS call with the client that client returns, on the
// loop of h's process proc (the client belongs to that process), and
// waits for its outcome or ctx: the blocking call of host code whose
// process holds a GCS client among other things (a node's fetcher, the
// CLI's process).
func CallOn(ctx context.Context, h *gnet.Host, proc core.Addr, client func() *gcs.Client, start func(g *gcs.Client, cb func(gcs.Reply, error))) (gcs.Reply, error) {
	type result struct {
		r   gcs.Reply
		err error
	}
	done := make(chan result, 1) // buffered: the callback never blocks the loop
	if err := h.Do(proc, func() { start(client(), func(r gcs.Reply, err error) { done <- result{r, err} }) }); err != nil {
		return gcs.Reply{}, err
	}
	select {
	case res := <-done:
		return res.r, res.err
	case <-ctx.Done():
		return gcs.Reply{}, ctx.Err()
	}
}

// Leader returns the replica the client sends to (gcs.Client.Leader).
func (c *Client) Leader() (core.Addr, error) {
	ch := make(chan core.Addr, 1) // Do runs f on the loop later
	if err := c.h.Do(c.addr, func() { ch <- c.p.c.Leader() }); err != nil {
		return "", err
	}
	return <-ch, nil
}

// Close stops the client's process.
func (c *Client) Close() { _ = c.h.Stop(c.addr) }

// Discover returns addr if it names several replicas or a single GCS,
// and the addresses of every member of the replicated GCS (addr first)
// if addr is one replica's. Any failure to ask leaves addr as it is: the
// caller's clients then use it alone.
func Discover(ctx context.Context, h *gnet.Host, addr core.Addr) core.Addr {
	if len(gcs.SplitAddr(addr)) != 1 {
		return addr
	}
	c, err := NewClient(h, "gcs-probe", addr, gcs.ClientOptions{Deadline: 3 * time.Second})
	if err != nil {
		return addr
	}
	defer c.Close()
	r, err := c.Call(ctx, (*gcs.Client).ReplicaStatus)
	if err != nil || r.Replica == nil || len(r.Replica.Members) == 0 {
		return addr // a single GCS (NotFound), or no answer
	}
	out := []core.Addr{addr}
	for _, m := range r.Replica.Members {
		if !slices.Contains(out, m.Addr) {
			out = append(out, m.Addr)
		}
	}
	return gcs.JoinAddrs(out)
}
