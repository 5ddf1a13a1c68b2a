package gray

import (
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
		},
	})
	if err != nil {
		return err
	}
	n.dashboard = d
	return nil
}

// DashboardURL returns the URL of the head's dashboard, or "" when it
// runs none (NodeOptions.DashboardListen).
func (n *Node) DashboardURL() string {
	if n.dashboard == nil {
		return ""
	}
	return n.dashboard.URL()
}
