package rpc

import (
	"container/heap"
	"fmt"

	"github.com/grayrt/gray/core"
)

// Handler serves one request type. It calls reply exactly once, now or
// later (a lease request may wait in a queue); reply after the server's
// process crashed is harmless. A handler returns definite failures as
// *Error (use Errorf); other errors are sent as CodeFailed. The reply is
// kept and encoded at every send (a retried call gets it again), so it
// must not change afterwards. The request is the handler's: decoded for
// this call, shared with nobody.
type Handler func(from core.Addr, req core.Message, reply func(core.Message, error))

// Server dispatches Requests to handlers and remembers recent replies so
// that a retried call is answered, not executed again.
type Server struct {
	env      core.Env
	codec    *core.Codec
	handlers map[core.MsgType]Handler
	clients  map[clientKey]*clientState
	tick     uint64 // use counter for least-recently-seen client eviction
}

type clientKey struct {
	addr core.Addr
	id   uint64
}

type clientState struct {
	ackBelow uint64
	lastUse  uint64
	inflight map[uint64]bool
	done     map[uint64]*Response
	// doneIDs holds the ids of done as a min-heap: the oldest reply is
	// forgotten first, in O(log n). A client with one call outstanding for
	// long (a queued lease request) holds ackBelow down and keeps done
	// full; a scan of done per reply was an eighth of a deep task tree's
	// time.
	doneIDs idHeap
}

// idHeap is a min-heap of call ids (container/heap).
type idHeap []uint64

func (h idHeap) Len() int           { return len(h) }
func (h idHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h idHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *idHeap) Push(x any)        { *h = append(*h, x.(uint64)) }
func (h *idHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Bounds of the dedup table. A client that keeps more than
// RepliesPerClientMax finished calls unacknowledged loses the oldest (its
// retries of those would run again); more than ClientsMax clients evict the
// least recently seen.
const (
	RepliesPerClientMax = 1024
	ClientsMax          = 10_000
)

// NewServer returns a server with no handlers.
func NewServer(env core.Env) *Server {
	return &Server{env: env, codec: core.NewCodec(0), handlers: map[core.MsgType]Handler{}, clients: map[clientKey]*clientState{}}
}

// Register serves requests of type t with h. It panics on a duplicate
// (a programmer error).
func (s *Server) Register(t core.MsgType, h Handler) {
	if _, dup := s.handlers[t]; dup {
		panic(fmt.Sprintf("rpc: handler for %s registered twice", core.MessageName(t)))
	}
	s.handlers[t] = h
}

// Handle consumes a Request and reports whether m was one.
func (s *Server) Handle(from core.Addr, m core.Message) bool {
	r, ok := m.(*Request)
	if !ok {
		return false
	}
	k := clientKey{from, r.Client}
	cs := s.client(k)
	cs.forgetBelow(r.AckBelow)
	if r.ID < cs.ackBelow {
		return true // the client no longer waits for it
	}
	if resp, ok := cs.done[r.ID]; ok {
		s.env.Send(from, resp)
		return true
	}
	if cs.inflight[r.ID] {
		return true // the reply will come when the handler finishes
	}
	req, err := carried(r.msg, r.bad, r.Body, s.codec)
	if err == nil && req == nil {
		err = fmt.Errorf("the request carries no message")
	}
	if err != nil {
		s.respond(k, r.ID, nil, Errorf(CodeInvalid, "%v", err))
		return true
	}
	h, ok := s.handlers[req.MsgType()]
	if !ok {
		s.respond(k, r.ID, nil, Errorf(CodeUnimplemented, "no handler for %s", core.MessageName(req.MsgType())))
		return true
	}
	cs.inflight[r.ID] = true
	replied := false
	h(from, req, func(reply core.Message, err error) {
		if replied {
			panic(fmt.Sprintf("rpc: handler for %s replied twice", core.MessageName(req.MsgType())))
		}
		replied = true
		s.respond(k, r.ID, reply, err)
	})
	return true
}

func (s *Server) client(k clientKey) *clientState {
	s.tick++
	cs, ok := s.clients[k]
	if !ok {
		if len(s.clients) >= ClientsMax {
			s.evictOldestClient()
		}
		cs = &clientState{inflight: map[uint64]bool{}, done: map[uint64]*Response{}}
		s.clients[k] = cs
	}
	cs.lastUse = s.tick
	return cs
}

func (s *Server) evictOldestClient() {
	var oldest clientKey
	first := true
	var low uint64
	for k, cs := range s.clients { //gray:unordered lastUse values are unique, so the minimum is unique
		if first || cs.lastUse < low {
			oldest, low, first = k, cs.lastUse, false
		}
	}
	delete(s.clients, oldest)
}

func (cs *clientState) forgetBelow(ack uint64) {
	if ack <= cs.ackBelow {
		return
	}
	cs.ackBelow = ack
	for len(cs.doneIDs) > 0 && cs.doneIDs[0] < ack {
		delete(cs.done, heap.Pop(&cs.doneIDs).(uint64))
	}
}

func (s *Server) respond(k clientKey, id uint64, reply core.Message, err error) {
	resp := &Response{Client: k.id, ID: id}
	if err != nil {
		resp.Code, resp.Err = CodeOf(err), err.Error()
		if e, ok := err.(*Error); ok {
			resp.Err = e.Msg
		}
	} else if _, encErr := s.codec.Size(reply); encErr != nil {
		resp.Code, resp.Err = CodeFailed, "server could not encode its reply: "+encErr.Error()
	} else {
		resp.msg = reply
	}
	if cs, ok := s.clients[k]; ok {
		delete(cs.inflight, id)
		if _, dup := cs.done[id]; id >= cs.ackBelow && !dup {
			cs.done[id] = resp
			heap.Push(&cs.doneIDs, id)
			if len(cs.done) > RepliesPerClientMax {
				// Forget the oldest reply.
				delete(cs.done, heap.Pop(&cs.doneIDs).(uint64))
			}
		}
	}
	s.env.Send(k.addr, resp)
}
