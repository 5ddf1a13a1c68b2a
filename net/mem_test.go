package net

import (
	"errors"
	"testing"

	"github.com/grayrt/gray/core"
)

// TestMemPingPong plays ping-pong between two processes on two hosts that
// share one in-memory transport.
func TestMemPingPong(t *testing.T) {
	noLeaks(t)
	mem := NewMem()
	a, b := NewHost(HostOptions{Transport: mem}), NewHost(HostOptions{Transport: mem})
	defer a.Close()
	defer b.Close()
	echo, err := b.Add("echo", echoProc())
	if err != nil {
		t.Fatal(err)
	}
	if echo != "echo" {
		t.Errorf("address of echo = %q, want the plain name", echo)
	}
	const rounds = 100
	done := make(chan error, 1)
	p := &fproc{}
	p.start = func(env core.Env) { env.Send(echo, &ping{Seq: 0, Payload: []byte("x")}) }
	p.receive = func(from core.Addr, m core.Message) {
		pg, ok := m.(*pong)
		switch {
		case !ok || from != echo || string(pg.Payload) != "x":
			done <- errors.New("unexpected answer")
		case pg.Seq+1 == rounds:
			done <- nil
		default:
			p.env.Send(echo, &ping{Seq: pg.Seq + 1, Payload: pg.Payload})
		}
	}
	if _, err := a.Add("pinger", p); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, done, "ping-pong"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Add("echo", &fproc{}); !errors.Is(err, ErrNameTaken) {
		t.Errorf("a second echo on the same network = %v, want ErrNameTaken", err)
	}
	mem.Send("pinger", "nobody", []byte{})
	if st := mem.Stats(); st.Sent != 2*rounds || st.NoProcess != 1 {
		t.Errorf("Stats() = %+v, want Sent %d, NoProcess 1", st, 2*rounds)
	}
}
