package gcs

import (
	"fmt"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/rpc"
)

// Client side of pubsub: subscribe, long-poll, detect gaps and restarts.

type subscription struct {
	channels  []string
	onMessage func(PubMessage)
	onResync  func()
	// epoch is the server epoch of the current server-side subscription;
	// 0 while (re)subscribing.
	epoch       uint64
	subscribing bool
	// ack is the Seq of the last message delivered to onMessage.
	ack     uint64
	pollSeq uint64 // seq of the poll in flight, 0 if none
	timer   pollTimer
}

// pollTimer holds the one pending timer of a subscription (poll wait or
// resubscribe backoff).
type pollTimer struct{ t core.Timer }

func (p *pollTimer) stop() {
	if p.t != nil {
		p.t.Stop()
		p.t = nil
	}
}

// Subscribe starts receiving the given channels (ChannelNode, ChannelActor,
// ChannelResources). onMessage gets every message in order. onResync is
// called whenever messages may have been missed: after every (re)subscribe,
// after a queue overflow at the server, and after a server restart; the
// host then re-reads snapshots (GetNodes, ListActors) and keeps, per
// entity, the record with the highest Version. Subscribing again replaces
// the previous subscription. It fails only for invalid channels.
func (c *Client) Subscribe(channels []string, onMessage func(PubMessage), onResync func()) error {
	probe := &Subscribe{Hdr: Hdr{Client: c.id, Seq: 1}, Channels: channels}
	if err := probe.Validate(); err != nil {
		return &rpc.Error{Code: rpc.CodeInvalid, Msg: "subscribe: " + err.Error()}
	}
	if c.closed {
		return fmt.Errorf("gcs: subscribe: %w", ErrClosed)
	}
	c.stopSubscription()
	if onMessage == nil {
		onMessage = func(PubMessage) {}
	}
	if onResync == nil {
		onResync = func() {}
	}
	s := &subscription{channels: append([]string(nil), channels...), onMessage: onMessage, onResync: onResync}
	c.sub = s
	c.resubscribe(s)
	return nil
}

// Unsubscribe stops polling. The server forgets the subscriber after a
// while without polls.
func (c *Client) Unsubscribe() { c.stopSubscription() }

func (c *Client) stopSubscription() {
	if c.sub != nil {
		c.sub.timer.stop()
		c.sub = nil
	}
}

// resubscribe (re)creates the server-side subscription; on success it
// calls onResync and starts polling.
func (c *Client) resubscribe(s *subscription) {
	s.epoch = 0
	s.pollSeq = 0
	s.timer.stop()
	if s.subscribing {
		return // the reply of the call in flight is checked against the epoch
	}
	s.subscribing = true
	c.do(&Subscribe{Channels: s.channels}, func(r Reply, err error) {
		if c.sub != s {
			return
		}
		s.subscribing = false
		if err != nil {
			// Timeout or a refusal: try again after a pause, for as long as
			// the host wants the subscription.
			s.timer.t = c.env.AfterFunc(c.opts.BackoffMax, func() {
				if c.sub == s {
					s.timer.t = nil
					c.resubscribe(s)
				}
			})
			return
		}
		if r.Epoch < c.epoch {
			c.resubscribe(s) // answered by an incarnation that is gone
			return
		}
		s.epoch = r.Epoch
		s.ack = 0
		s.onResync()
		if c.sub == s && s.epoch != 0 {
			c.poll(s)
		}
	})
}

func (c *Client) poll(s *subscription) {
	s.timer.stop()
	// A poll is no call: it takes a seq but is resent with a new one (after
	// PollWait), never retried, and never holds the ack floor back.
	seq, ackBelow := c.rpc.Stamp()
	s.pollSeq = seq
	c.env.Send(c.gcs, &Poll{Hdr: Hdr{Client: c.id, Seq: seq, AckBelow: ackBelow}, AckSeq: s.ack})
	s.timer.t = c.env.AfterFunc(c.opts.PollWait, func() {
		if c.sub == s && s.pollSeq == seq {
			s.timer.t = nil
			if len(c.opts.Replicas) > 0 {
				c.moveTo("") // polls the next replica
				if s.pollSeq != seq {
					return
				}
			}
			c.poll(s) // the poll or its reply was lost
		}
	})
}

func (c *Client) handlePoll(r *PollReply) {
	s := c.sub
	if s == nil || s.epoch == 0 || s.pollSeq == 0 || r.Seq != s.pollSeq {
		return // stale: an older poll, or we are resubscribing
	}
	s.pollSeq = 0
	s.timer.stop()
	switch {
	case r.Code == rpc.CodeNotFound || r.Epoch != s.epoch:
		c.resubscribe(s)
		return
	case r.Code != rpc.CodeOK:
		s.timer.t = c.env.AfterFunc(c.opts.BackoffMax, func() {
			if c.sub == s {
				s.timer.t = nil
				c.poll(s)
			}
		})
		return
	case r.Gap:
		s.ack = r.Head
		s.onResync()
		if c.sub == s {
			c.poll(s)
		}
		return
	}
	for _, m := range r.Messages {
		if m.Seq <= s.ack {
			continue // delivered before
		}
		if m.Seq != s.ack+1 {
			s.ack = r.Head // a hole the server did not flag; resync to be safe
			s.onResync()
			break
		}
		s.ack = m.Seq
		s.onMessage(m)
		if c.sub != s {
			return // the callback unsubscribed or resubscribed
		}
	}
	if c.sub == s && s.epoch != 0 && s.pollSeq == 0 {
		c.poll(s)
	}
}
