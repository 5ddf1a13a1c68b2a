package gcs

import "github.com/grayrt/gray/core"

// Wire boilerplate: type codes, headers, copies and registration.

// MsgType implements core.Message.
func (*KVGet) MsgType() core.MsgType { return msgKVGet }

// MsgType implements core.Message.
func (*KVPut) MsgType() core.MsgType { return msgKVPut }

// MsgType implements core.Message.
func (*KVDel) MsgType() core.MsgType { return msgKVDel }

// MsgType implements core.Message.
func (*KVCAS) MsgType() core.MsgType { return msgKVCAS }

// MsgType implements core.Message.
func (*KVExists) MsgType() core.MsgType { return msgKVExists }

// MsgType implements core.Message.
func (*KVKeys) MsgType() core.MsgType { return msgKVKeys }

// MsgType implements core.Message.
func (*RegisterNode) MsgType() core.MsgType { return msgRegisterNode }

// MsgType implements core.Message.
func (*Heartbeat) MsgType() core.MsgType { return msgHeartbeat }

// MsgType implements core.Message.
func (*DrainNode) MsgType() core.MsgType { return msgDrainNode }

// MsgType implements core.Message.
func (*GetNodes) MsgType() core.MsgType { return msgGetNodes }

// MsgType implements core.Message.
func (*AddJob) MsgType() core.MsgType { return msgAddJob }

// MsgType implements core.Message.
func (*FinishJob) MsgType() core.MsgType { return msgFinishJob }

// MsgType implements core.Message.
func (*ListJobs) MsgType() core.MsgType { return msgListJobs }

// MsgType implements core.Message.
func (*RegisterActor) MsgType() core.MsgType { return msgRegisterActor }

// MsgType implements core.Message.
func (*UpdateActor) MsgType() core.MsgType { return msgUpdateActor }

// MsgType implements core.Message.
func (*GetActor) MsgType() core.MsgType { return msgGetActor }

// MsgType implements core.Message.
func (*GetNamedActor) MsgType() core.MsgType { return msgGetNamedActor }

// MsgType implements core.Message.
func (*ListActors) MsgType() core.MsgType { return msgListActors }

// MsgType implements core.Message.
func (*KillActor) MsgType() core.MsgType { return msgKillActor }

// MsgType implements core.Message.
func (*AddTaskEvents) MsgType() core.MsgType { return msgAddTaskEvents }

// MsgType implements core.Message.
func (*ListTasks) MsgType() core.MsgType { return msgListTasks }

// MsgType implements core.Message.
func (*Subscribe) MsgType() core.MsgType { return msgSubscribe }

// MsgType implements core.Message.
func (*Poll) MsgType() core.MsgType { return msgPoll }

func (m *KVGet) header() Hdr         { return m.Hdr }
func (m *KVPut) header() Hdr         { return m.Hdr }
func (m *KVDel) header() Hdr         { return m.Hdr }
func (m *KVCAS) header() Hdr         { return m.Hdr }
func (m *KVExists) header() Hdr      { return m.Hdr }
func (m *KVKeys) header() Hdr        { return m.Hdr }
func (m *RegisterNode) header() Hdr  { return m.Hdr }
func (m *Heartbeat) header() Hdr     { return m.Hdr }
func (m *DrainNode) header() Hdr     { return m.Hdr }
func (m *GetNodes) header() Hdr      { return m.Hdr }
func (m *AddJob) header() Hdr        { return m.Hdr }
func (m *FinishJob) header() Hdr     { return m.Hdr }
func (m *ListJobs) header() Hdr      { return m.Hdr }
func (m *RegisterActor) header() Hdr { return m.Hdr }
func (m *UpdateActor) header() Hdr   { return m.Hdr }
func (m *GetActor) header() Hdr      { return m.Hdr }
func (m *GetNamedActor) header() Hdr { return m.Hdr }
func (m *ListActors) header() Hdr    { return m.Hdr }
func (m *KillActor) header() Hdr     { return m.Hdr }
func (m *AddTaskEvents) header() Hdr { return m.Hdr }
func (m *ListTasks) header() Hdr     { return m.Hdr }
func (m *Subscribe) header() Hdr     { return m.Hdr }
func (m *Poll) header() Hdr          { return m.Hdr }

