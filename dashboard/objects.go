package dashboard

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/grayrt/gray/core/proto"
)

// Objects: every alive node's raylet lists the objects of its plasma
// store (ListObjects), as Ray's state API lists objects. Small objects
// that live inline in their owners' memory are not in any store and are
// not listed.

// ObjectView is one object copy in /api/v0/objects.
type ObjectView struct {
	ID     string `json:"object_id"`
	Node   string `json:"node_id"`
	Size   int64  `json:"object_size"`
	Owner  string `json:"owner_address"`
	Pinned bool   `json:"pinned_primary"`
	Sealed bool   `json:"sealed"`
	// Readers counts Gets of the copy not yet released.
	Readers int `json:"reader_pins"`
}

// handleObjects lists object copies on the alive nodes; filters node (id
// prefix), owner (address substring); limit (default 1000).
func (s *Server) handleObjects(w http.ResponseWriter, r *http.Request) {
	if s.opts.Source.Request == nil {
		writeError(w, http.StatusNotImplemented, errNoRequest)
		return
	}
	q := r.URL.Query()
	limit := 1000
	if l := q.Get("limit"); l != "" {
		v, err := strconv.Atoi(l)
		if err != nil || v <= 0 || v > proto.ListObjectsMax {
			writeError(w, http.StatusBadRequest, fmt.Errorf("limit %q: want 1..%d", l, proto.ListObjectsMax))
			return
		}
		limit = v
	}
	nodes, err := s.aliveNodes(r)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err)
		return
	}
	nodePrefix := strings.TrimPrefix(q.Get("node"), "node:")
	owner := q.Get("owner")
	out := []ObjectView{}
	total := 0
	for _, n := range nodes {
		if !strings.HasPrefix(strings.TrimPrefix(n.ID.String(), "node:"), nodePrefix) {
			continue
		}
		m, err := s.opts.Source.Request(r.Context(), n.Addr, &proto.ListObjects{Limit: proto.ListObjectsMax})
		if err != nil {
			continue // a node that does not answer lists nothing
		}
		for _, o := range m.(*proto.ListObjectsReply).Objects {
			if owner != "" && !strings.Contains(string(o.Owner), owner) {
				continue
			}
			total++
			if len(out) < limit {
				out = append(out, ObjectView{ID: o.ID.String(), Node: n.ID.String(), Size: o.Size, Owner: string(o.Owner),
					Pinned: o.Primary, Sealed: o.Sealed, Readers: o.Readers})
			}
		}
	}
	writeJSON(w, ListResult[ObjectView]{Total: total, Result: out})
}
