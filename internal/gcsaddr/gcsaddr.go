// Package gcsaddr completes a GCS address on hosts: given the address of
// one replica of a replicated GCS, it asks that replica for the members
// and returns every replica's address, so that clients can follow the
// leader whichever replica an operator named. It is host code (it blocks
// on a reply), for the join paths of grayd, drivers and the CLI.
package gcsaddr

import (
	"context"
	"slices"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/gcs"
	gnet "github.com/grayrt/gray/net"
)

// probe is a process with a GCS client of one address.
type probe struct {
	addr core.Addr
	c    *gcs.Client
}

func (p *probe) Start(env core.Env) {
	p.c = gcs.NewClient(env, p.addr, gcs.ClientOptions{Deadline: 3 * time.Second})
}
func (p *probe) Receive(from core.Addr, m core.Message) { p.c.Handle(from, m) }
func (p *probe) Stop()                                  { p.c.Close() }

// Discover returns addr if it names several replicas or a single GCS,
// and the addresses of every member of the replicated GCS (addr first)
// if addr is one replica's. Any failure to ask leaves addr as it is: the
// caller's clients then use it alone.
func Discover(ctx context.Context, h *gnet.Host, addr core.Addr) core.Addr {
	if len(gcs.SplitAddr(addr)) != 1 {
		return addr
	}
	p := &probe{addr: addr}
	pa, err := h.Add("gcs-probe", p)
	if err != nil {
		return addr
	}
	defer func() { _ = h.Stop(pa) }()
	type result struct {
		r   gcs.Reply
		err error
	}
	done := make(chan result, 1) // buffered: the callback never blocks the loop
	if err := h.Do(pa, func() { p.c.ReplicaStatus(func(r gcs.Reply, err error) { done <- result{r, err} }) }); err != nil {
		return addr
	}
	var res result
	select {
	case res = <-done:
	case <-ctx.Done():
		return addr
	}
	if res.err != nil || res.r.Replica == nil || len(res.r.Replica.Members) == 0 {
		return addr // a single GCS (NotFound), or no answer
	}
	out := []core.Addr{addr}
	for _, m := range res.r.Replica.Members {
		if !slices.Contains(out, m.Addr) {
			out = append(out, m.Addr)
		}
	}
	return gcs.JoinAddrs(out)
}