func (m *KVGet) withHeader(h Hdr) request         { c := *m; c.Hdr = h; return &c }
func (m *KVPut) withHeader(h Hdr) request         { c := *m; c.Hdr = h; return &c }
func (m *KVDel) withHeader(h Hdr) request         { c := *m; c.Hdr = h; return &c }
func (m *KVCAS) withHeader(h Hdr) request         { c := *m; c.Hdr = h; return &c }
func (m *KVExists) withHeader(h Hdr) request      { c := *m; c.Hdr = h; return &c }
func (m *KVKeys) withHeader(h Hdr) request        { c := *m; c.Hdr = h; return &c }
func (m *RegisterNode) withHeader(h Hdr) request  { c := *m; c.Hdr = h; return &c }
func (m *Heartbeat) withHeader(h Hdr) request     { c := *m; c.Hdr = h; return &c }
func (m *DrainNode) withHeader(h Hdr) request     { c := *m; c.Hdr = h; return &c }
func (m *GetNodes) withHeader(h Hdr) request      { c := *m; c.Hdr = h; return &c }
func (m *AddJob) withHeader(h Hdr) request        { c := *m; c.Hdr = h; return &c }
func (m *FinishJob) withHeader(h Hdr) request     { c := *m; c.Hdr = h; return &c }
func (m *ListJobs) withHeader(h Hdr) request      { c := *m; c.Hdr = h; return &c }
func (m *RegisterActor) withHeader(h Hdr) request { c := *m; c.Hdr = h; return &c }
func (m *UpdateActor) withHeader(h Hdr) request   { c := *m; c.Hdr = h; return &c }
func (m *GetActor) withHeader(h Hdr) request      { c := *m; c.Hdr = h; return &c }
func (m *GetNamedActor) withHeader(h Hdr) request { c := *m; c.Hdr = h; return &c }
func (m *ListActors) withHeader(h Hdr) request    { c := *m; c.Hdr = h; return &c }
func (m *KillActor) withHeader(h Hdr) request     { c := *m; c.Hdr = h; return &c }
func (m *AddTaskEvents) withHeader(h Hdr) request { c := *m; c.Hdr = h; return &c }
func (m *ListTasks) withHeader(h Hdr) request     { c := *m; c.Hdr = h; return &c }
func (m *Subscribe) withHeader(h Hdr) request     { c := *m; c.Hdr = h; return &c }
func (m *Poll) withHeader(h Hdr) request          { c := *m; c.Hdr = h; return &c }

func init() {
	reg := func(t core.MsgType, name string, f func() core.Message) { core.RegisterMessage(t, 1, "gcs."+name, f) }
	reg(msgKVGet, "KVGet", func() core.Message { return new(KVGet) })
	reg(msgKVPut, "KVPut", func() core.Message { return new(KVPut) })
	reg(msgKVDel, "KVDel", func() core.Message { return new(KVDel) })
	reg(msgKVCAS, "KVCAS", func() core.Message { return new(KVCAS) })
	reg(msgKVExists, "KVExists", func() core.Message { return new(KVExists) })
	reg(msgKVKeys, "KVKeys", func() core.Message { return new(KVKeys) })
	reg(msgRegisterNode, "RegisterNode", func() core.Message { return new(RegisterNode) })
	reg(msgHeartbeat, "Heartbeat", func() core.Message { return new(Heartbeat) })
	reg(msgDrainNode, "DrainNode", func() core.Message { return new(DrainNode) })
	reg(msgGetNodes, "GetNodes", func() core.Message { return new(GetNodes) })
	reg(msgAddJob, "AddJob", func() core.Message { return new(AddJob) })
	reg(msgFinishJob, "FinishJob", func() core.Message { return new(FinishJob) })
	reg(msgListJobs, "ListJobs", func() core.Message { return new(ListJobs) })
	reg(msgRegisterActor, "RegisterActor", func() core.Message { return new(RegisterActor) })
	reg(msgUpdateActor, "UpdateActor", func() core.Message { return new(UpdateActor) })
	reg(msgGetActor, "GetActor", func() core.Message { return new(GetActor) })
	reg(msgGetNamedActor, "GetNamedActor", func() core.Message { return new(GetNamedActor) })
	reg(msgListActors, "ListActors", func() core.Message { return new(ListActors) })
	reg(msgKillActor, "KillActor", func() core.Message { return new(KillActor) })
	reg(msgAddTaskEvents, "AddTaskEvents", func() core.Message { return new(AddTaskEvents) })
	reg(msgListTasks, "ListTasks", func() core.Message { return new(ListTasks) })
	reg(msgSubscribe, "Subscribe", func() core.Message { return new(Subscribe) })
	reg(msgPoll, "Poll", func() core.Message { return new(Poll) })
	reg(msgReply, "Reply", func() core.Message { return new(Reply) })
	reg(msgPollReply, "PollReply", func() core.Message { return new(PollReply) })
}
