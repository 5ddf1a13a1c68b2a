package worker

import (
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/gcs"
)

// WatchNodes subscribes g to the GCS's node channel and tells w about every
// node declared dead (once per node), so that w retries or fails what ran
// there and rebuilds lost objects. After a pubsub gap or a GCS restart it
// re-reads the node table. Every process hosting a core worker calls it
// once at start. Each observer sees every node record first (ALIVE ones
// too, and records seen before again after a resync), on the loop; a
// driver uses one to move to another raylet when its own node dies.
func WatchNodes(env core.Env, g *gcs.Client, w *Worker, observers ...func(gcs.NodeInfo)) {
	onNode := func(n gcs.NodeInfo) {
		for _, o := range observers {
			o(n)
		}
		if n.State == gcs.NodeDead {
			w.NodeDied(n.ID, n.Addr) // once per node: it ignores a known death
		}
	}
	var resync func()
	resync = func() {
		g.GetNodes(func(r gcs.Reply, err error) {
			if err != nil {
				env.AfterFunc(time.Second, resync)
				return
			}
			for _, n := range r.Nodes {
				onNode(n)
			}
		})
	}
	if err := g.Subscribe([]string{gcs.ChannelNode}, func(m gcs.PubMessage) {
		if m.Node != nil {
			onNode(*m.Node)
		}
	}, resync); err != nil {
		env.Log().Error("worker: subscribe to node events", "err", err)
	}
}

// KnowsDead reports whether this worker has heard that the GCS declared
// node dead (NodeDied): for checks, on the loop.
func (w *Worker) KnowsDead(node core.NodeID) bool { return w.deadNodes[node] }
