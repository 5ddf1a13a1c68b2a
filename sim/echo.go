package sim

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/vmihailenco/msgpack/v5"
)

// The echo workload proves the kernel: a crashable echo server and clients
// that send numbered requests, retry with backoff until answered, and check
// that each answer carries exactly the payload they sent. It exercises every
// network fault, crashes and the liveness phase, and it has planted bugs
// that the kernel must catch:
//
//   - "no-retry": clients never resend, so a lost request hangs forever
//     (caught by the liveness phase);
//   - "no-seq-check": clients take any answer as the answer to their
//     current request, so a late or duplicated answer to an earlier request
//     is accepted with the wrong payload (caught by the invariant).

const (
	msgEchoRequest core.MsgType = 100
	msgEchoReply   core.MsgType = 101
)

// EchoRequest asks the echo server to send Payload back.
type EchoRequest struct {
	Seq     uint64
	Payload []byte
}

// MsgType implements core.Message.
func (*EchoRequest) MsgType() core.MsgType { return msgEchoRequest }

// EchoReply answers an EchoRequest with the same Seq and Payload.
type EchoReply struct {
	Seq     uint64
	Payload []byte
}

// MsgType implements core.Message.
func (*EchoReply) MsgType() core.MsgType { return msgEchoReply }

// The echo messages are on the simulator's hot path, so they encode
// themselves instead of going through msgpack's reflection. The encoding is
// ordinary msgpack (an unsigned integer, then bytes).

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m *EchoRequest) EncodeMsgpack(enc *msgpack.Encoder) error {
	return encodeSeqPayload(enc, m.Seq, m.Payload)
}

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *EchoRequest) DecodeMsgpack(dec *msgpack.Decoder) (err error) {
	m.Seq, m.Payload, err = decodeSeqPayload(dec)
	return err
}

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m *EchoReply) EncodeMsgpack(enc *msgpack.Encoder) error {
	return encodeSeqPayload(enc, m.Seq, m.Payload)
}

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *EchoReply) DecodeMsgpack(dec *msgpack.Decoder) (err error) {
	m.Seq, m.Payload, err = decodeSeqPayload(dec)
	return err
}

func encodeSeqPayload(enc *msgpack.Encoder, seq uint64, payload []byte) error {
	if err := enc.EncodeUint(seq); err != nil {
		return err
	}
	return enc.EncodeBytes(payload)
}

func decodeSeqPayload(dec *msgpack.Decoder) (uint64, []byte, error) {
	seq, err := dec.DecodeUint64()
	if err != nil {
		return 0, nil, err
	}
	payload, err := dec.DecodeBytes()
	return seq, payload, err
}

func init() {
	core.RegisterMessage(msgEchoRequest, 1, "echo.Request", func() core.Message { return new(EchoRequest) })
	core.RegisterMessage(msgEchoReply, 1, "echo.Reply", func() core.Message { return new(EchoReply) })
	RegisterWorkload("echo", "echo server with retrying clients; proves the simulator kernel",
		[]string{"no-retry", "no-seq-check"}, newEcho)
}

// echoServer answers every request. It keeps only a counter, which a crash
// loses; the clients must not notice.
type echoServer struct {
	env    core.Env
	served uint64
}

func (s *echoServer) Start(env core.Env) { s.env = env }

func (s *echoServer) Receive(from core.Addr, m core.Message) {
	req, ok := m.(*EchoRequest)
	if !ok {
		return
	}
	s.served++
	s.env.Send(from, &EchoReply{Seq: req.Seq, Payload: req.Payload})
}

// Describe reports the server's state for replay --until.
func (s *echoServer) Describe() string { return fmt.Sprintf("served=%d", s.served) }

type echo struct {
	w       *World
	variant string
	clients []*echoClient
}

func newEcho(opts Options) (Workload, error) {
	if opts.Clients == 0 {
		opts.Clients = 3
	}
	if opts.Clients < 1 || opts.Clients > 1000 {
		return nil, fmt.Errorf("echo: clients = %d, want 1..1000", opts.Clients)
	}
	e := &echo{variant: opts.Variant}
	for i := range opts.Clients {
		e.clients = append(e.clients, &echoClient{e: e, addr: core.Addr(fmt.Sprintf("client-%d", i+1))})
	}
	return e, nil
}

