package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/grayrt/gray"
)

// The programming model across processes: the driver commands below run
// on real nodes what the embedded tests and the simulator check, each
// answering one line.
//
//	fib N          recursive Fibonacci, one task per call; ok VALUE
//	stream N       a spread generator of N values, read through its Stream; ok SUM PIDS
//	nested N       a task puts N values and returns their Refs in a struct; the driver and a task on another node read them; ok SUM SUM
//	handle         an actor created inside a task, called through its handle by the driver and by a task; ok V1 V2
//	concurrent N   N calls at once to an actor with max concurrency N; ok PEAK (calls seen running together)
//	labels ZONE    tasks with the label selector zone=ZONE; ok the distinct zones they ran in
//	affinity       one task per alive node with a hard affinity to it; ok N (nodes where it ran as asked)
//	groups         two calls at once in an actor's concurrency group "io" (limit 2; the default group runs one at a time); ok PEAK
//	cancelcall     a long actor call and a queued one, both cancelled, then one more call; ok ERR ERR COUNT

// Batch holds Refs inside a value.
type Batch struct{ Parts []gray.Ref[int] }

// Gate is an actor whose calls wait for each other.
type Gate struct {
	mu            sync.Mutex
	running, peak int
}

var (
	fibTask *gray.Func1[int, int]

	countGen = gray.Generator1("app.count", func(ctx context.Context, n int, yield func([2]int) error) error {
		for i := range n {
			if err := yield([2]int{i, os.Getpid()}); err != nil {
				return err
			}
		}
		return nil
	})
	// bigSum sums the bytes of an object, bigMake makes n of them: objects
	// larger than one message (64 MiB) across processes.
	bigSum = gray.Task1("app.bigSum", func(_ context.Context, b []byte) (int64, error) {
		var s int64
		for _, x := range b {
			s += int64(x)
		}
		return s, nil
	})
	bigMake   = gray.Task1("app.bigMake", func(_ context.Context, n int) ([]byte, error) { return bigPattern(n), nil })
	makeBatch = gray.Task1("app.makeBatch", func(ctx context.Context, n int) (Batch, error) {
		var b Batch
		for i := range n {
			b.Parts = append(b.Parts, gray.Put(ctx, i))
		}
		return b, nil
	})
	sumBatch = gray.Task1("app.sumBatch", func(ctx context.Context, b Batch) (int, error) { return batchSum(ctx, b) })

	makeCounter = gray.Task0("app.makeCounter", func(ctx context.Context) (*gray.ActorHandle[Counter], error) {
		return counter.New(ctx)
	})
	addVia = gray.Task2("app.addVia", func(ctx context.Context, c *gray.ActorHandle[Counter], d int) (int, error) {
		return add.Remote(ctx, c, gray.V(d)).Get(ctx)
	})

	sleeper      = gray.Actor("app.Sleeper", func(context.Context) (*Counter, error) { return &Counter{}, nil })
	sleeperBlock = gray.Method0("app.block", func(_ *Counter, ctx context.Context) (int, error) {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(30 * time.Second):
			return 0, errors.New("not cancelled within 30 s")
		}
	})
	sleeperQuick = gray.Method0("app.quick", func(c *Counter, _ context.Context) (int, error) {
		c.n++
		return c.n, nil
	})

	// crashAfter kills its own process (SIGKILL) after pausing ms.
	crashAfter = gray.Method1("app.crashAfter", func(_ *Counter, _ context.Context, ms int) (int, error) {
		time.Sleep(time.Duration(ms) * time.Millisecond)
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	})

	gate     = gray.Actor("app.Gate", func(context.Context) (*Gate, error) { return &Gate{}, nil })
	gateWait = gray.Method1("app.gateWait", func(g *Gate, ctx context.Context, n int) (int, error) {
		g.mu.Lock()
		g.running++
		g.peak = max(g.peak, g.running)
		g.mu.Unlock()
		// Wait (bounded) until n calls run together.
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			g.mu.Lock()
			peak := g.peak
			g.mu.Unlock()
			if peak >= n {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		g.running--
		return g.peak, nil
	})
)

func init() {
	fibTask = gray.Task1("app.fib", func(ctx context.Context, n int) (int, error) {
		if n < 2 {
			return n, nil
		}
		a, b := fibTask.Remote(ctx, gray.V(n-1)), fibTask.Remote(ctx, gray.V(n-2))
		x, err := a.Get(ctx)
		if err != nil {
			return 0, err
		}
		y, err := b.Get(ctx)
		return x + y, err
	})
}

func batchSum(ctx context.Context, b Batch) (int, error) {
	vs, err := gray.GetAll(ctx, b.Parts)
	s := 0
	for _, v := range vs {
		s += v
	}
	return s, err
}

