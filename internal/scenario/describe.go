package scenario

import (
	"fmt"
	"strings"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
)

// describe prints a message as a scenario reads it: rpc envelopes as the
// request or reply they carry, with the fields that matter and names for
// ids. Messages it does not know print as their type name.
func (w *World) describe(m core.Message) string {
	n := w.names
	var s string
	switch m := m.(type) {
	case *rpc.Request:
		inner, err := m.Carried()
		if err != nil || inner == nil {
			return "request (undecodable)"
		}
		s = w.describe(inner)
	case *rpc.Response:
		if m.Code != rpc.CodeOK {
			s = fmt.Sprintf("error %v: %s", m.Code, m.Err)
			break
		}
		inner, err := m.Carried()
		if err != nil || inner == nil {
			return "response (undecodable)"
		}
		s = w.describe(inner)
	case *proto.RegisterWorker:
		s = "RegisterWorker " + m.Worker.String()
	case *proto.RegisterWorkerReply:
		s = "RegisterWorkerReply node=" + n.nodeName(m.Node)
	case *proto.RequestLease:
		s = fmt.Sprintf("RequestLease %s %s %s", n.lease(m.LeaseID), describeSpec(n, &m.Spec), m.Spec.Resources)
		if m.Spilled {
			s += " spilled"
		}
	case *proto.LeaseReply:
		s = "LeaseReply " + describeLeaseReply(n, m)
	case *proto.ReturnLease:
		s = "ReturnLease " + n.lease(m.LeaseID)
		if m.Disconnect {
			s += " disconnect"
		}
	case *proto.LeaseFailed:
		s = fmt.Sprintf("LeaseFailed %s: %s", n.lease(m.LeaseID), m.Reason)
	case *proto.LeaseStatus:
		s = "LeaseStatus " + n.lease(m.LeaseID)
	case *proto.LeaseStatusReply:
		s = fmt.Sprintf("LeaseStatusReply granted=%v", m.Granted)
	case *proto.LeaseCheck:
		s = "LeaseCheck " + n.lease(m.LeaseID)
	case *proto.LeaseCheckReply:
		s = fmt.Sprintf("LeaseCheckReply held=%v", m.Held)
	case *proto.PushTask:
		s = fmt.Sprintf("PushTask %s %s", n.lease(m.LeaseID), describeSpec(n, &m.Spec))
	case *proto.PushTaskReply:
		s = "PushTaskReply " + describePushReply(n, m)
	case *proto.CancelTask:
		s = fmt.Sprintf("CancelTask %s attempt %d", n.tasks[m.Task], m.Attempt)
		if m.Force {
			s += " force"
		}
		if m.Recursive {
			s += " recursive"
		}
	case *proto.PutObject:
		s = fmt.Sprintf("PutObject %s (%d bytes)", n.obj(m.ID), len(m.Data))
	case *proto.PutObjectReply:
		s = "PutObjectReply node=" + n.nodeName(m.Node)
	case *proto.GetObject:
		s = "GetObject " + n.obj(m.ID)
	case *proto.GetObjectReply:
		s = fmt.Sprintf("GetObjectReply (%d bytes)", len(m.Data))
	case *proto.GetObjectStatus:
		s = "GetObjectStatus " + n.obj(m.ID)
	case *proto.ObjectStatusReply:
		s = "ObjectStatusReply " + describeStatus(n, m)
	case *proto.PullChunk:
		s = fmt.Sprintf("PullChunk %s [%d, +%d)", n.obj(m.ID), m.Offset, m.Length)
	case *proto.ChunkReply:
		s = fmt.Sprintf("ChunkReply (%d of %d bytes)", len(m.Data), m.Size)
	case *proto.FreeObjects:
		ids := make([]string, len(m.IDs))
		for i, id := range m.IDs {
			ids[i] = n.obj(id)
		}
		s = "FreeObjects " + strings.Join(ids, " ")
	case *proto.OwnsObjects:
		ids := make([]string, len(m.IDs))
		for i, id := range m.IDs {
			ids[i] = n.obj(id)
		}
		s = fmt.Sprintf("OwnsObjects owner=%s [%s]", m.Owner, strings.Join(ids, " "))
	case *proto.OwnsObjectsReply:
		ids := make([]string, len(m.NotOwned))
		for i, id := range m.NotOwned {
			ids[i] = n.obj(id)
		}
		s = fmt.Sprintf("OwnsObjectsReply dead=%v not-owned=[%s]", m.Dead, strings.Join(ids, " "))
	case *proto.NodeDead:
		s = "NodeDead " + n.nodeName(m.Node)
	case *proto.ExitWorker:
		s = "ExitWorker " + m.Worker.String()
	case *proto.Ack:
		s = "Ack"
	default:
		s = core.MessageName(m.MsgType())
	}
	return n.replace(s)
}

func describeSpec(n *names, spec *proto.TaskSpec) string {
	name, ok := n.tasks[spec.TaskID]
	if !ok {
		name = spec.TaskID.Short()
	}
	return fmt.Sprintf("%s attempt %d", name, spec.Attempt)
}

func describeLeaseReply(n *names, m *proto.LeaseReply) string {
	switch {
	case m.Granted:
		return fmt.Sprintf("granted worker %s on %s", m.Worker, n.nodeName(m.Node))
	case m.Spillback:
		if node := n.nodeName(m.SpillNode); node != string(m.SpillRaylet) {
			return fmt.Sprintf("spillback to %s (%s)", m.SpillRaylet, node)
		}
		return fmt.Sprintf("spillback to %s", m.SpillRaylet)
	case m.Infeasible:
		return "infeasible: " + m.Reason
	case m.Cancelled:
		return "cancelled"
	}
	return "(empty)"
}

func describePushReply(n *names, m *proto.PushTaskReply) string {
	if m.Error != nil {
		return "error " + m.Error.Error()
	}
	rets := make([]string, len(m.Returns))
	for i, r := range m.Returns {
		if r.InPlasma {
			rets[i] = fmt.Sprintf("%s in plasma on %s (%d bytes)", n.obj(r.ID), n.nodeName(r.Location.Node), r.Size)
		} else {
			rets[i] = fmt.Sprintf("%s inline (%d bytes)", n.obj(r.ID), len(r.Inline))
		}
	}
	return strings.Join(rets, ", ")
}

func describeStatus(n *names, m *proto.ObjectStatusReply) string {
	switch {
	case m.Error != nil:
		return "error " + m.Error.Error()
	case len(m.Locations) > 0:
		locs := make([]string, len(m.Locations))
		for i, l := range m.Locations {
			locs[i] = n.nodeName(l.Node)
		}
		return fmt.Sprintf("in plasma on %s (%d bytes)", strings.Join(locs, " "), m.Size)
	case m.Inline != nil:
		return fmt.Sprintf("inline (%d bytes)", len(m.Inline))
	}
	return "pending"
}
