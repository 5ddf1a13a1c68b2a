package gcs

import (
	"slices"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/rpc"
)

// session is the dedup state of one client: the replies to its mutations at
// or above its ack floor, and the floor itself. Requests below the floor are
// stale duplicates (the client stopped waiting for them and said so); they
// are dropped unanswered and never applied.
type session struct {
	floor    uint64
	replies  map[uint64]Reply
	lastSeen time.Time // in memory only; a restart renews it
}

func (s *Server) sessionFor(client string, now time.Time) *session {
	se := s.sessions[client]
	if se == nil {
		se = &session{replies: map[uint64]Reply{}, lastSeen: now}
		s.sessions[client] = se
	}
	return se
}

// mutate applies a mutating request at most once per (client, seq): a
// request seen before is answered with the stored reply; a new one is
// applied, recorded and committed in one synced batch, then answered.
func (s *Server) mutate(from core.Addr, req request) {
	h := req.header()
	se := s.sessions[h.Client]
	if se != nil && s.cfg.Bug != BugDoubleApply {
		if h.Seq < se.floor && s.cfg.Bug != BugIgnoreFloor {
			s.log.Debug("gcs: dropping stale request", "client", h.Client, "seq", h.Seq, "floor", se.floor)
			return
		}
		if r, ok := se.replies[h.Seq]; ok {
			s.send(from, &r)
			return
		}
	}
	floor := uint64(0)
	if se != nil {
		floor = se.floor
	}
	// Records are kept only for seqs in [base, base+RepliesPerClientMax):
	// a window, not a count, so that the client's oldest call always gets
	// through while newer ones wait.
	base := max(floor, h.AckBelow)
	if h.Seq >= base+RepliesPerClientMax {
		s.reply(from, h, fail(rpc.CodeUnavailable, "client %s: seq %d is %d past its oldest unacknowledged request (limit %d); finish or abandon older calls first",
			h.Client, h.Seq, h.Seq-base, RepliesPerClientMax))
		return
	}
	var drop []uint64
	if se != nil && base > floor {
		for seq := range se.replies { //gray:unordered collected, then sorted
			if seq < base {
				drop = append(drop, seq)
			}
		}
		slices.Sort(drop)
	}

	t := s.newTxn()
	r := s.apply(t, req)
	r.Client, r.Seq = h.Client, h.Seq
	newFloor := base
	if s.cfg.Bug != BugForgetDedup {
		t.set(dedupKey(h.Client, h.Seq), encode(&r))
		for _, seq := range drop {
			t.del(dedupKey(h.Client, seq))
		}
		if newFloor > floor {
			t.set(floorKey(h.Client), u64(newFloor))
		}
	}
	now := s.env.Now()
	t.then(func() {
		se := s.sessionFor(h.Client, now)
		se.replies[h.Seq] = r
		for _, seq := range drop {
			delete(se.replies, seq)
		}
		se.floor = newFloor
		se.lastSeen = now
	})
	s.commit(t)
	s.send(from, &r)
}

// expireSessions forgets clients that sent no mutation for SessionTTL.
func (s *Server) expireSessions(now time.Time) {
	var expired []string
	for c, se := range s.sessions { //gray:unordered collected, then sorted
		if now.Sub(se.lastSeen) > s.cfg.SessionTTL {
			expired = append(expired, c)
		}
	}
	if len(expired) == 0 {
		return
	}
	slices.Sort(expired)
	t := s.newTxn()
	for _, c := range expired {
		se := s.sessions[c]
		seqs := make([]uint64, 0, len(se.replies))
		for seq := range se.replies { //gray:unordered collected, then sorted
			seqs = append(seqs, seq)
		}
		slices.Sort(seqs)
		for _, seq := range seqs {
			t.del(dedupKey(c, seq))
		}
		t.del(floorKey(c))
		t.then(func() { delete(s.sessions, c) })
	}
	s.commit(t)
	s.log.Info("gcs: expired idle client sessions", "count", len(expired))
}
