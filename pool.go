package gray

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/internal/process"
	"github.com/grayrt/gray/net"
)

// pool keeps the worker processes of the nodes on one host: it adds them
// and starts again any that exits (a killed actor's worker fail-stops, a
// worker whose raylet restarted exits), so that every node's pool stays
// full until the host closes.
type pool struct {
	host    *net.Host
	gcsAddr core.Addr
	log     *slog.Logger

	mu      sync.Mutex
	closed  bool
	workers map[core.Addr]poolWorker // by address
}

type poolWorker struct {
	name   string
	raylet core.Addr
}

func newPool(gcsAddr core.Addr, log *slog.Logger) *pool {
	return &pool{gcsAddr: gcsAddr, log: log, workers: map[core.Addr]poolWorker{}}
}

// add starts n workers for the raylet at raylet, named prefix-w1 … wn.
func (p *pool) add(prefix string, raylet core.Addr, n int) error {
	for j := range n {
		name := fmt.Sprintf("%s-w%d", prefix, j+1)
		addr, err := p.host.Add(name, process.NewWorker(process.WorkerConfig{Raylet: raylet, GCS: p.gcsAddr}))
		if err != nil {
			return err
		}
		p.mu.Lock()
		p.workers[addr] = poolWorker{name, raylet}
		p.mu.Unlock()
	}
	return nil
}

// onExit starts a worker that exited again and reports whether addr was
// one of the pool's workers. It is the host's OnExit (or part of it).
func (p *pool) onExit(addr core.Addr, err error) bool {
	p.mu.Lock()
	w, ok := p.workers[addr]
	closed := p.closed
	p.mu.Unlock()
	if !ok {
		return false
	}
	if closed {
		return true
	}
	if _, aerr := p.host.Add(w.name, process.NewWorker(process.WorkerConfig{Raylet: w.raylet, GCS: p.gcsAddr})); aerr != nil && !errors.Is(aerr, net.ErrClosed) {
		p.log.Error("gray: restarting worker", "worker", string(addr), "exit", err, "err", aerr)
	}
	return true
}

// close stops restarting workers; the host's Close stops them.
func (p *pool) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
}
