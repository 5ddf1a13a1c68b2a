package gray

import (
	"context"
	"errors"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/dashboard"
	"github.com/grayrt/gray/gcs"
	"github.com/grayrt/gray/internal/gcsaddr"
	"github.com/grayrt/gray/raylet"
)

// startDashboard starts the head's dashboard, which reads the GCS and the
// raylet on their own event loops.
func (n *Node) startDashboard(opts NodeOptions, g func() *gcs.Server, rep *gcs.Replica, rl *raylet.Raylet) error {
	gcsAddr, rayletAddr := n.gcsLocal, n.rayletAddr
	d, err := dashboard.Start(dashboard.Options{
		Listen: opts.DashboardListen,
		Token:  opts.DashboardToken,
		Logger: opts.Logger,
		Source: dashboard.Source{
			GCS: func(f func(*gcs.Server)) error {
				var err error
				if derr := n.host.Do(gcsAddr, func() {
					if s := g(); s != nil {
						f(s)
					} else {
						err = errNotLeading
					}
				}); derr != nil {
					return derr
				}
				return err
			},
			Raylet:  func(f func(*raylet.Raylet)) error { return n.host.Do(rayletAddr, func() { f(rl) }) },
			Replica: replicaSource(n, gcsAddr, rep),
			Request: n.launcher.request,
			Call:    n.gcsCall,
		},
	})
	if err != nil {
		return err
	}
	n.dashboard = d
	return nil
}

// errNotLeading: the head's GCS replica does not lead, so its dashboard
// cannot read the GCS's tables (the leader's dashboard can).
var errNotLeading = errors.New("this head's GCS replica does not lead the replicated GCS now; open the leader's dashboard (gray status names it)")

// replicaSource is the dashboard's view of the head's GCS replica (nil
// for a single GCS).
func replicaSource(n *Node, addr core.Addr, rep *gcs.Replica) func(f func(*gcs.Replica)) error {
	if rep == nil {
		return nil
	}
	return func(f func(*gcs.Replica)) error { return n.host.Do(addr, func() { f(rep) }) }
}

// gcsCall makes a GCS call with the node's fetcher process's client, on
// that process's loop, and waits for its reply or ctx (dashboard.Source's
// Call).
func (n *Node) gcsCall(ctx context.Context, start func(c *gcs.Client, cb func(gcs.Reply, error))) (gcs.Reply, error) {
	l := n.launcher
	return gcsaddr.CallOn(ctx, n.host, l.fetchAddr, func() *gcs.Client { return l.fetcher.c }, start)
}

// DashboardURL returns the URL of the head's dashboard, or "" when it
// runs none (NodeOptions.DashboardListen).
func (n *Node) DashboardURL() string {
	if n.dashboard == nil {
		return ""
	}
	return n.dashboard.URL()
}