// groupPids waits for g to be created and runs a task in each of its
// bundles: their pids, in bundle order.
func groupPids(ctx context.Context, g *gray.PlacementGroup) (string, bool, error) {
	if ok, err := g.Wait(ctx, time.Minute); err != nil || !ok {
		return "", true, fmt.Errorf("group %s not created within a minute: %v", g.ID, err)
	}
	refs := make([]gray.Ref[int], g.Bundles)
	for i := range refs {
		refs[i] = pidTask.Options(gray.WithPlacementGroup(g, i)).Remote(ctx)
	}
	ps, err := gray.GetAll(ctx, refs)
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = strconv.Itoa(p)
	}
	return strings.Join(out, ","), true, err
}

// modelCommand runs the commands above; ok is false for another command.
func modelCommand(ctx context.Context, f []string) (string, bool, error) {
	switch f[0] {
	case "fib":
		v, err := fibTask.Remote(ctx, gray.V(atoi(f, 1))).Get(ctx)
		return fmt.Sprint(v), true, err
	case "stream":
		s := countGen.Options(gray.WithSpread(), gray.WithBackpressure(4)).Remote(ctx, gray.V(atoi(f, 1)))
		defer s.Close()
		sum, ps := 0, []int{}
		for i := 0; ; i++ {
			r, err := s.Next(ctx)
			if errors.Is(err, io.EOF) {
				if i != atoi(f, 1) {
					return "", true, fmt.Errorf("the stream ended after %d values", i)
				}
				return fmt.Sprintf("%d %s", sum, pids(ps)), true, nil
			}
			if err != nil {
				return "", true, err
			}
			v, err := r.Get(ctx)
			if err != nil {
				return "", true, err
			}
			if v[0] != i {
				return "", true, fmt.Errorf("value %d is %d", i, v[0])
			}
			sum += v[0]
			ps = append(ps, v[1])
		}
	case "nested":
		b, err := makeBatch.Options(gray.WithSpread()).Remote(ctx, gray.V(atoi(f, 1))).Get(ctx)
		if err != nil {
			return "", true, err
		}
		here, err := batchSum(ctx, b)
		if err != nil {
			return "", true, err
		}
		there, err := sumBatch.Options(gray.WithSpread()).Remote(ctx, gray.V(b)).Get(ctx)
		return fmt.Sprintf("%d %d", here, there), true, err
	case "handle":
		c, err := makeCounter.Remote(ctx).Get(ctx)
		if err != nil {
			return "", true, err
		}
		v1, err := add.Remote(ctx, c, gray.V(5)).Get(ctx)
		if err != nil {
			return "", true, err
		}
		v2, err := addVia.Options(gray.WithSpread()).Remote(ctx, gray.V(c), gray.V(2)).Get(ctx)
		return fmt.Sprintf("%d %d", v1, v2), true, err
	case "concurrent":
		n := atoi(f, 1)
		g, err := gate.New(ctx, gray.WithMaxConcurrency(n))
		if err != nil {
			return "", true, err
		}
		refs := make([]gray.Ref[int], n)
		for i := range refs {
			refs[i] = gateWait.Remote(ctx, g, gray.V(n))
		}
		peaks, err := gray.GetAll(ctx, refs)
		return fmt.Sprint(slices.Max(append(peaks, 0))), true, err
	case "labels":
		refs := make([]gray.Ref[gray.RuntimeContext], 10)
		for i := range refs {
			refs[i] = runtimeContext.Options(gray.WithSpread(), gray.WithLabelSelector(map[string]string{"zone": f[1]})).Remote(ctx)
		}
		rcs, err := gray.GetAll(ctx, refs)
		if err != nil {
			return "", true, err
		}
		nodes, err := gray.Nodes(ctx)
		if err != nil {
			return "", true, err
		}
		zone := map[string]string{}
		for _, n := range nodes {
			zone[n.ID] = n.Labels["zone"]
		}
		var zones []string
		for _, rc := range rcs {
			zones = append(zones, zone[rc.NodeID])
		}
		slices.Sort(zones)
		return strings.Join(slices.Compact(zones), ","), true, nil
	case "pgcreate":
		// A STRICT_SPREAD placement group "gang" of N 1-CPU bundles;
		// once created, the pids that ran a task in each bundle.
		one := map[string]float64{"CPU": 1}
		bundles := make([]map[string]float64, atoi(f, 1))
		for i := range bundles {
			bundles[i] = one
		}
		g, err := gray.CreatePlacementGroup(ctx, bundles, gray.WithPlacementStrategy(gray.StrictSpread), gray.WithName("gang"), gray.WithDetached())
		if err != nil {
			return "", true, err
		}
		return groupPids(ctx, g)
	case "pgstate":
		g, err := gray.GetPlacementGroup(ctx, "gang")
		if err != nil {
			return "", true, err
		}
		info, err := gray.PlacementGroupState(ctx, g)
		return info.State, true, err
	case "pgwait":
		g, err := gray.GetPlacementGroup(ctx, "gang")
		if err != nil {
			return "", true, err
		}
		return groupPids(ctx, g)
	case "groups":
		g, err := gate.New(ctx, gray.WithConcurrencyGroups(map[string]int{"io": 2}))
		if err != nil {
			return "", true, err
		}
		refs := []gray.Ref[int]{gateWait.InGroup("io").Remote(ctx, g, gray.V(2)), gateWait.InGroup("io").Remote(ctx, g, gray.V(2))}
		peaks, err := gray.GetAll(ctx, refs)
		return fmt.Sprint(slices.Max(append(peaks, 0))), true, err
	case "cancelcall":
		s, err := sleeper.New(ctx)
		if err != nil {
			return "", true, err
		}
		running := sleeperBlock.Remote(ctx, s)
		queued := sleeperQuick.Remote(ctx, s)
		later := sleeperQuick.Remote(ctx, s)
		var out []string
		for _, r := range []gray.Ref[int]{queued, running} {
			if err := gray.Cancel(ctx, r); err != nil {
				return "", true, err
			}
			_, err := r.Get(ctx)
			switch {
			case errors.Is(err, gray.ErrCancelled):
				out = append(out, "cancelled")
			default:
				out = append(out, fmt.Sprint(err))
			}
		}
		n, err := later.Get(ctx)
		return fmt.Sprintf("%s %d", strings.Join(out, " "), n), true, err
	case "actorcrash":
		// N calls, then one that kills the actor's process after MS ms,
		// then N more: how many of the first N answered with their value,
		// and how many of the last N (run again by the restarted actor,
		// or failed: no retries).
		// The crash takes the node with it (its workers run in the node's
		// process), so the restart finds no node that can host the actor:
		// it waits 10 s for one, then the actor is DEAD and the calls not
		// sent yet fail with ErrActorDied.
		n, ms := atoi(f, 1), atoi(f, 2)
		c, err := counter.New(ctx, gray.WithMaxRestarts(1), gray.WithInfeasibleTimeout(10*time.Second))
		if err != nil {
			return "", true, err
		}
		var before, after []gray.Ref[int]
		for range n {
			before = append(before, add.Remote(ctx, c, gray.V(1)))
		}
		crash := crashAfter.Remote(ctx, c, gray.V(ms))
		for range n {
			after = append(after, add.Remote(ctx, c, gray.V(1)))
		}
		count := func(refs []gray.Ref[int]) (ok, died int, other []string) {
			for _, r := range refs {
				_, err := r.Get(ctx)
				switch {
				case err == nil:
					ok++
				case errors.Is(err, gray.ErrActorDied):
					died++
				default:
					other = append(other, err.Error())
				}
			}
			return
		}
		b, bd, bo := count(before)
		_, cerr := crash.Get(ctx)
		a, ad, ao := count(after)
		if len(bo)+len(ao) > 0 {
			return "", true, fmt.Errorf("unexpected errors: %v %v", bo, ao)
		}
		return fmt.Sprintf("before %d ok %d died; crash %v; after %d ok %d died", b, bd, errors.Is(cerr, gray.ErrActorDied), a, ad), true, nil
	case "big":
		// An object of f[1] MiB put by the driver is summed by a task on
		// each node, which returns one of f[1] MiB to the driver.
		n, err := strconv.Atoi(f[1])
		if err != nil {
			return "", true, err
		}
		n <<= 20
		obj := gray.Put(ctx, bigPattern(n))
		defer obj.Release()
		var want int64
		for _, x := range bigPattern(n) {
			want += int64(x)
		}
		nodes, err := gray.Nodes(ctx)
		if err != nil {
			return "", true, err
		}
		ok := 0
		for _, node := range nodes {
			if !node.Alive || node.Resources["CPU"] == 0 {
				continue
			}
			on := gray.WithNodeAffinity(node.ID, false)
			if s, err := bigSum.Options(on).Remote(ctx, obj).Get(ctx); err != nil || s != want {
				return "", true, fmt.Errorf("node %s summed %d (%v), want %d", node.ID, s, err, want)
			}
			r := bigMake.Options(on).Remote(ctx, gray.V(n))
			b, err := r.Get(ctx)
			r.Release()
			if err != nil || !bytes.Equal(b, bigPattern(n)) {
				return "", true, fmt.Errorf("node %s made %d bytes (%v), want %d of the pattern", node.ID, len(b), err, n)
			}
			ok++
		}
		return fmt.Sprint(ok), true, nil
	case "affinity":
		nodes, err := gray.Nodes(ctx)
		if err != nil {
			return "", true, err
		}
		ok := 0
		for _, n := range nodes {
			if !n.Alive || n.Resources["CPU"] == 0 {
				continue
			}
			rc, err := runtimeContext.Options(gray.WithNodeAffinity(n.ID, false)).Remote(ctx).Get(ctx)
			if err != nil {
				return "", true, err
			}
			if rc.NodeID != n.ID {
				return "", true, fmt.Errorf("affinity to %s ran on %s", n.ID, rc.NodeID)
			}
			ok++
		}
		return fmt.Sprint(ok), true, nil
	}
	return "", false, nil
}

// bigPattern returns n bytes, byte i being i*7 mod 251.
func bigPattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7 % 251)
	}
	return b
}
