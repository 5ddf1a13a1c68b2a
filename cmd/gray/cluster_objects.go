package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/gcs"
)

// objectView is the --json form of an object copy in a node's store.
type objectView struct {
	ID     string `json:"object_id"`
	Node   string `json:"node_id"`
	Size   int64  `json:"object_size"`
	Owner  string `json:"owner_address"`
	Pinned bool   `json:"pinned_primary"`
}

// listObjects lists the objects in every alive node's object store (ask
// each raylet: ListObjects). Small objects live inline with their owners
// and are in no store.
func listObjects(c *cli.Context, cc *clusterConn, _ []string) error {
	r, err := fetch(c.Context, cc, "list nodes", (*gcs.Client).GetNodes)
	if err != nil {
		return err
	}
	var vs []objectView
	for _, n := range r.Nodes {
		if n.State != gcs.NodeAlive {
			continue
		}
		m, err := cc.request(c.Context, n.Addr, &proto.ListObjects{Limit: proto.ListObjectsMax})
		if err != nil {
			fmt.Fprintf(c.App.ErrWriter, "gray list objects: %s: %v\n", n.ID, err)
			continue
		}
		rep := m.(*proto.ListObjectsReply)
		if rep.Total > len(rep.Objects) {
			fmt.Fprintf(c.App.ErrWriter, "gray list objects: %s holds %d objects; showing the first %d\n", n.ID, rep.Total, len(rep.Objects))
		}
		for _, o := range rep.Objects {
			vs = append(vs, objectView{ID: o.ID.String(), Node: fullNodeID(n.ID), Size: o.Size, Owner: string(o.Owner), Pinned: o.Primary})
		}
	}
	if c.Bool("json") {
		if vs == nil {
			vs = []objectView{}
		}
		return writeJSON(c.App.Writer, vs)
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "OBJECT\tNODE\tBYTES\tPINNED\tOWNER")
	for _, v := range vs {
		pinned := "-"
		if v.Pinned {
			pinned = "primary"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", v.ID, v.Node, v.Size, pinned, v.Owner)
	}
	return tw.Flush()
}
