package gcs

import (
	"slices"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/rpc"
)

// Server side of pubsub: per-subscriber bounded queues with consecutive
// sequence numbers, long polls, gap reporting. Everything here is memory
// only; a restart changes the epoch and subscribers start over.

type subscriber struct {
	id       string
	channels uint8 // channelBit flags
	// queue holds the unacknowledged messages, consecutive by Seq.
	queue []PubMessage
	// nextSeq is the Seq of the next published message; it starts at 1.
	nextSeq    uint64
	held       *heldPoll
	dirty      bool
	lastActive time.Time
}

// heldPoll is a Poll waiting for messages.
type heldPoll struct {
	from  core.Addr
	seq   uint64
	ack   uint64
	timer core.Timer
}

func (s *Server) subscribe(m *Subscribe) Reply {
	id := m.Hdr.Client
	sub := s.subs[id]
	if sub == nil {
		if len(s.subs) >= SubscribersMax {
			return fail(rpc.CodeUnavailable, "%d subscribers, the limit; retry later", len(s.subs))
		}
		sub = &subscriber{id: id, nextSeq: 1}
		s.subs[id] = sub
		i, _ := slices.BinarySearch(s.subOrder, id)
		s.subOrder = slices.Insert(s.subOrder, i, id)
	}
	sub.channels = 0
	for _, ch := range m.Channels {
		sub.channels |= channelBit(ch)
	}
	sub.lastActive = s.env.Now()
	return Reply{}
}

// publish queues m for every subscriber of its channel. An overflowing
// queue is dropped; the subscriber learns of the gap from the sequence
// numbers at its next poll.
func (s *Server) publish(m PubMessage) {
	bit := channelBit(m.Channel)
	for _, id := range s.subOrder {
		sub := s.subs[id]
		if sub.channels&bit == 0 {
			continue
		}
		m.Seq = sub.nextSeq
		sub.nextSeq++
		if len(sub.queue) >= s.cfg.QueueMax {
			sub.queue = nil
			s.log.Info("gcs: subscriber queue overflowed, dropped", "subscriber", id, "limit", s.cfg.QueueMax)
		}
		sub.queue = append(sub.queue, m)
		if sub.held != nil && !sub.dirty {
			sub.dirty = true
			s.dirty = append(s.dirty, id)
		}
	}
}

func (s *Server) poll(from core.Addr, p *Poll) {
	id := p.Hdr.Client
	sub := s.subs[id]
	if sub == nil {
		s.sendPoll(from, &PollReply{Client: id, Seq: p.Hdr.Seq, Code: rpc.CodeNotFound,
			Err: "no such subscriber (the server restarted or expired it); subscribe again"})
		return
	}
	sub.lastActive = s.env.Now()
	i := 0
	for i < len(sub.queue) && sub.queue[i].Seq <= p.AckSeq {
		i++
	}
	if i > 0 {
		sub.queue = slices.Clone(sub.queue[i:]) // release the acknowledged prefix
	}
	if sub.held != nil {
		sub.held.timer.Stop() // a newer poll replaces it; the client ignores the old one
		sub.held = nil
	}
	head := sub.nextSeq - 1
	gap := p.AckSeq > head || (p.AckSeq < head && (len(sub.queue) == 0 || sub.queue[0].Seq > p.AckSeq+1))
	if gap {
		sub.queue = nil
		s.sendPoll(from, &PollReply{Client: id, Seq: p.Hdr.Seq, Gap: true, Head: head})
		return
	}
	h := &heldPoll{from: from, seq: p.Hdr.Seq, ack: p.AckSeq}
	sub.held = h
	if len(sub.queue) > 0 {
		s.answerPoll(sub)
		return
	}
	h.timer = s.env.AfterFunc(s.cfg.PollTimeout, func() {
		if !s.stopped && s.subs[id] == sub && sub.held == h {
			s.answerPoll(sub)
		}
	})
}

// answerPoll answers the held poll of sub with what is queued (possibly
// nothing), or with a gap if the queue overflowed since the poll arrived.
// The messages stay queued until acknowledged.
func (s *Server) answerPoll(sub *subscriber) {
	h := sub.held
	sub.held = nil
	if h.timer != nil {
		h.timer.Stop()
	}
	if len(sub.queue) > 0 && sub.queue[0].Seq > h.ack+1 {
		sub.queue = nil
		s.sendPoll(h.from, &PollReply{Client: sub.id, Seq: h.seq, Gap: true, Head: sub.nextSeq - 1})
		return
	}
	n := min(len(sub.queue), PollBatchMax)
	var msgs []PubMessage
	if n > 0 {
		msgs = slices.Clone(sub.queue[:n])
	}
	s.sendPoll(h.from, &PollReply{Client: sub.id, Seq: h.seq, Messages: msgs, Head: sub.nextSeq - 1})
}

// flushPolls answers the held polls that got messages during the current
// event, in subscriber order. It runs at the end of every event so that
// the changes of one event travel in one reply.
func (s *Server) flushPolls() {
	if len(s.dirty) == 0 {
		return
	}
	slices.Sort(s.dirty)
	for _, id := range s.dirty {
		sub := s.subs[id]
		if sub == nil || !sub.dirty {
			continue
		}
		sub.dirty = false
		if sub.held != nil {
			s.answerPoll(sub)
		}
	}
	s.dirty = s.dirty[:0]
}

// expireSubscribers forgets subscribers that stopped polling.
func (s *Server) expireSubscribers(now time.Time) {
	ttl := s.cfg.subscriberTTL()
	kept := s.subOrder[:0]
	for _, id := range s.subOrder {
		sub := s.subs[id]
		if sub.held == nil && now.Sub(sub.lastActive) > ttl {
			delete(s.subs, id)
			s.log.Info("gcs: subscriber expired", "subscriber", id)
			continue
		}
		kept = append(kept, id)
	}
	s.subOrder = kept
}
