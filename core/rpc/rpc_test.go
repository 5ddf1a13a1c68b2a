package rpc_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/rpc"
	"github.com/grayrt/gray/sim"
)

type addReq struct{ A, B int }

func (*addReq) MsgType() core.MsgType { return 65100 }

type addResp struct{ Sum int }

func (*addResp) MsgType() core.MsgType { return 65101 }

type failReq struct{}

func (*failReq) MsgType() core.MsgType { return 65102 }

type unknownReq struct{}

func (*unknownReq) MsgType() core.MsgType { return 65103 }

func init() {
	core.RegisterMessage(65100, 1, "test.AddReq", func() core.Message { return new(addReq) })
	core.RegisterMessage(65101, 1, "test.AddResp", func() core.Message { return new(addResp) })
	core.RegisterMessage(65102, 1, "test.FailReq", func() core.Message { return new(failReq) })
	core.RegisterMessage(65103, 1, "test.UnknownReq", func() core.Message { return new(unknownReq) })
}

// adder counts how often each request runs; at-most-once means never twice.
type adder struct {
	srv   *rpc.Server
	execs map[[2]int]int
}

func (a *adder) Start(env core.Env) {
	a.srv = rpc.NewServer(env)
	a.srv.Register(65100, func(_ core.Addr, m core.Message, reply func(core.Message, error)) {
		r := m.(*addReq)
		a.execs[[2]int{r.A, r.B}]++
		// Answer later, so that retries arrive while the call is in flight.
		env.AfterFunc(time.Duration(env.Rand().IntN(30))*time.Millisecond, func() { reply(&addResp{Sum: r.A + r.B}, nil) })
	})
	a.srv.Register(65102, func(_ core.Addr, _ core.Message, reply func(core.Message, error)) {
		reply(nil, rpc.Errorf(rpc.CodeNotFound, "no such thing"))
	})
}

func (a *adder) Receive(from core.Addr, m core.Message) { a.srv.Handle(from, m) }

type caller struct {
	w       *sim.World
	cli     *rpc.Client
	env     core.Env
	calls   int
	pending int
	timeout int
	t       *testing.T
	errs    []error
}

func (c *caller) Start(env core.Env) {
	c.env = env
	c.cli = rpc.NewClient(env)
	for i := range c.calls {
		c.pending++
		c.cli.Call("server", &addReq{A: i, B: 1000}, rpc.Options{Timeout: -1}, func(m core.Message, err error) {
			c.pending--
			if err != nil {
				c.w.Fail("invariant", fmt.Sprintf("call %d: %v", i, err))
				return
			}
			if got := m.(*addResp).Sum; got != i+1000 {
				c.w.Fail("invariant", fmt.Sprintf("call %d: sum %d, want %d", i, got, i+1000))
			}
		})
	}
	c.errs = make([]error, 3)
	c.cli.Call("server", &failReq{}, rpc.Options{}, func(_ core.Message, err error) { c.errs[0] = err })
	c.cli.Call("server", &unknownReq{}, rpc.Options{}, func(_ core.Message, err error) { c.errs[1] = err })
	c.cli.Call("nowhere", &addReq{}, rpc.Options{Timeout: time.Second}, func(_ core.Message, err error) { c.errs[2] = err })
}

func (c *caller) Receive(from core.Addr, m core.Message) { c.cli.Handle(from, m) }

type workload struct {
	server *adder
	caller *caller
}

func (wl *workload) Setup(w *sim.World) error {
	wl.caller.w = w
	w.AddProcess("server", sim.ProcOptions{}, func() core.Process { return wl.server })
	w.AddProcess("client", sim.ProcOptions{}, func() core.Process { return wl.caller })
	return nil
}
func (wl *workload) Done() bool {
	for _, err := range wl.caller.errs {
		if err == nil {
			return false
		}
	}
	return wl.caller.pending == 0
}
func (wl *workload) Pending() string { return fmt.Sprintf("%d calls pending", wl.caller.pending) }
func (wl *workload) Check(*sim.World) (string, string) {
	for k, n := range wl.server.execs { //gray:unordered any violation fails
		if n != 1 {
			return "invariant", fmt.Sprintf("request %v executed %d times", k, n)
		}
	}
	return "", ""
}

// TestCallsExecuteOnceAndAnswerDespiteFaults runs 100 calls per seed over
// a network that drops, duplicates and reorders: every call must be
// answered correctly and every handler must run exactly once.
func TestCallsExecuteOnceAndAnswerDespiteFaults(t *testing.T) {
	for seed := uint64(1); seed <= 30; seed++ {
		wl := &workload{server: &adder{execs: map[[2]int]int{}}, caller: &caller{calls: 100, t: t}}
		r := sim.Run(sim.Config{Seed: seed, FaultSpec: "drop=0.2,dup=0.1,reorder=0.2", FaultPhase: 2 * time.Second}, wl, "rpc")
		if !r.Passed {
			t.Fatal(r)
		}
		if len(wl.server.execs) != 100 {
			t.Fatalf("seed %d: %d distinct requests executed, want 100", seed, len(wl.server.execs))
		}
		errs := wl.caller.errs
		var re *rpc.Error
		if !errors.As(errs[0], &re) || re.Code != rpc.CodeNotFound {
			t.Fatalf("failing handler gave %v, want a NotFound *rpc.Error", errs[0])
		}
		if !errors.As(errs[1], &re) || re.Code != rpc.CodeUnimplemented {
			t.Fatalf("unknown request gave %v, want Unimplemented", errs[1])
		}
		if !errors.Is(errs[2], rpc.ErrTimeout) {
			t.Fatalf("call to nowhere gave %v, want ErrTimeout", errs[2])
		}
	}
}
