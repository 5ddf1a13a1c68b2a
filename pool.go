package gray

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/internal/process"
	"github.com/grayrt/gray/net"
	"github.com/grayrt/gray/raylet"
)

// pool keeps the worker processes of the nodes on one host: it adds them
// and starts again any that exits (a killed actor's worker fail-stops, a
// worker whose raylet restarted exits), so that every node's pool stays
// full until the host closes. It also starts the workers a raylet asks
// for (launch): those are not started again when they exit; their exit
// is reported to the raylet instead.
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
	// exited reports a launched worker's exit (nil for the pool's own).
	exited func(reason string)
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
		p.workers[addr] = poolWorker{name: name, raylet: raylet}
		p.mu.Unlock()
	}
	return nil
}

// launch starts a worker for the raylet at rayletAddr that its launcher
// asked for with token (raylet.Launcher, binary ""), named prefix-Ltoken,
// and tells the raylet, through report (which runs a function on its
// loop), when it exits (WorkerExited) or cannot start (LaunchFailed). It
// does not block on the raylet's loop: call it from Launch.
func (p *pool) launch(prefix string, rayletAddr core.Addr, token string, report func(func(*raylet.Raylet))) {
	exited := func(reason string) { report(func(r *raylet.Raylet) { r.WorkerExited(token, reason) }) }
	go func() {
		name := fmt.Sprintf("%s-L%s", prefix, token)
		// mu is held across Add so that an exit right after the start
		// (onExit waits for mu) finds the worker in the table.
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return
		}
		addr, err := p.host.Add(name, process.NewWorker(process.WorkerConfig{Raylet: rayletAddr, GCS: p.gcsAddr, Launch: token}))
		if err == nil {
			p.workers[addr] = poolWorker{name: name, raylet: rayletAddr, exited: exited}
		}
		p.mu.Unlock()
		if err != nil && !errors.Is(err, net.ErrClosed) {
			report(func(r *raylet.Raylet) { r.LaunchFailed(token, err.Error(), false) })
		}
	}()
}

// onExit starts a worker that exited again and reports whether addr was
// one of the pool's workers. It is the host's OnExit (or part of it).
func (p *pool) onExit(addr core.Addr, err error) bool {
	p.mu.Lock()
	w, ok := p.workers[addr]
	closed := p.closed
	if ok && w.exited != nil {
		delete(p.workers, addr)
	}
	p.mu.Unlock()
	if !ok {
		return false
	}
	if w.exited != nil {
		if !closed {
			reason := "exited"
			if err != nil {
				reason = err.Error()
			}
			w.exited(reason)
		}
		return true
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

// embeddedLauncher is an embedded node's raylet.Launcher: it starts
// workers of this program in this process, from the runtime's pool.
type embeddedLauncher struct {
	pool       *pool
	host       *net.Host
	prefix     string
	raylet     *raylet.Raylet
	rayletAddr core.Addr
}

// Launch implements raylet.Launcher.
func (l *embeddedLauncher) Launch(token, binary string, _ core.JobID) {
	if binary != "" {
		// Embedded drivers stage no binary; refuse rather than hang.
		go l.report(func(r *raylet.Raylet) {
			r.LaunchFailed(token, "an embedded cluster runs only its own program's workers", true)
		})
		return
	}
	l.pool.launch(l.prefix, l.rayletAddr, token, l.report)
}

// report runs f on the raylet's loop.
func (l *embeddedLauncher) report(f func(*raylet.Raylet)) {
	reportTo(l.host, l.rayletAddr, l.raylet, l.pool.log, f)
}

// reportTo runs f on the loop of raylet r at addr on host h: how a
// launcher reports launches and exits.
func reportTo(h *net.Host, addr core.Addr, r *raylet.Raylet, log *slog.Logger, f func(*raylet.Raylet)) {
	if err := h.Do(addr, func() { f(r) }); err != nil && !errors.Is(err, net.ErrClosed) {
		log.Warn("gray: reporting to the raylet", "err", err)
	}
}
