package net

import (
	"fmt"
	"testing"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/gcs"
)

// gcsClient is a process that embeds a GCS client, as a raylet does.
type gcsClient struct {
	env core.Env
	gcs core.Addr
	c   *gcs.Client
}

func (p *gcsClient) Start(env core.Env) {
	p.env = env
	p.c = gcs.NewClient(env, p.gcs, gcs.ClientOptions{})
}

func (p *gcsClient) Receive(from core.Addr, m core.Message) { p.c.Handle(from, m) }

// putGet runs KVPut then KVGet of key through the client process at addr
// and returns the value read.
func putGet(t *testing.T, h *Host, addr core.Addr, p *gcsClient, key, value string) string {
	t.Helper()
	res := make(chan string, 1)
	err := h.Do(addr, func() {
		p.c.KVPut("test", key, []byte(value), true, func(_ gcs.Reply, err error) {
			if err != nil {
				res <- fmt.Sprintf("put: %v", err)
				return
			}
			p.c.KVGet("test", key, func(r gcs.Reply, err error) {
				switch {
				case err != nil:
					res <- fmt.Sprintf("get: %v", err)
				case !r.Found:
					res <- "get: not found"
				default:
					res <- string(r.Value)
				}
			})
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return recv(t, res, "KVPut then KVGet")
}

// TestGCSOverMem runs the real GCS server and a client process on two
// hosts joined by the in-memory transport.
func TestGCSOverMem(t *testing.T) {
	noLeaks(t)
	logger, _ := testLogger(t)
	mem := NewMem()
	server := NewHost(HostOptions{Transport: mem, Logger: logger})
	defer server.Close()
	clients := NewHost(HostOptions{Transport: mem, Logger: logger})
	defer clients.Close()

	gaddr, err := server.Add("gcs", gcs.NewServer(gcs.Config{}))
	if err != nil {
		t.Fatal(err)
	}
	cp := &gcsClient{gcs: gaddr}
	caddr, err := clients.Add("client", cp)
	if err != nil {
		t.Fatal(err)
	}
	if got := putGet(t, clients, caddr, cp, "k", "v"); got != "v" {
		t.Errorf("KVGet = %q, want %q", got, "v")
	}
}
