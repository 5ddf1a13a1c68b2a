package scenario

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
)

// names gives the random-looking ids of a run the names a scenario uses:
// node ids become their raylet's name (n1), worker ids their process's
// address and incarnation (n1/w1#1), task ids the name the scenario gave
// the task (t1), objects the name of their Put (o1) or their task and
// return index (t1.r0), lease ids L1, L2, … in the order their requests
// were sent. Every text a command prints goes through replace, so the
// components' own descriptions read the same way.
type names struct {
	// alias maps each spelling of an id (String, Short, decimal) to its
	// name.
	alias map[string]string
	// leases maps lease ids to names; taken counts them.
	leases map[uint64]string
	// objects and tasks map ids to names, for messages.
	objects map[core.ObjectID]string
	tasks   map[core.TaskID]string
	nodes   map[core.NodeID]string
	rep     *strings.Replacer
}

func newNames() *names {
	return &names{alias: map[string]string{}, leases: map[uint64]string{}, objects: map[core.ObjectID]string{}, tasks: map[core.TaskID]string{}, nodes: map[core.NodeID]string{}}
}

func (n *names) set(spelling, name string) {
	n.alias[spelling] = name
	n.rep = nil
}

func (n *names) node(id core.NodeID, name string) {
	n.nodes[id] = name
	n.set(id.String(), name)
}

func (n *names) worker(id core.WorkerID, name string) { n.set(id.String(), name) }

func (n *names) task(id core.TaskID, name string) {
	n.tasks[id] = name
	n.set(id.String(), name)
	n.set(id.Short(), name)
}

func (n *names) object(id core.ObjectID, name string) {
	n.objects[id] = name
	n.set(id.String(), name)
	n.set(id.Short(), name)
}

// noteSent names the lease of a lease request when it is first sent.
func (n *names) noteSent(m core.Message) {
	req, ok := m.(*rpc.Request)
	if !ok {
		return
	}
	inner, err := req.Carried()
	if err != nil {
		return
	}
	if rl, ok := inner.(*proto.RequestLease); ok {
		n.lease(rl.LeaseID)
	}
}

// lease returns the name of lease id, naming it if it is new.
func (n *names) lease(id uint64) string {
	if s, ok := n.leases[id]; ok {
		return s
	}
	s := fmt.Sprintf("L%d", len(n.leases)+1)
	n.leases[id] = s
	n.set(strconv.FormatUint(id, 10), s)
	return s
}

// obj names an object: its alias, or its short id.
func (n *names) obj(id core.ObjectID) string {
	if s, ok := n.objects[id]; ok {
		return s
	}
	return id.Short()
}

func (n *names) nodeName(id core.NodeID) string {
	if s, ok := n.nodes[id]; ok {
		return s
	}
	if id.IsNil() {
		return "-"
	}
	return id.String()
}

// replace rewrites every known id spelling in s to its name. Longer
// spellings go first, so that a full id is not cut by its short prefix.
func (n *names) replace(s string) string {
	if n.rep == nil {
		keys := make([]string, 0, len(n.alias))
		for k := range n.alias {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b string) int {
			if c := cmp.Compare(len(b), len(a)); c != 0 {
				return c
			}
			return strings.Compare(a, b)
		})
		pairs := make([]string, 0, 2*len(keys))
		for _, k := range keys {
			pairs = append(pairs, k, n.alias[k])
		}
		n.rep = strings.NewReplacer(pairs...)
	}
	return n.rep.Replace(s)
}
