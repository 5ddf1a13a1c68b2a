package gray

import (
	"context"

	"github.com/grayrt/gray/dashboard"
	"github.com/grayrt/gray/gcs"
	"github.com/grayrt/gray/raylet"
)

// startDashboard starts the head's dashboard, which reads the GCS and the
// raylet on their own event loops.
func (n *Node) startDashboard(opts NodeOptions, g *gcs.Server, rl *raylet.Raylet) error {
	gcsAddr, rayletAddr := n.gcsAddr, n.rayletAddr
	d, err := dashboard.Start(dashboard.Options{
		Listen: opts.DashboardListen,
		Token:  opts.DashboardToken,
		Logger: opts.Logger,
		Source: dashboard.Source{
			GCS:     func(f func(*gcs.Server)) error { return n.host.Do(gcsAddr, func() { f(g) }) },
			Raylet:  func(f func(*raylet.Raylet)) error { return n.host.Do(rayletAddr, func() { f(rl) }) },
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

// gcsCall makes a GCS call with the node's fetcher process's client, on
// that process's loop, and waits for its reply or ctx (dashboard.Source's
// Call).
func (n *Node) gcsCall(ctx context.Context, start func(c *gcs.Client, cb func(gcs.Reply, error))) (gcs.Reply, error) {
	type result struct {
		r   gcs.Reply
		err error
	}
	done := make(chan result, 1) // buffered: the callback never blocks the loop
	l := n.launcher
	if err := n.host.Do(l.fetchAddr, func() {
		start(l.fetcher.c, func(r gcs.Reply, err error) { done <- result{r, err} })
	}); err != nil {
		return gcs.Reply{}, err
	}
	select {
	case res := <-done:
		return res.r, res.err
	case <-ctx.Done():
		return gcs.Reply{}, ctx.Err()
	}
}

// DashboardURL returns the URL of the head's dashboard, or "" when it
// runs none (NodeOptions.DashboardListen).
func (n *Node) DashboardURL() string {
	if n.dashboard == nil {
		return ""
	}
	return n.dashboard.URL()
}