func (e *echo) Setup(w *World) error {
	e.w = w
	w.AddProcess("echo", ProcOptions{Crashable: true}, func() core.Process { return &echoServer{} })
	for _, c := range e.clients {
		w.AddProcess(c.addr, ProcOptions{}, func() core.Process { return c })
	}
	return nil
}

// SometimesPaths implements PathDeclarer: the paths a swarm campaign over
// echo should reach. The server is crashable but has no disk, so disk
// faults and fail-stops do not apply.
func (e *echo) SometimesPaths() []string {
	return []string{
		"echo answered",
		"echo answered after retry",
		"fault: crash",
		"fault: partition",
		"fault: one-way partition",
		"fault: clog",
		"message duplicated",
	}
}

// Size implements Sizer: echo has clients but no nodes knob.
func (e *echo) Size() Options { return Options{Clients: len(e.clients)} }

func (e *echo) Done() bool {
	for _, c := range e.clients {
		if c.pending {
			return false
		}
	}
	return true
}

func (e *echo) Pending() string {
	var parts []string
	for _, c := range e.clients {
		if c.pending {
			parts = append(parts, fmt.Sprintf("%s waits for seq %d (%d attempts)", c.addr, c.seq, c.attempts))
		}
	}
	return strings.Join(parts, "; ")
}

func (e *echo) Check(w *World) (string, string) {
	for _, c := range e.clients {
		if c.completed == 0 {
			return "liveness", fmt.Sprintf("%s completed no request", c.addr)
		}
	}
	return "", ""
}

// echoClient issues one request at a time until the world heals.
type echoClient struct {
	e         *echo
	addr      core.Addr
	env       core.Env
	seq       uint64
	pending   bool
	attempts  int
	timer     core.Timer
	completed int
}

func (c *echoClient) Start(env core.Env) {
	c.env = env
	env.AfterFunc(time.Duration(env.Rand().IntN(1000))*time.Microsecond, c.next)
}

func (c *echoClient) payload(seq uint64) []byte {
	b := make([]byte, 16)
	binary.LittleEndian.PutUint64(b, seq)
	binary.LittleEndian.PutUint64(b[8:], hashString(string(c.addr))^seq*0x9e3779b97f4a7c15)
	return b
}

func (c *echoClient) next() {
	if c.e.w.Healed() {
		return
	}
	c.seq++
	c.pending = true
	c.attempts = 0
	c.send()
}

func (c *echoClient) send() {
	c.attempts++
	c.env.Send("echo", &EchoRequest{Seq: c.seq, Payload: c.payload(c.seq)})
	if c.e.variant == "no-retry" {
		return
	}
	backoff := min(10*time.Millisecond<<min(c.attempts-1, 6), 500*time.Millisecond)
	backoff += time.Duration(c.env.Rand().Int64N(int64(backoff/2) + 1))
	c.timer = c.env.AfterFunc(backoff, c.send)
}

func (c *echoClient) Receive(from core.Addr, m core.Message) {
	r, ok := m.(*EchoReply)
	if !ok || !c.pending {
		return
	}
	if r.Seq != c.seq && c.e.variant != "no-seq-check" {
		return // a late or duplicated answer to an earlier request
	}
	if want := c.payload(c.seq); !bytes.Equal(r.Payload, want) {
		c.e.w.Fail("invariant", fmt.Sprintf("%s: answer to request %d carries payload %x, want %x", c.addr, c.seq, r.Payload, want))
		c.e.attachClients(fmt.Sprintf("%s took answer seq=%d payload=%x from %s as the answer to request %d (payload %x)", c.addr, r.Seq, r.Payload, from, c.seq, want))
		return
	}
	c.pending = false
	c.completed++
	if c.timer != nil {
		c.timer.Stop()
	}
	c.e.w.Sometimes("echo answered")
	if c.attempts > 1 {
		c.e.w.Sometimes("echo answered after retry")
	}
	c.env.AfterFunc(time.Duration(c.env.Rand().IntN(2000))*time.Microsecond, c.next)
}

// attachClients attaches every client's state to the failure report.
func (e *echo) attachClients(what string) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\nclients at %v:\n", what, e.w.Now())
	for _, c := range e.clients {
		fmt.Fprintf(&b, "  %s %s\n", c.addr, c.Describe())
	}
	e.w.Attach("echo-clients.txt", []byte(b.String()))
}

// Describe reports the client's state for replay --until.
func (c *echoClient) Describe() string {
	return fmt.Sprintf("seq=%d pending=%v attempts=%d completed=%d", c.seq, c.pending, c.attempts, c.completed)
}
