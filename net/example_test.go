package net_test

import (
	"fmt"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/gcs"
	"github.com/grayrt/gray/net"
)

// kvUser is a process that embeds a GCS client, as a raylet does.
type kvUser struct {
	gcs core.Addr
	c   *gcs.Client
}

func (p *kvUser) Start(env core.Env) { p.c = gcs.NewClient(env, p.gcs, gcs.ClientOptions{}) }

func (p *kvUser) Receive(from core.Addr, m core.Message) { p.c.Handle(from, m) }

// An embedded cluster: a GCS and a client process on one host with the
// in-memory transport. Code outside the processes hands them work with Do.
func Example() {
	h := net.NewHost(net.HostOptions{}) // in-memory transport and FS
	defer h.Close()

	gcsAddr, err := h.Add("gcs", gcs.NewServer(gcs.Config{}))
	if err != nil {
		panic(err)
	}
	user := &kvUser{gcs: gcsAddr}
	userAddr, err := h.Add("user", user)
	if err != nil {
		panic(err)
	}

	done := make(chan string)
	_ = h.Do(userAddr, func() { // runs on the user process's loop
		user.c.KVPut("demo", "greeting", []byte("hello"), true, func(gcs.Reply, error) {
			user.c.KVGet("demo", "greeting", func(r gcs.Reply, err error) {
				done <- fmt.Sprintf("%s %v", r.Value, err)
			})
		})
	})
	fmt.Println(<-done)
	// Output: hello <nil>
}
